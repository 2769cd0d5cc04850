"""YBB's MariaDB schema and a fast, deterministic seeder, for the tests and the benchmark.

`create_schema(url)` creates the tables that the old service's queries read; `seed(url, n)` fills
them with n participants (users, programs, statuses, payments) whose values exercise every filter
and a handful of hostile texts; the same seed always gives the same rows. `create_generic_postgres`
fills a plain PostgreSQL table for the generic-SQL source. URLs are SQLAlchemy URLs of an admin.

The seeder writes LOAD DATA's text format itself (pool strings are escaped once) to temporary
files, CHUNK participants at a time, and a second thread loads each with LOAD DATA LOCAL INFILE,
so that making the next chunk overlaps with the server loading the last one.
"""
from __future__ import annotations

import queue
import random
import tempfile
import threading
from collections.abc import Iterator
from dataclasses import dataclass, fields
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import psycopg
import pymysql
from sqlalchemy.engine import make_url

CHUNK = 20000  # participants per LOAD DATA statement (with their users, statuses, payments)

YBB_SCHEMA = """
CREATE TABLE users (
    id INT UNSIGNED NOT NULL PRIMARY KEY,
    email VARCHAR(255) NOT NULL,
    is_active TINYINT(1) NOT NULL DEFAULT 1,
    is_deleted TINYINT(1) NOT NULL DEFAULT 0
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE programs (
    id INT UNSIGNED NOT NULL PRIMARY KEY,
    name VARCHAR(255) NOT NULL,
    theme VARCHAR(255) NULL,
    start_date DATE NULL,
    end_date DATE NULL,
    program_category_id INT UNSIGNED NULL,
    is_active TINYINT(1) NOT NULL DEFAULT 1,
    is_deleted TINYINT(1) NOT NULL DEFAULT 0
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE participants (
    id INT UNSIGNED NOT NULL PRIMARY KEY,
    user_id INT UNSIGNED NULL,
    account_id VARCHAR(64) NULL,
    full_name VARCHAR(255) NOT NULL,
    birthdate DATE NULL,
    gender VARCHAR(16) NULL,
    nationality VARCHAR(100) NULL,
    nationality_code VARCHAR(8) NULL,
    nationality_flag VARCHAR(16) NULL,
    phone_number VARCHAR(32) NULL,
    country_code VARCHAR(8) NULL,
    phone_flag VARCHAR(16) NULL,
    origin_address VARCHAR(500) NULL,
    current_address VARCHAR(500) NULL,
    institution VARCHAR(255) NULL,
    major VARCHAR(255) NULL,
    occupation VARCHAR(100) NULL,
    education_level VARCHAR(50) NULL,
    organizations VARCHAR(500) NULL,
    picture_url VARCHAR(500) NULL,
    instagram_account VARCHAR(100) NULL,
    emergency_account VARCHAR(255) NULL,
    emergency_country_code VARCHAR(8) NULL,
    emergency_phone_flag VARCHAR(16) NULL,
    contact_relation VARCHAR(50) NULL,
    disease_history VARCHAR(500) NULL,
    tshirt_size VARCHAR(8) NULL,
    category VARCHAR(32) NULL,
    experiences TEXT NULL,
    achievements TEXT NULL,
    resume_url VARCHAR(500) NULL,
    knowledge_source VARCHAR(100) NULL,
    source_account_name VARCHAR(255) NULL,
    twibbon_link VARCHAR(500) NULL,
    requirement_link VARCHAR(500) NULL,
    ref_code_ambassador VARCHAR(32) NULL,
    program_id INT UNSIGNED NOT NULL,
    score_status VARCHAR(32) NULL,
    score_total DECIMAL(5,2) NULL,
    is_active TINYINT NOT NULL DEFAULT 1,
    is_deleted TINYINT NOT NULL DEFAULT 0,
    created_at DATETIME NOT NULL,
    updated_at DATETIME NULL,
    KEY participants_program_id (program_id),
    KEY participants_created_at (created_at),
    CONSTRAINT participants_program FOREIGN KEY (program_id) REFERENCES programs (id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE participant_statuses (
    id INT UNSIGNED NOT NULL PRIMARY KEY,
    participant_id INT UNSIGNED NOT NULL,
    form_status TINYINT NULL,
    general_status INT NULL,
    document_status TINYINT NULL,
    payment_status TINYINT NULL,
    is_active TINYINT(1) NOT NULL DEFAULT 1,
    is_deleted TINYINT(1) NOT NULL DEFAULT 0,
    created_at DATETIME NOT NULL,
    updated_at DATETIME NULL,
    KEY participant_statuses_participant_id (participant_id),
    CONSTRAINT participant_statuses_participant FOREIGN KEY (participant_id) REFERENCES participants (id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE payment_methods (
    id INT UNSIGNED NOT NULL PRIMARY KEY,
    name VARCHAR(100) NOT NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE program_payments (
    id INT UNSIGNED NOT NULL PRIMARY KEY,
    name VARCHAR(255) NOT NULL,
    category VARCHAR(50) NULL,
    type VARCHAR(50) NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE payments (
    id INT UNSIGNED NOT NULL PRIMARY KEY,
    transaction_code VARCHAR(64) NULL,
    order_id VARCHAR(64) NULL,
    participant_id INT UNSIGNED NOT NULL,
    program_payment_id INT UNSIGNED NULL,
    payment_method_id INT UNSIGNED NULL,
    amount DECIMAL(15,2) NOT NULL,
    usd_amount DECIMAL(15,2) NULL,
    currency CHAR(3) NOT NULL,
    status TINYINT NOT NULL,
    payment_date DATETIME NULL,
    payment_url VARCHAR(500) NULL,
    proof_url VARCHAR(500) NULL,
    account_name VARCHAR(255) NULL,
    source_name VARCHAR(255) NULL,
    notes TEXT NULL,
    rejection_reason VARCHAR(500) NULL,
    is_active TINYINT(1) NOT NULL DEFAULT 1,
    is_deleted TINYINT(1) NOT NULL DEFAULT 0,
    created_at DATETIME NOT NULL,
    updated_at DATETIME NULL,
    KEY payments_participant_id (participant_id),
    CONSTRAINT payments_participant FOREIGN KEY (participant_id) REFERENCES participants (id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;
"""

TABLES = ["payments", "participant_statuses", "participants", "program_payments", "payment_methods", "programs",
          "users"]  # children first


@dataclass(frozen=True)
class SeedSummary:
    """How many rows `seed` wrote to each table."""

    users: int
    programs: int
    participants: int
    participant_statuses: int
    payment_methods: int
    program_payments: int
    payments: int

    def as_dict(self) -> dict[str, int]:
        return {field.name: getattr(self, field.name) for field in fields(self)}


# -- fixed data ------------------------------------------------------------------------------------

PROGRAMS = [  # id, name, theme, start, end, category, is_active
    (101, "Istanbul Youth Summit 2024", "Peace and Diplomacy", "2024-08-01", "2024-08-05", 1, 1),
    (102, "Japan Youth Summit 2025", "Technology for Humanity", "2025-03-10", "2025-03-14", 1, 1),
    (103, "Korea Global Leadership 2025", "Leadership", "2025-09-01", "2025-09-04", 2, 1),
    (104, "Kuala Lumpur Youth Forum 2026", "Climate Action", "2026-02-15", "2026-02-18", 2, 1),
    (105, "Dubai Innovation Camp 2023", "Innovation", "2023-11-01", "2023-11-03", 3, 0),
]
PROGRAM_WEIGHTS = [25, 30, 20, 20, 5]
PAYMENT_METHODS = [(1, "Bank Transfer"), (2, "PayPal"), (3, "Credit Card")]
PROGRAM_PAYMENTS = [(1, "Registration Fee", "registration", "fixed"), (2, "Program Fee", "program", "installment"),
                    (3, "Self-Funded Payment", "self_funded", "full")]
COUNTRIES = [  # nationality, code, flag, phone prefix, weight
    ("Indonesia", "ID", "🇮🇩", "+62", 40), ("Malaysia", "MY", "🇲🇾", "+60", 8), ("Singapore", "SG", "🇸🇬", "+65", 4),
    ("Philippines", "PH", "🇵🇭", "+63", 6), ("Thailand", "TH", "🇹🇭", "+66", 5), ("Vietnam", "VN", "🇻🇳", "+84", 5),
    ("India", "IN", "🇮🇳", "+91", 8), ("Nigeria", "NG", "🇳🇬", "+234", 7), ("Egypt", "EG", "🇪🇬", "+20", 5),
    ("Turkey", "TR", "🇹🇷", "+90", 5), ("Pakistan", "PK", "🇵🇰", "+92", 4), ("United States", "US", "🇺🇸", "+1", 3),
]
FIRST = ["Ahmad", "Siti", "Budi", "Dewi", "Rizky", "Putri", "Muhammad", "Aisyah", "John", "Maria", "Chen", "Nguyen",
         "Fatima", "Ali", "Priya", "Oluwaseun", "Mehmet", "Sara", "José", "Zoë", "Seán", "Łukasz"]
LAST = ["Santoso", "Wijaya", "Pratama", "Rahman", "Hidayat", "Smith", "Garcia", "Tan", "Lim", "Kumar", "Okafor",
        "Yılmaz", "Hassan", "O'Connor", "Müller", "Nakamura"]
INSTITUTIONS = ["Universitas Indonesia", "Institut Teknologi Bandung", "Universitas Gadjah Mada",
                "University of Malaya", "National University of Singapore", "University of the Philippines",
                "Chulalongkorn University", "Cairo University", "Istanbul University", "University of Lagos",
                "IIT Delhi", "SMA Negeri 1 Jakarta"]
MAJORS = ["Computer Science", "International Relations", "Medicine", "Economics", "Law", "Civil Engineering",
          "Psychology", "Biology", "Accounting", "Architecture"]
OCCUPATIONS = ["student", "employee", "entrepreneur", "teacher", "unemployed", "freelancer"]
EDUCATION = ["high_school", "diploma", "bachelor", "master", "doctorate"]
CITIES = ["Jakarta", "Bandung", "Surabaya", "Yogyakarta", "Medan", "Kuala Lumpur", "Manila", "Bangkok", "Cairo",
          "Lagos", "Istanbul", "Karachi", "New York"]
ORGANIZATIONS = ["Student Council", "Debate Club", "Red Cross Youth", "AIESEC", "Scouts", "Model United Nations"]
RELATIONS = ["parent", "sibling", "spouse", "friend", "guardian"]
DISEASES = ["asthma", "diabetes", "allergy to peanuts", "none"]
TSHIRTS = ["S", "M", "L", "XL", "XXL"]
SOURCES = ["instagram", "tiktok", "friend", "ambassador", "website", "twitter"]
EXPERIENCES = ["Volunteer teacher in rural schools", "Organised a regional hackathon", "Intern at a local NGO",
               "Delegate at a national MUN"]
ACHIEVEMENTS = ["1st place national debate", "Best delegate, Asia MUN", "Published a paper on renewable energy",
                "Gold medal, science olympiad"]
BANKS = ["BCA", "Mandiri", "BNI", "PayPal", "Visa", "Maybank"]
NOTES = ["paid in two transfers", "receipt blurry, re-uploaded", "refund requested", "paid by parent"]
REJECTIONS = ["proof of payment unreadable", "amount does not match", "duplicate transfer"]
SCORE_STATUSES = ["go_to_interview", "rejected", "no_score", None]
CURRENCIES = [("IDR", 0.000062), ("USD", 1.0), ("EUR", 1.08)]

LONG_TEXT = ("Lorem ipsum dolor sit amet; " * 200)[:5000]
HOSTILE_NAMES = ['=HYPERLINK("http://evil.example/","click me")', "+1 Plus Leading", "@x At Leading",
                 "Tab\tInside Name", "Control\x01Char", "Emoji 😀🎉 Participant", "مريم العربية", "\u202eRTL override",
                 "100% _Under_ O'Brien \\ Backslash"]
HOSTILE_INSTITUTIONS = ["=1+2", "@SUM(A1)", "-2+3", "Institut d'Études 50% _x_", "Back\\slash\x01Univ", "جامعة القاهرة"]
HOSTILE_NOTES = ['=HYPERLINK("http://evil.example/")', LONG_TEXT, "+cmd|' /C calc'!A0", "Line one\nline two\ttabbed",
                 "Control \x01 char", "Emoji 💸 and RTL עברית"]
HOSTILE_STEP = 7  # participants 1, 8, 15, ... (and payments with the same ids) carry the hostile texts

START = datetime(2024, 1, 1)
SPAN_SECONDS = int((datetime(2026, 6, 30, 23, 59, 59) - START).total_seconds())


_TSV_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r", "\0": "\\0"})
NULL = "\\N"


def _t(value: str | None) -> str:
    """A field of LOAD DATA's default text format (tab-separated, backslash escapes, \\N for NULL)."""
    return NULL if value is None else value.translate(_TSV_ESCAPES)


def _escaped(values: list[Any]) -> list[str]:
    return [_t(value) for value in values]


DAYS = [(START + timedelta(days=day)).strftime("%Y-%m-%d") for day in range(SPAN_SECONDS // 86400 + 400)]
TIMES = [f"{sec // 3600:02}:{sec // 60 % 60:02}:{sec % 60:02}" for sec in range(86400)]
BIRTHDATES = [(date(1994, 1, 1) + timedelta(days=day)).isoformat() for day in range(5400)]


def _when(offset: int) -> str:
    """The DATETIME `offset` seconds after 2024-01-01 00:00:00."""
    day, sec = divmod(offset, 86400)
    return f"{DAYS[day]} {TIMES[sec]}"


# -- the seeder ------------------------------------------------------------------------------------------

def _weighted(pairs: list[tuple[Any, int]]) -> list[Any]:
    """A list where each value appears `weight` times, to draw weighted values with one random()."""
    return [value for value, weight in pairs for _ in range(weight)]


class _Rows:
    """Makes the rows, CHUNK participants at a time, from one random.Random(seed).

    Every value is drawn as `pool[int(random() * len(pool))]` from pools of ready (escaped) fields:
    several times faster than Random.choice and Random.choices, and as deterministic.
    """

    def __init__(self, participants: int, seed: int) -> None:
        self.participants = participants
        self.random = random.Random(seed).random
        self.users = self.statuses = self.payments = 0
        self.countries = _weighted([(tuple(_escaped(list(c[:4]))), c[4]) for c in COUNTRIES])
        self.programs = _weighted([(str(p[0]), weight) for p, weight in zip(PROGRAMS, PROGRAM_WEIGHTS, strict=True)])
        self.names = [_t(f"{first} {last}") for first in FIRST for last in LAST]
        self.contacts = [_t(f"{first} {last}") for first in FIRST[:8] for last in LAST[:8]]
        self.addresses = [_t(f"Jl. {street} No. {number}, {city}") for street in ("Merdeka", "Sudirman", "Diponegoro")
                          for number in (1, 12, 45) for city in CITIES]
        self.pools = {name: _escaped(pool) for name, pool in [
            ("institution", INSTITUTIONS), ("major", MAJORS), ("occupation", OCCUPATIONS), ("education", EDUCATION),
            ("organizations", ORGANIZATIONS), ("relation", RELATIONS), ("disease", DISEASES), ("tshirt", TSHIRTS),
            ("source", SOURCES), ("experiences", EXPERIENCES), ("achievements", ACHIEVEMENTS), ("bank", BANKS),
            ("notes", NOTES), ("rejection", REJECTIONS), ("score", SCORE_STATUSES)]}
        self.pay_status = _weighted([(0, 1), (1, 1), (2, 5), (3, 1), (4, 2)])  # half of them 2 (paid)

    def pick(self, pool: list[Any]) -> Any:
        return pool[int(self.random() * len(pool))]

    def below(self, n: int) -> int:
        return int(self.random() * n)

    def maybe(self, chance: float, pool: list[str]) -> str:
        """A value from `pool` with probability `chance`, else NULL."""
        return pool[int(self.random() * len(pool))] if self.random() < chance else NULL

    def chunks(self) -> Iterator[tuple[str, str]]:
        """(table, rows in LOAD DATA's text format) for users, participants, statuses and payments,
        CHUNK participants at a time."""
        for first in range(1, self.participants + 1, CHUNK):
            tables: dict[str, list[str]] = {"users": [], "participants": [], "participant_statuses": [],
                                            "payments": []}
            for pid in range(first, min(first + CHUNK, self.participants + 1)):
                self._participant(pid, tables)
            for table, rows in tables.items():
                if rows:
                    yield table, "\n".join(rows) + "\n"

    def _participant(self, pid: int, tables: dict[str, list[str]]) -> None:
        random_, pick, maybe, pools = self.random, self.pick, self.maybe, self.pools
        user_id = NULL
        if random_() < 0.95:  # the others have no user
            self.users += 1
            user_id = str(self.users)
            tables["users"].append(f"{user_id}\tuser{user_id}@example.org\t{int(random_() >= 0.05)}\t"
                                   f"{int(random_() < 0.01)}")
        hostile = (pid - 1) // HOSTILE_STEP if (pid - 1) % HOSTILE_STEP == 0 else -1
        name = _t(HOSTILE_NAMES[hostile]) if 0 <= hostile < len(HOSTILE_NAMES) else pick(self.names)
        institution = (_t(HOSTILE_INSTITUTIONS[hostile]) if 0 <= hostile < len(HOSTILE_INSTITUTIONS)
                       else pick(pools["institution"]))
        experiences = _t(LONG_TEXT) if hostile == 1 else maybe(0.6, pools["experiences"])
        nationality, code, flag, prefix = pick(self.countries)
        created = self.below(SPAN_SECONDS)
        updated = created + self.below(30 * 86400)
        score = pick(pools["score"])
        score_total = NULL if score == NULL else f"{self.below(10001) / 100:.2f}"
        referral = f"AMB{1 + self.below(499):04d}" if random_() < 0.3 else NULL
        resume = f"https://cdn.example.org/resumes/{pid}.pdf" if random_() < 0.7 else NULL
        tables["participants"].append(
            f"{pid}\t{user_id}\tYBB-{pid:07d}\t{name}\t{pick(BIRTHDATES)}\t"
            f"{'male' if random_() < 0.48 else 'female'}\t{nationality}\t{code}\t{flag}\t"
            f"8{10**9 + self.below(9 * 10**9)}\t{prefix}\t{flag}\t{pick(self.addresses)}\t{pick(self.addresses)}\t"
            f"{institution}\t{pick(pools['major'])}\t{pick(pools['occupation'])}\t{pick(pools['education'])}\t"
            f"{maybe(0.5, pools['organizations'])}\thttps://cdn.example.org/pictures/{pid}.jpg\t@user{pid}\t"
            f"{pick(self.contacts)}\t{prefix}\t{flag}\t{pick(pools['relation'])}\t{maybe(0.2, pools['disease'])}\t"
            f"{pick(pools['tshirt'])}\t{'fully_funded' if random_() < 0.4 else 'self_funded'}\t{experiences}\t"
            f"{maybe(0.4, pools['achievements'])}\t{resume}\t{pick(pools['source'])}\t{maybe(0.2, self.contacts)}\t"
            f"https://twb.example.org/{pid}\thttps://drive.example.org/req/{pid}\t{referral}\t"
            f"{pick(self.programs)}\t{score}\t{score_total}\t{int(random_() >= 0.03)}\t{int(random_() < 0.02)}\t"
            f"{_when(created)}\t{_when(updated)}")
        if random_() < 0.9:  # ~10% have no status row, ~3% of the others an inactive extra one
            for active in (1, 0) if random_() < 0.03 else (1,):
                self.statuses += 1
                form = self.below(3) if random_() < 0.99 else NULL
                general = self.below(4) if random_() < 0.99 else NULL
                tables["participant_statuses"].append(
                    f"{self.statuses}\t{pid}\t{form}\t{general}\t{self.below(3)}\t{self.below(3)}\t{active}\t0\t"
                    f"{_when(created)}\t{_when(updated)}")
        if random_() < 0.6:
            for _ in range(1 + self.below(3)):
                self.payments += 1
                tables["payments"].append(self._payment(self.payments, pid, created))

    def _payment(self, pay_id: int, pid: int, created: int) -> str:
        random_, pools = self.random, self.pools
        cents = 1000 + self.below(49001)
        currency, rate = self.pick(CURRENCIES)
        status = self.pick(self.pay_status)
        paid = _when(min(created + self.below(60 * 86400), SPAN_SECONDS))
        hostile = (pay_id - 1) // HOSTILE_STEP if (pay_id - 1) % HOSTILE_STEP == 0 else -1
        notes = _t(HOSTILE_NOTES[hostile]) if 0 <= hostile < len(HOSTILE_NOTES) else self.maybe(0.2, pools["notes"])
        proof = f"https://cdn.example.org/proofs/{pay_id}.jpg" if random_() < 0.8 else NULL
        rejection = self.pick(pools["rejection"]) if status == 3 else NULL
        return (f"{pay_id}\tTRX{pay_id:09d}\tORD-{pid}-{pay_id}\t{pid}\t{1 + self.below(3)}\t{1 + self.below(3)}\t"
                f"{cents // 100}.{cents % 100:02}\t{round(cents * rate) / 100:.2f}\t{currency}\t{status}\t{paid}\t"
                f"https://pay.example.org/{pay_id}\t{proof}\t{self.pick(self.contacts)}\t{self.pick(pools['bank'])}\t"
                f"{notes}\t{rejection}\t{int(random_() >= 0.05)}\t{int(random_() < 0.02)}\t{paid}\t{paid}")


def connect_mariadb(url: str, **kwargs: Any) -> pymysql.connections.Connection:
    """A PyMySQL connection from a `mysql+pymysql://` SQLAlchemy URL."""
    parsed = make_url(url)
    return pymysql.connect(host=parsed.host or "127.0.0.1", port=parsed.port or 3306, user=parsed.username,
                           password=parsed.password or "", database=parsed.database, charset="utf8mb4", **kwargs)


def connect_postgres(url: str, **kwargs: Any) -> psycopg.Connection[Any]:
    """A psycopg connection from a `postgresql+psycopg://` SQLAlchemy URL."""
    parsed = make_url(url)
    return psycopg.connect(host=parsed.host or "127.0.0.1", port=parsed.port or 5432, user=parsed.username,
                           password=parsed.password or "", dbname=parsed.database, **kwargs)


def create_schema(url: str) -> None:
    """Create YBB's tables (YBB_SCHEMA) in the database of `url`, dropping any that exist."""
    with connect_mariadb(url, autocommit=True) as conn, conn.cursor() as cur:
        cur.execute("SET foreign_key_checks = 0")
        for table in TABLES:
            cur.execute(f"DROP TABLE IF EXISTS {table}")
        for statement in YBB_SCHEMA.split(";"):
            if statement.strip():
                cur.execute(statement)


class _Loader(threading.Thread):
    """Loads the files it is given, in order, with LOAD DATA LOCAL INFILE on a connection of its own."""

    def __init__(self, url: str) -> None:
        super().__init__(name="ybb-seed-loader", daemon=True)
        self.url = url
        self.files: queue.Queue[tuple[str, Path] | None] = queue.Queue(maxsize=3)
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            with connect_mariadb(self.url, autocommit=False, local_infile=True) as conn, conn.cursor() as cur:
                cur.execute("SET unique_checks = 0, foreign_key_checks = 0")
                while (item := self.files.get()) is not None:
                    table, path = item
                    cur.execute(f"LOAD DATA LOCAL INFILE %s INTO TABLE {table} CHARACTER SET utf8mb4", (str(path),))
                    conn.commit()
                    path.unlink()
        except BaseException as exc:
            self.error = exc
            while self.files.get() is not None:  # let the producer finish
                pass


def seed(url: str, participants: int, seed: int = 7) -> SeedSummary:
    """Empty YBB's tables and fill them with `participants` participants and what goes with them.

    The same `participants` and `seed` always give the same rows. Two loader threads (participants;
    the other tables) keep the server busy while this thread makes the next chunk. Needs local_infile
    on the server (MariaDB's default; tests/databases.py turns it on).
    """
    with connect_mariadb(url, autocommit=True) as conn, conn.cursor() as cur:
        cur.execute("SET foreign_key_checks = 0")
        for table in TABLES:
            cur.execute(f"TRUNCATE TABLE {table}")
        cur.executemany("INSERT INTO programs VALUES (%s, %s, %s, %s, %s, %s, %s, 0)", PROGRAMS)
        cur.executemany("INSERT INTO payment_methods VALUES (%s, %s)", PAYMENT_METHODS)
        cur.executemany("INSERT INTO program_payments VALUES (%s, %s, %s, %s)", PROGRAM_PAYMENTS)
    rows = _Rows(participants, seed)
    loaders = [_Loader(url), _Loader(url)]
    with tempfile.TemporaryDirectory(prefix="ybb-seed-") as directory:
        for loader in loaders:
            loader.start()
        try:
            for number, (table, text) in enumerate(rows.chunks()):
                if any(loader.error for loader in loaders):
                    break
                path = Path(directory, f"{number}-{table}.tsv")
                path.write_text(text, encoding="utf-8")
                loaders[table != "participants"].files.put((table, path))
        finally:
            for loader in loaders:
                loader.files.put(None)
            for loader in loaders:
                loader.join()
    for loader in loaders:
        if loader.error is not None:
            raise loader.error
    return SeedSummary(users=rows.users, programs=len(PROGRAMS), participants=participants,
                       participant_statuses=rows.statuses, payment_methods=len(PAYMENT_METHODS),
                       program_payments=len(PROGRAM_PAYMENTS), payments=rows.payments)


def create_generic_postgres(url: str, rows: int, seed: int = 7) -> int:
    """(Re)create and fill the plain PostgreSQL table `ambassadors` with `rows` deterministic rows
    (through COPY), for the generic-SQL source. Returns the number of rows."""
    rng = random.Random(seed)
    start = datetime(2024, 1, 1, tzinfo=UTC)
    with connect_postgres(url) as conn:
        conn.execute("DROP TABLE IF EXISTS ambassadors")
        conn.execute("CREATE TABLE ambassadors (id BIGINT PRIMARY KEY, name TEXT, email TEXT, institution TEXT, "
                     "referral_code TEXT, total_referrals INT, status TEXT, created_at TIMESTAMPTZ, "
                     "amount NUMERIC(12,2))")
        with conn.cursor() as cur, cur.copy("COPY ambassadors FROM STDIN") as copy:
            for row_id in range(1, rows + 1):
                hostile = (row_id - 1) // HOSTILE_STEP if (row_id - 1) % HOSTILE_STEP == 0 else -1
                name = (HOSTILE_NAMES[hostile] if 0 <= hostile < len(HOSTILE_NAMES)
                        else f"{rng.choice(FIRST)} {rng.choice(LAST)}")
                copy.write_row((row_id, name, f"ambassador{row_id}@example.org", rng.choice(INSTITUTIONS),
                                f"AMB{row_id:04d}", rng.randrange(200), rng.choice(["active", "inactive", "pending"]),
                                start + timedelta(seconds=rng.randrange(SPAN_SECONDS)),
                                Decimal(rng.randrange(0, 1_000_000)) / 100))
    return rows

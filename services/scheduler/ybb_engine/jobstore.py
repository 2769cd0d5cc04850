"""Job state shared by every API process and Dask worker.

`JobStore` is the interface the engine uses; nothing outside a store writes SQL.
`SqliteJobStore` is the embedded default for one host (WAL mode, `DATA_DIR/jobs.sqlite3`).
`PostgresJobStore` (jobstore_postgres.py) serves several hosts: JOB_STORE_URL names it.

A store's `location` is what task arguments carry (`JobRef.store`) and `open_store` takes:
the SQLite file's path, or the PostgreSQL URL *without its password*. A Dask worker that
opens such a location takes the password from its own JOB_STORE_URL (or JOB_STORE_URL_FILE),
so that no credential is ever pickled into the scheduler (docs/configuration.md).
"""
from __future__ import annotations

import builtins
import dataclasses
import functools
import sqlite3
import threading
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import parse_qsl, quote, urlencode, urlsplit, urlunsplit

import orjson

from .lifecycle import ACTIVE, COLUMNS, Job, State

JSON_COLUMNS = ("spec", "warnings", "error_detail")
_ACTIVE_SQL = ", ".join(f"'{state.value}'" for state in ACTIVE)  # constants: lets SQLite use the partial index
POSTGRES_SCHEMES = ("postgresql", "postgres", "postgresql+psycopg")
SECRET_PARAMETERS = frozenset({"password", "sslpassword"})  # URL query parameters a location never keeps

_SCHEMA = f"""
CREATE TABLE IF NOT EXISTS jobs (
    id TEXT PRIMARY KEY,
    tenant TEXT NOT NULL,
    state TEXT NOT NULL,
    template TEXT,
    format TEXT NOT NULL,
    filename TEXT NOT NULL,
    spec TEXT NOT NULL,
    request_id TEXT,
    idempotency_key TEXT,
    partitions INTEGER NOT NULL DEFAULT 0,
    rows_total INTEGER NOT NULL DEFAULT 0,
    rows_done INTEGER NOT NULL DEFAULT 0,
    rows INTEGER,
    size_bytes INTEGER,
    warnings TEXT,
    error_code TEXT,
    error_message TEXT,
    error_detail TEXT,
    created_at REAL NOT NULL,
    started_at REAL,
    finished_at REAL,
    expires_at REAL NOT NULL,
    expected_rows INTEGER,
    batches INTEGER NOT NULL DEFAULT 0,
    pending_batches INTEGER NOT NULL DEFAULT 0,
    request_digest TEXT,
    callback_url TEXT,
    cache_key TEXT,
    webhook_status TEXT
);
CREATE INDEX IF NOT EXISTS jobs_tenant_created ON jobs (tenant, created_at);
-- created_at too: with (tenant, cache_key) alone SQLite walked jobs_tenant_created instead,
-- every job of the tenant, on every export (10 ms at 5,000 jobs).
DROP INDEX IF EXISTS jobs_cache;
CREATE INDEX IF NOT EXISTS jobs_cache_key ON jobs (tenant, cache_key, created_at) WHERE cache_key IS NOT NULL;
CREATE INDEX IF NOT EXISTS jobs_expires ON jobs (expires_at);
CREATE INDEX IF NOT EXISTS jobs_unfinished ON jobs (state) WHERE state IN ({_ACTIVE_SQL});
CREATE UNIQUE INDEX IF NOT EXISTS jobs_idempotency ON jobs (tenant, idempotency_key)
    WHERE idempotency_key IS NOT NULL;
"""


# The rows `delete_expired` removes, {m} the placeholder (parameters: the expired state, `before` twice).
DELETABLE = "state = {m} AND expires_at <= {m} AND (finished_at IS NULL OR finished_at <= {m})"
ID_BATCH = 500  # ids per `existing` query


class DuplicateJob(Exception):
    """Another job of the tenant already has this Idempotency-Key (a concurrent retry won)."""


class InvalidStoreURL(ValueError):
    """JOB_STORE_URL is not a PostgreSQL URL the store can use. The message never holds the password."""


@dataclass(frozen=True)
class StoreURL:
    """A PostgreSQL job store URL: `url` to connect with (any password included), `location`
    the same without the password (what JobRef.store, logs and errors may show)."""

    url: str
    location: str
    has_password: bool


def is_store_url(location: str) -> bool:
    """Whether `location` is a URL (PostgreSQL) rather than an SQLite file's path."""
    return "://" in location


def parse_store_url(text: str) -> StoreURL:
    """`postgresql://user:password@host:5432/db?params` (also `postgres://`, `postgresql+psycopg://`),
    normalised to `postgresql://`. InvalidStoreURL for anything else."""
    scheme, _, rest = text.strip().partition("://")
    if scheme.lower() not in POSTGRES_SCHEMES:
        raise InvalidStoreURL("the job store URL (JOB_STORE_URL) must be postgresql://user:password@host:5432/db "
                              f"(or postgresql+psycopg://...), not {scheme.lower() or 'an empty scheme'}://...")
    try:
        parts = urlsplit("postgresql://" + rest)
        query = parse_qsl(parts.query, keep_blank_values=True, strict_parsing=bool(parts.query))
    except ValueError:
        raise InvalidStoreURL("the job store URL (JOB_STORE_URL) is malformed: percent-encode the special "
                              "characters of the user and password") from None
    userinfo, at, hostport = parts.netloc.rpartition("@")
    user, _, password = userinfo.partition(":")
    public_netloc = f"{user}@{hostport}" if at else hostport
    database = parts.path.lstrip("/")
    # These messages quote nothing of the URL: a password with an unencoded / ? # or a missing
    # @host would be cut into the parts they would show.
    if not database or "/" in database:
        raise InvalidStoreURL("the job store URL (JOB_STORE_URL) names no database: end it with /dbname, and "
                              "percent-encode the special characters of the user and password")
    for host in hostport.split(","):
        port = host.rpartition("]")[2].partition(":")[2]  # after an IPv6 address's brackets
        if port and not port.isdigit():
            raise InvalidStoreURL("the job store URL (JOB_STORE_URL) has a port that is not a number: write "
                                  "user:password@host:port, percent-encoding the password's special characters")
    public_query = urlencode([(k, v) for k, v in query if k not in SECRET_PARAMETERS], quote_via=quote)
    secret = bool(password) or any(k in SECRET_PARAMETERS for k, _ in query)
    return StoreURL(url=urlunsplit(("postgresql", parts.netloc, parts.path, parts.query, "")),
                    location=urlunsplit(("postgresql", public_netloc, parts.path, public_query, "")),
                    has_password=secret)


@dataclass(frozen=True)
class HistogramRow:
    """One format's histogram: cumulative counts for each bound, then the total and the sum."""

    format: str
    cumulative: list[int]
    count: int
    total: float


@dataclass(frozen=True)
class JobStatistics:
    """What /metrics and /monitor show about the jobs, computed by the store."""

    by_state_and_template: list[tuple[str, str, int]]  # (state, template or "custom", count)
    durations: list[HistogramRow]                      # seconds from the first task to the file
    speeds: list[HistogramRow]                         # rows per second of that time
    bytes_written: int
    rows_written: int


class JobStore(Protocol):
    """What every job store does. `transition` is the only way a job's state changes."""

    location: str

    def create(self, job: Job) -> Job: ...
    def get(self, job_id: str) -> Job | None: ...
    def find_idempotent(self, tenant: str, key: str) -> Job | None: ...
    def find_cached(self, tenant: str, cache_key: str, now: float) -> Job | None: ...
    def update(self, job_id: str, **fields: Any) -> None: ...
    def transition(self, job_id: str, from_states: Iterable[State], when: dict[str, Any] | None = None,
                   **fields: Any) -> bool: ...
    def add_progress(self, job_id: str, rows: int) -> None: ...
    def reserve_batch(self, job_id: str, partitions: int) -> int | None: ...
    def finish_batch(self, job_id: str, rows: int, stored: bool) -> None: ...
    def list(self, tenant: str | None, limit: int, offset: int) -> tuple[list[Job], int]: ...
    def recent(self, states: Sequence[State] | None, limit: int) -> builtins.list[Job]: ...
    def count_by_state(self) -> dict[str, int]: ...
    def expired(self, now: float) -> builtins.list[Job]: ...
    def unfinished(self) -> builtins.list[Job]: ...
    def statistics(self, duration_bounds: Sequence[float], speed_bounds: Sequence[float]) -> JobStatistics: ...
    def delete_expired(self, before: float, limit: int) -> builtins.list[str]: ...
    def existing(self, job_ids: Sequence[str]) -> set[str]: ...


def open_store(location: str) -> JobStore:
    """The store at `location`, one per process and location: a path (SQLite), or a PostgreSQL
    URL, with its password (the API, from JOB_STORE_URL) or without it (a task's JobRef.store:
    the password comes from this process's JOB_STORE_URL)."""
    location = str(location)
    if is_store_url(location):
        from .jobstore_postgres import open_postgres  # psycopg only where PostgreSQL is used

        return open_postgres(location)
    return _open(location)


def open_configured_store(url: str | None, sqlite_path: str | Path) -> JobStore:
    """The store the settings name: JOB_STORE_URL (which must be a PostgreSQL URL), else SQLite
    at `sqlite_path`. Raises InvalidStoreURL at start-up for a URL that cannot work."""
    if url:
        parse_store_url(url)  # a path or another scheme is refused here, not taken for an SQLite file
        return open_store(url)
    return open_store(str(sqlite_path))


@functools.lru_cache(maxsize=8)
def _open(location: str) -> JobStore:
    return SqliteJobStore(location)


class JobQueries:
    """The queries both stores ask alike, written once: MARK is the driver's placeholder (`?`
    for sqlite3, `%s` for psycopg); `_one`, `_select` and `transition` are each store's own."""

    MARK = "?"

    def _one(self, where: str, params: Sequence[Any]) -> Job | None:
        raise NotImplementedError

    def _select(self, where: str, params: Sequence[Any] = ()) -> builtins.list[Job]:
        raise NotImplementedError

    def transition(self, job_id: str, from_states: Iterable[State], when: dict[str, Any] | None = None,
                   **fields: Any) -> bool:
        raise NotImplementedError

    def get(self, job_id: str) -> Job | None:
        return self._one(f"WHERE id = {self.MARK}", (job_id,))

    def find_idempotent(self, tenant: str, key: str) -> Job | None:
        m = self.MARK
        return self._one(f"WHERE tenant = {m} AND idempotency_key = {m}", (tenant, key))

    def find_cached(self, tenant: str, cache_key: str, now: float) -> Job | None:
        m = self.MARK
        return self._one(f"WHERE tenant = {m} AND cache_key = {m} AND state = {m} AND expires_at > {m} "
                         "ORDER BY created_at DESC LIMIT 1", (tenant, cache_key, State.SUCCEEDED.value, now))

    def update(self, job_id: str, **fields: Any) -> None:
        self.transition(job_id, (), **fields)

    def recent(self, states: Sequence[State] | None, limit: int) -> builtins.list[Job]:
        m = self.MARK
        if states is None:
            return self._select(f"ORDER BY created_at DESC LIMIT {m}", (limit,))
        marks = ", ".join(m for _ in states)
        return self._select(f"WHERE state IN ({marks}) ORDER BY created_at DESC LIMIT {m}",
                            (*(State(s).value for s in states), limit))

    def expired(self, now: float) -> builtins.list[Job]:
        m = self.MARK
        return self._select(f"WHERE expires_at <= {m} AND state != {m}", (now, State.EXPIRED.value))

    def unfinished(self) -> builtins.list[Job]:
        return self._select(f"WHERE state IN ({_ACTIVE_SQL})")


class SqliteJobStore(JobQueries):
    """One connection per thread; safe across processes thanks to WAL and a busy timeout."""

    FINISHED = "rows IS NOT NULL AND started_at IS NOT NULL AND finished_at > started_at"

    def __init__(self, path: str | Path) -> None:
        self.location = str(path)
        self._local = threading.local()
        Path(self.location).parent.mkdir(parents=True, exist_ok=True)
        conn = self._connect()
        conn.executescript(_SCHEMA)
        self._add_new_columns(conn)

    @staticmethod
    def _add_new_columns(conn: sqlite3.Connection) -> None:
        """A store made by an earlier version gets the columns added since."""
        present = {row[1] for row in conn.execute("PRAGMA table_info(jobs)")}
        added = {"pending_batches": "INTEGER NOT NULL DEFAULT 0", "request_digest": "TEXT"}
        for name, definition in added.items():
            if name not in present:
                conn.execute(f"ALTER TABLE jobs ADD COLUMN {name} {definition}")

    def _connect(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(self.location, timeout=30, isolation_level=None)
            conn.row_factory = sqlite3.Row
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            self._local.conn = conn
        return conn

    def _select(self, where: str, params: Sequence[Any] = ()) -> list[Job]:
        rows = self._connect().execute(f"SELECT {', '.join(COLUMNS)} FROM jobs {where}", params).fetchall()
        return [_decode(row) for row in rows]

    def _one(self, where: str, params: Sequence[Any]) -> Job | None:
        found = self._select(where, params)
        return found[0] if found else None

    def create(self, job: Job) -> Job:
        row = _encode(dataclasses.asdict(job))
        marks = ", ".join("?" for _ in row)
        try:
            self._connect().execute(f"INSERT INTO jobs ({', '.join(row)}) VALUES ({marks})", list(row.values()))
        except sqlite3.IntegrityError as exc:
            raise DuplicateJob(job.id) from exc
        return self.get(job.id)  # type: ignore[return-value]

    def transition(self, job_id: str, from_states: Iterable[State], when: dict[str, Any] | None = None,
                   **fields: Any) -> bool:
        """Update `fields`; with `from_states`, only when the job is in one of them, and with
        `when`, only when those columns have those values."""
        sql, params = transition_sql("?", job_id, from_states, when, fields)
        return bool(self._connect().execute(sql, params).rowcount == 1)

    def add_progress(self, job_id: str, rows: int) -> None:
        self._connect().execute("UPDATE jobs SET rows_done = rows_done + ? WHERE id = ?", (rows, job_id))

    def reserve_batch(self, job_id: str, partitions: int) -> int | None:
        """Claim the next partition numbers for an uploaded batch, which is then in flight.

        Returns the first partition index, or None when the job no longer accepts records.
        Atomic across processes, so concurrent batches never collide. Its rows count once
        `finish_batch` says they are stored.
        """
        found = self._connect().execute(
            "UPDATE jobs SET partitions = partitions + ?, pending_batches = pending_batches + 1 "
            "WHERE id = ? AND state = ? RETURNING partitions",
            (partitions, job_id, State.AWAITING_RECORDS.value),
        ).fetchone()
        return int(found[0]) - partitions if found else None

    def finish_batch(self, job_id: str, rows: int, stored: bool) -> None:
        """A reserved batch is written (its rows count) or was given up (nothing of it stays)."""
        self._connect().execute(
            "UPDATE jobs SET pending_batches = pending_batches - 1, rows_total = rows_total + ?, "
            "batches = batches + ? WHERE id = ?", (rows if stored else 0, 1 if stored else 0, job_id))

    def list(self, tenant: str | None, limit: int, offset: int) -> tuple[list[Job], int]:
        where, params = ("WHERE tenant = ?", [tenant]) if tenant is not None else ("", [])
        total = self._connect().execute(f"SELECT COUNT(*) FROM jobs {where}", params).fetchone()[0]
        return self._select(f"{where} ORDER BY created_at DESC LIMIT ? OFFSET ?", [*params, limit, offset]), total

    def count_by_state(self) -> dict[str, int]:
        return dict(self._connect().execute("SELECT state, COUNT(*) FROM jobs GROUP BY state").fetchall())

    def delete_expired(self, before: float, limit: int) -> builtins.list[str]:
        """Delete up to `limit` rows of jobs that expired at or before `before` (and did not
        finish after it); returns their ids. Atomic: concurrent sweepers never both count a row."""
        rows = self._connect().execute(
            f"DELETE FROM jobs WHERE id IN (SELECT id FROM jobs WHERE {DELETABLE.format(m='?')} "
            "ORDER BY expires_at LIMIT ?) RETURNING id", (State.EXPIRED.value, before, before, limit)).fetchall()
        return [row[0] for row in rows]

    def existing(self, job_ids: Sequence[str]) -> set[str]:
        """Which of `job_ids` have a row."""
        found: set[str] = set()
        for start in range(0, len(job_ids), ID_BATCH):
            chunk = list(job_ids[start:start + ID_BATCH])
            marks = ", ".join("?" for _ in chunk)
            found.update(row[0] for row in self._connect().execute(f"SELECT id FROM jobs WHERE id IN ({marks})",
                                                                   chunk))
        return found

    def statistics(self, duration_bounds: Sequence[float], speed_bounds: Sequence[float]) -> JobStatistics:
        conn = self._connect()
        by_state = [tuple(row) for row in conn.execute(
            "SELECT state, COALESCE(template, 'custom'), COUNT(*) FROM jobs GROUP BY 1, 2")]
        written, rows = conn.execute(
            "SELECT COALESCE(SUM(size_bytes), 0), COALESCE(SUM(rows), 0) FROM jobs WHERE size_bytes IS NOT NULL"
        ).fetchone()
        return JobStatistics(
            by_state_and_template=by_state,
            durations=self._histogram("(finished_at - started_at)", duration_bounds),
            speeds=self._histogram("(rows / (finished_at - started_at))", speed_bounds),
            bytes_written=written, rows_written=rows)

    def _histogram(self, expression: str, bounds: Sequence[float]) -> builtins.list[HistogramRow]:
        counts = ", ".join(f"SUM({expression} <= {float(b)})" for b in bounds)
        sql = f"SELECT format, COUNT(*), SUM({expression}), {counts} FROM jobs WHERE {self.FINISHED} GROUP BY format"
        return [HistogramRow(fmt, [c or 0 for c in cumulative], total, value_sum or 0.0)
                for fmt, total, value_sum, *cumulative in self._connect().execute(sql)]


def transition_sql(mark: str, job_id: str, from_states: Iterable[State], when: dict[str, Any] | None,
                   fields: dict[str, Any]) -> tuple[str, builtins.list[Any]]:
    """The compare-and-set UPDATE of `transition`, with `mark` as the placeholder: one statement,
    so that the check and the change are atomic on every store."""
    row = _encode(fields)
    conditions = _encode(when or {})
    for name in (*row, *conditions):
        if name not in COLUMNS:
            raise ValueError(f"unknown job column {name!r}")
    sets = ", ".join(f"{name} = {mark}" for name in row)
    params: builtins.list[Any] = [*row.values(), job_id]
    sql = f"UPDATE jobs SET {sets} WHERE id = {mark}"
    states = [State(s).value for s in from_states]
    if states:
        sql += f" AND state IN ({', '.join(mark for _ in states)})"
        params += states
    for name, value in conditions.items():
        sql += f" AND {name} = {mark}"
        params.append(value)
    return sql, params


def _encode(fields: dict[str, Any]) -> dict[str, Any]:
    encoded = {}
    for name, value in fields.items():
        if name in JSON_COLUMNS and value is not None:
            value = orjson.dumps(value).decode()
        elif isinstance(value, State):
            value = value.value
        encoded[name] = value
    return encoded


def _decode(row: sqlite3.Row | Mapping[str, Any]) -> Job:
    fields = dict(row)
    for name in JSON_COLUMNS:
        if fields.get(name) is not None:
            fields[name] = orjson.loads(fields[name])
    return Job(**fields)

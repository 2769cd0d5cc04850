"""Participant records as YBB's PHP apps send them, generated here: the load tests are a
black-box client of the API and import nothing from the project (see README.md).

Deterministic per seed, standard library only (the locustfile runs under gevent in its own
virtualenv). Every record has every field of the participants/complete template (39 columns,
participants/standard's 10 among them), with values shaped like the PHP apps': MySQL date
strings, status codes as ints, phones with a leading 0 or +, names in many scripts and some
emoji, some nulls. The sizes of the XLSX files in thresholds.toml ([xlsx_size]) were measured
with these records.
"""
from __future__ import annotations

import random
from datetime import datetime, timedelta

_FIRST = [
    "Budi", "Siti", "Andi", "Dewi", "Rizky", "Putri", "John", "Maria", "Léa", "Zoë", "José", "Ömer",
    "محمد", "فاطمة", "أحمد", "Алексей", "Ольга", "Дмитрий", "李", "王芳", "張偉", "さくら", "민준",
    "आरव", "प्रिया", "Nguyễn", "Ayşe", "Kwame", "Amara",
]
_LAST = [
    "Santoso", "Wijaya", "Pratama", "Lestari", "Smith", "García", "Müller", "Dubois", "O'Brien",
    "العلي", "حسن", "Иванов", "Петрова", "明", "小林", "김", "शर्मा", "पटेल", "Trần", "Yılmaz", "Mensah",
]
_EMOJI = ["", "", "", "", "", "", " 🌍", " ✨", " 🇮🇩", " 👩🏽‍🎓"]
_LATIN = ["budi", "siti", "andi", "dewi", "rizky", "putri", "john", "maria", "lea", "jose", "omer",
          "mohammed", "fatima", "alexey", "olga", "li", "wang", "sakura", "minjun", "aarav", "priya"]
_DOMAINS = ["gmail.com", "yahoo.co.id", "outlook.com", "ui.ac.id", "example.org", "mail.ru", "qq.com"]
_COUNTRIES = [
    ("Indonesia", "ID", "🇮🇩", "+62"), ("Malaysia", "MY", "🇲🇾", "+60"), ("Egypt", "EG", "🇪🇬", "+20"),
    ("Russia", "RU", "🇷🇺", "+7"), ("China", "CN", "🇨🇳", "+86"), ("Japan", "JP", "🇯🇵", "+81"),
    ("India", "IN", "🇮🇳", "+91"), ("Türkiye", "TR", "🇹🇷", "+90"), ("Nigeria", "NG", "🇳🇬", "+234"),
    ("Brazil", "BR", "🇧🇷", "+55"), ("United States", "US", "🇺🇸", "+1"), ("Saudi Arabia", "SA", "🇸🇦", "+966"),
]
_INSTITUTIONS = ["Universitas Indonesia", "Institut Teknologi Bandung", "Universitas Gadjah Mada",
                 "Cairo University", "МГУ имени Ломоносова", "北京大学", "東京大学", "IIT Bombay",
                 "University of Lagos", "Universidade de São Paulo", None]
_EDUCATION = ["High School", "Diploma", "Bachelor", "Master", "Doctorate"]
_MAJORS = ["Computer Science", "International Relations", "Medicine", "Law", "Economics", "Architecture",
           "العلوم السياسية", "Физика", "国际关系", None]
_OCCUPATIONS = ["Student", "Software Engineer", "Teacher", "Entrepreneur", "Researcher", None]
_ORGS = ["AIESEC", "Student Council", "Red Cross", "Model UN", "-", None]
_RELATIONS = ["Mother", "Father", "Sibling", "Friend", "Spouse"]
_DISEASES = ["None", "Asthma", "-", None, "Allergy: peanuts"]
_SIZES = ["XS", "S", "M", "L", "XL", "XXL"]
_SOURCES = ["Instagram", "Friend", "Ambassador", "TikTok", "Website", "@ybb.official"]
_EPOCH = datetime(2024, 1, 1)
_DAYS = [(_EPOCH + timedelta(days=d)).strftime("%Y-%m-%d") for d in range(600)]
# Fields that don't identify a person come from a pool of profiles: far fewer random draws,
# so that the 150,000 records of the default mix take seconds, not minutes.
_PROFILES = 997


class _Rng:
    """random.Random with cheaper picks (random() is C-fast, choice/randrange are not)."""

    def __init__(self, seed: int) -> None:
        self.random = random.Random(seed).random

    def pick(self, seq):
        return seq[int(self.random() * len(seq))]

    def below(self, n: int) -> int:
        return int(self.random() * n)

    def between(self, low: int, high: int) -> int:
        return low + int(self.random() * (high - low))

    def maybe(self, value, p_null: float = 0.1):
        return None if self.random() < p_null else value


def _name(rng: _Rng) -> str:
    return f"{rng.pick(_FIRST)} {rng.pick(_LAST)}{rng.pick(_EMOJI)}"


def _phone(rng: _Rng, code: str) -> str:
    digits = f"8{rng.between(10**9, 10**10)}"
    return f"{code}{digits}" if rng.random() < 0.5 else f"0{digits}"


def _mysql_time(rng: _Rng) -> str:
    seconds = rng.below(86_400)
    return f"{rng.pick(_DAYS)} {seconds // 3600:02d}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"


def _profile(rng: _Rng) -> dict:
    country, code, flag, dial = rng.pick(_COUNTRIES)
    return {
        "gender": rng.pick(("male", "female")),
        "birthdate": f"{rng.between(1990, 2008)}-{rng.between(1, 13):02d}-{rng.between(1, 29):02d}",
        "nationality": country,
        "nationality_flag": flag,
        "nationality_code": code,
        "occupation": rng.pick(_OCCUPATIONS),
        "education_level": rng.pick(_EDUCATION),
        "major": rng.pick(_MAJORS),
        "institution": rng.pick(_INSTITUTIONS),
        "organizations": rng.pick(_ORGS),
        "country_code": dial,
        "current_address": rng.maybe(f"Jl. Merdeka No. {rng.between(1, 300)}, Jakarta"),
        "origin_address": rng.maybe(f"{rng.between(1, 99)} Main Street, {country}"),
        "contact_relation": rng.pick(_RELATIONS),
        "disease_history": rng.pick(_DISEASES),
        "tshirt_size": rng.pick(_SIZES),
        "category": rng.pick(("fully_funded", "self_funded")),
        "experiences": rng.maybe("Volunteer teacher\nDelegate at Model UN", 0.4),
        "achievements": rng.maybe("1st place, national debate", 0.5),
        "knowledge_source": rng.pick(_SOURCES),
        "source_account_name": rng.maybe(rng.pick(_LATIN), 0.5),
        "twibbon_link": rng.maybe(f"https://instagram.com/p/{rng.below(10**8)}", 0.3),
        "ref_code_ambassador": rng.maybe(f"AMB{rng.between(1, 500):04d}", 0.6),
        "program_id": rng.between(1, 4),
        "is_active": rng.pick((1, 1, 1, 0)),
        "is_deleted": 0,
    }


def participants(n: int, seed: int = 0) -> list[dict]:
    """`n` participant records, ids 1..n; the same `seed` gives the same records."""
    rng = _Rng(seed)
    profiles = [_profile(rng) for _ in range(min(n, _PROFILES))]
    out = []
    for i in range(1, n + 1):
        profile = rng.pick(profiles)
        dial = profile["country_code"]
        created = _mysql_time(rng)
        out.append({
            "id": i,
            "user_id": 10_000 + i,
            "account_id": rng.between(1, 10**6),
            "full_name": _name(rng),
            "email": f"{rng.pick(_LATIN)}.{i}@{rng.pick(_DOMAINS)}",
            **profile,
            "phone_number": _phone(rng, dial),
            "picture_url": f"https://cdn.example.org/p/{i:06d}.jpg",
            "instagram_account": rng.maybe(f"@{rng.pick(_LATIN)}_{i}", 0.3),
            "emergency_contact": _phone(rng, dial),
            "resume_url": rng.maybe(f"https://files.example.org/cv/{i:06d}.pdf", 0.3),
            "requirement_link": rng.maybe(f"https://drive.example.org/{i}", 0.3),
            "form_status": rng.below(3),
            "payment_status": rng.below(5),
            "created_at": created,
            "updated_at": created if rng.random() < 0.5 else _mysql_time(rng),
        })
    return out

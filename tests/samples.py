"""Deterministic, realistic YBB-like records for the tests and the benchmark (bench/run.py).

Test data, so it lives with the tests (tests/ is on pytest's pythonpath: `import samples`),
not in the engine. Participants are those of loadtests/records.py, the load tests' own
generator; payments and ambassadors are made here with the same helpers.

Values look like what the PHP apps send: MySQL date strings, status codes as ints,
numeric strings for amounts, phones with leading zeros or "+", names in many scripts,
and some nulls. Only the stdlib `random` module, seeded per call.
"""
from __future__ import annotations

import sys
from pathlib import Path

# The participants come from the load tests' own generator (a black-box client cannot import
# this file, but this file can import it): one generator, the same records for the same seed.
sys.path.append(str(Path(__file__).resolve().parent.parent / "loadtests"))

from records import (  # noqa: E402
    _COUNTRIES, _DOMAINS, _INSTITUTIONS, _LATIN, _mysql_time, _name, _phone, _Rng, participants as participants,
)

_PROGRAMS = [("Istanbul Youth Summit 2025", "Youth & Global Peace"), ("Japan Youth Summit", "Innovation"),
             ("Kuala Lumpur Youth Summit", "Sustainable Cities")]
_PAYMENT_NAMES = ["Registration Fee", "Program Fee Batch 1", "Program Fee Batch 2", "Self Funded Full Payment"]
_PAYMENT_TEXT = ["created", "pending", "success", "cancelled", "rejected"]


def _email(rng: _Rng, i: int) -> str:
    return f"{rng.pick(_LATIN)}.{i}@{rng.pick(_DOMAINS)}"


def payments(n: int, seed: int = 0) -> list[dict]:
    """Payment records with every field of the payments/detailed template."""
    rng = _Rng(seed)
    out = []
    for i in range(1, n + 1):
        status = rng.between(0, 5)
        program, theme = rng.pick(_PROGRAMS)
        currency = rng.pick(("IDR", "IDR", "USD"))
        if currency == "IDR":
            amount = rng.pick((f"{rng.between(100, 9000) * 1000}.00", rng.between(100, 9000) * 1000))
            usd = round(float(amount) / 16_000, 2)
        else:
            usd = amount = round(20 + rng.random() * 880, 2)
        method = rng.pick((1, 2))
        out.append({
            "id": i,
            "transaction_code": f"TRX{rng.below(10**9):010d}",
            "order_id": f"ORDER-{rng.between(2024, 2026)}-{i:06d}",
            "participant_id": rng.between(1, 50_000),
            "participant_name": _name(rng),
            "participant_email": _email(rng, i),
            "program_payment_name": rng.pick(_PAYMENT_NAMES),
            "payment_category": rng.pick(("registration", "program_fee")),
            "payment_type": rng.pick(("full", "installment")),
            "payment_method": method,
            "amount": amount,
            "usd_amount": usd,
            "currency": currency,
            "status": status,
            "status_text": _PAYMENT_TEXT[status],
            "payment_date": rng.maybe(_mysql_time(rng), 0.15),
            "proof_url": f"https://files.example.org/proof/{i}.jpg" if method == 2 else None,
            "account_name": rng.maybe(_name(rng), 0.3),
            "source_name": rng.pick(("BCA", "Mandiri", "BNI", "PayPal", None)),
            "notes": rng.maybe("Paid by parent", 0.8),
            "rejection_reason": "Blurry proof of transfer" if status == 4 else None,
            "payment_url": f"https://pay.example.org/{i}" if method == 1 else None,
            "program_name": program,
            "program_theme": theme,
            "created_at": _mysql_time(rng),
        })
    return out


def ambassadors(n: int, seed: int = 0) -> list[dict]:
    """Ambassador records with every field of the ambassadors/detailed template."""
    rng = _Rng(seed)
    out = []
    for i in range(1, n + 1):
        _country, _code, _flag, dial = rng.pick(_COUNTRIES)
        total = rng.between(0, 200)
        created = _mysql_time(rng)
        out.append({
            "id": i,
            "name": _name(rng),
            "email": _email(rng, i),
            "ref_code": f"AMB{i:04d}",
            "program_id": rng.between(1, 4),
            "institution": rng.pick(_INSTITUTIONS),
            "gender": rng.pick(("male", "female")),
            "phone_number": _phone(rng, dial),
            "notes": rng.maybe("Top referrer of the month", 0.7),
            "total_referrals": total,
            "successful_referrals": rng.between(0, total + 1),
            "is_active": rng.pick((True, True, False)),
            "created_at": created,
            "updated_at": created,
        })
    return out

"""The generated sample records (tests/samples.py) have the templates' fields and look like PHP data."""
import time
import unicodedata

import pytest

import samples
from ybb_engine.templates import TemplateRegistry, load_templates


@pytest.fixture(scope="module")
def registry() -> TemplateRegistry:
    return load_templates()


@pytest.mark.parametrize("make, template", [
    (samples.participants, "participants/complete"),
    (samples.payments, "payments/detailed"),
    (samples.ambassadors, "ambassadors/detailed"),
])
def test_samples_have_every_template_field_and_are_deterministic(registry, make, template):
    records = make(300, seed=7)
    fields = {c.field for c in registry.get(*template.split("/")).columns}
    assert len(records) == 300
    assert all(fields <= set(r) for r in records)
    assert make(300, seed=7) == records
    assert make(300, seed=8) != records
    assert [r["id"] for r in records] == list(range(1, 301))


def test_participant_samples_look_like_php_data():
    records = samples.participants(2000)
    names = set("".join(r["full_name"] for r in records))
    scripts = {unicodedata.name(c, "?").split()[0] for c in names}
    assert {"LATIN", "ARABIC", "CYRILLIC", "CJK", "DEVANAGARI", "HANGUL", "HIRAGANA"} <= scripts
    assert any(ord(c) >= 0x1F300 for c in names)  # emoji
    phones = [r["phone_number"] for r in records]
    assert any(p.startswith("0") for p in phones) and any(p.startswith("+") for p in phones)
    assert all(isinstance(r["form_status"], int) for r in records)
    assert any(r["institution"] is None for r in records)
    assert all(len(r["created_at"]) == 19 and r["created_at"][10] == " " for r in records)
    assert {r["category"] for r in records} == {"fully_funded", "self_funded"}


def test_payment_amounts_are_numbers_or_numeric_strings():
    records = samples.payments(500)
    assert {type(r["amount"]) for r in records} == {str, int, float}
    assert all(r["currency"] in ("IDR", "USD") for r in records)
    assert all(r["transaction_code"].startswith("TRX") for r in records)


def test_fifty_thousand_participants_are_fast():
    start = time.perf_counter()
    records = samples.participants(50_000)
    elapsed = time.perf_counter() - start
    assert len(records) == 50_000
    assert elapsed < 3.0, f"took {elapsed:.2f}s"

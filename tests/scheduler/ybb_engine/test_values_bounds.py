"""Numeric texts are bounded before they are converted (issue 13): `int(Decimal("1e300000"))`
took 2 s per value (`1e1000000`: 38 s) and the export then failed writing a 300,001-digit integer."""
from __future__ import annotations

import time

import pytest

from ybb_engine.errors import EngineError
from ybb_engine.values import Blank, TimeContext, make_parser

UTC = TimeContext()
HOSTILE = ["1e300000", "1E1000000", "-1e300000", "1.5e400000", "9" * 309, "1" + "0" * 5000, "1e308"]
COLUMNS = [{"field": "name", "type": "string"}, {"field": "n", "type": "number"}, {"field": "i", "type": "integer"}]


@pytest.mark.parametrize("text", HOSTILE)
def test_an_integer_text_past_308_digits_is_invalid_at_once(text: str) -> None:
    started = time.monotonic()
    with pytest.raises(ValueError, match="more than 308 digits"):
        make_parser("integer", UTC)(text)
    assert time.monotonic() - started < 1


@pytest.mark.parametrize("raw, expected", [
    ("1e307", 10**307), ("9" * 308, int("9" * 308)), ("0e999999999", 0), ("-0.0e5", 0),
    ("00" + "1" * 308, int("1" * 308)),
    (float("1e307"), int(1e307)), (-(10**308) + 1, -(10**308) + 1), ("12.50e1", 125),
])
def test_integers_up_to_308_digits_still_parse(raw, expected) -> None:
    value = make_parser("integer", UTC)(raw)
    assert value == expected and type(value) is int


@pytest.mark.parametrize("raw", [10**308, -(10**308), 1e308, "1e-999999999", "1.5e-400000"])
def test_integers_beyond_the_bound_or_fractions_are_invalid(raw) -> None:
    with pytest.raises(ValueError):
        make_parser("integer", UTC)(raw)


@pytest.mark.parametrize("text", ["1e300000", "1" + "0" * 5000, "-1E1000000"])
def test_a_number_text_past_float_range_is_a_float_overflow(text: str) -> None:
    """As "1e999" (docs/safety.md, NaN and Infinity): blanked and counted, and fast."""
    started = time.monotonic()
    with pytest.raises(Blank):
        make_parser("number", UTC)(text)
    assert time.monotonic() - started < 1
    assert make_parser("number", UTC)("1" + "0" * 308) == 1e308  # 309 digits: a float, not an int


def test_an_enum_text_of_many_digits_stays_text() -> None:
    assert make_parser("enum", UTC)("1" * 400) == "1" * 400
    assert make_parser("enum", UTC)("12") == 12


def test_a_record_with_1e300000_is_refused_at_once_naming_row_and_field(run_export) -> None:
    records = [{"name": "ok", "n": 1, "i": 2}, {"name": "x", "n": "1.5", "i": "1e300000"},
               {"name": "y", "n": 2, "i": "-1E1000000"}]
    started = time.monotonic()
    with pytest.raises(EngineError) as info:
        run_export(records, {"columns": COLUMNS, "format": "csv"})
    assert time.monotonic() - started < 5
    assert info.value.code == "invalid_records" and info.value.status == 422
    assert [(e["row"], e["field"]) for e in info.value.errors] == [(1, "i"), (2, "i")]
    assert "more than 308 digits" in info.value.errors[0]["message"]


def test_a_number_column_with_1e300000_is_blanked_and_an_integer_one_coerced(run_export, read_csv) -> None:
    records = [{"name": "x", "n": "1e300000", "i": "1e300000"}]
    started = time.monotonic()
    result, path = run_export(records, {"columns": COLUMNS, "format": "csv", "options": {"on_invalid": "coerce"}})
    assert time.monotonic() - started < 5
    assert read_csv(path) == [["Name", "N", "I"], ["x", "", "1e300000"]]
    assert result.warnings["non_finite_blanked"] == 1 and result.warnings["coerced_values"] == 1


@pytest.mark.parametrize("value", ["1e300000", "1" + "0" * 400, ["1", "1e1000000"]])
def test_a_filter_value_past_the_bound_is_an_invalid_operation(spec_for, value) -> None:
    op = "in" if isinstance(value, list) else "eq"
    started = time.monotonic()
    with pytest.raises(EngineError) as info:
        spec_for({"columns": COLUMNS, "filters": [{"field": "i", "op": op, "value": value}]})
    assert time.monotonic() - started < 5
    assert (info.value.code, info.value.status) == ("invalid_operation", 422)
    assert "more than 308 digits" in info.value.message and len(info.value.message) < 200

from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from ybb_engine.values import Blank, TimeContext, make_parser, map_key

UTC = TimeContext()
JAKARTA = TimeContext(display=ZoneInfo("Asia/Jakarta"))


@pytest.mark.parametrize("raw, expected", [
    (5, 5), (5.0, 5), ("42", 42), (" -7 ", -7), ("12.0", 12), ("1e3", 1000), (10**20, 10**20),
    ("123456789012345678901", 123456789012345678901),
])
def test_integer(raw, expected):
    value = make_parser("integer", UTC)(raw)
    assert value == expected and type(value) is int


@pytest.mark.parametrize("raw", ["12.5", 12.5, "abc", "", True, [1], "1,000"])
def test_integer_rejects(raw):
    with pytest.raises(ValueError):
        make_parser("integer", UTC)(raw)


@pytest.mark.parametrize("raw, expected", [
    (1.25, 1.25), ("150000.00", 150000.0), ("-3.5", -3.5), ("7", 7), (".5", 0.5), ("1E-3", 0.001),
])
def test_number(raw, expected):
    assert make_parser("number", UTC)(raw) == expected
    assert make_parser("currency", UTC)(raw) == expected


@pytest.mark.parametrize("raw", [float("nan"), float("inf"), "NaN", "-Infinity", "inf", "1e999"])
def test_non_finite_numbers_are_blanked(raw):
    with pytest.raises(Blank) as info:
        make_parser("number", UTC)(raw)
    assert info.value.warning == "non_finite_blanked"


@pytest.mark.parametrize("raw, expected", [
    (True, True), (False, False), (1, True), (0, False), ("1", True), ("0", False), ("true", True),
    ("FALSE", False), ("yes", True), ("no", False),
])
def test_boolean(raw, expected):
    assert make_parser("boolean", UTC)(raw) is expected


@pytest.mark.parametrize("raw", [2, "maybe", "", 0.5])
def test_boolean_rejects(raw):
    with pytest.raises(ValueError):
        make_parser("boolean", UTC)(raw)


@pytest.mark.parametrize("raw, expected", [
    ("2024-01-15", date(2024, 1, 15)),
    ("2024-01-15 10:30:00", date(2024, 1, 15)),
    ("2024-01-15T23:30:00+07:00", date(2024, 1, 15)),
    ("20240115", date(2024, 1, 15)),
    (date(2024, 1, 15), date(2024, 1, 15)),
    (1705312200, date(2024, 1, 15)),
])
def test_date(raw, expected):
    assert make_parser("date", UTC)(raw) == expected


@pytest.mark.parametrize("raw, expected", [
    ("2024-01-15 10:30:00", datetime(2024, 1, 15, 10, 30, tzinfo=timezone.utc)),
    ("2024-01-15T10:30:00Z", datetime(2024, 1, 15, 10, 30, tzinfo=timezone.utc)),
    ("2024-01-15T17:30:00+07:00", datetime(2024, 1, 15, 10, 30, tzinfo=timezone.utc)),
    ("2024-01-15", datetime(2024, 1, 15, tzinfo=timezone.utc)),
    (1705314600, datetime(2024, 1, 15, 10, 30, tzinfo=timezone.utc)),
    ("1705314600", datetime(2024, 1, 15, 10, 30, tzinfo=timezone.utc)),
    (1705314600000, datetime(2024, 1, 15, 10, 30, tzinfo=timezone.utc)),
    (1705314600.5, datetime(2024, 1, 15, 10, 30, 0, 500000, tzinfo=timezone.utc)),
])
def test_datetime(raw, expected):
    value = make_parser("datetime", UTC)(raw)
    assert value == expected and value.utcoffset() == timedelta(0)


def test_datetime_is_shown_in_the_display_zone():
    value = make_parser("datetime", JAKARTA)("2024-01-15 20:00:00")
    assert value.utcoffset() == timedelta(hours=7)
    assert (value.year, value.month, value.day, value.hour) == (2024, 1, 16, 3)
    naive_in_jakarta = TimeContext(display=ZoneInfo("Asia/Jakarta"), assume=ZoneInfo("Asia/Jakarta"))
    assert make_parser("datetime", naive_in_jakarta)("2024-01-15 20:00:00").hour == 20


@pytest.mark.parametrize("raw", ["0000-00-00", "0000-00-00 00:00:00"])
def test_mysql_zero_dates_are_blanked(raw):
    with pytest.raises(Blank) as info:
        make_parser("datetime", UTC)(raw)
    assert info.value.warning == "zero_dates_blanked"


@pytest.mark.parametrize("raw", ["15/01/2024", "yesterday", "2024-13-01", True, {"a": 1}])
def test_date_rejects(raw):
    with pytest.raises(ValueError):
        make_parser("date", UTC)(raw)


def test_string_and_enum():
    parse = make_parser("string", UTC)
    assert parse("007") == "007"
    assert parse(42) == "42"
    assert parse(True) == "true"
    assert parse(["a", 1]) == '["a",1]'
    enum = make_parser("enum", UTC)
    assert enum(2) == 2 and enum(2.0) == 2 and enum("2") == 2 and enum("fully_funded") == "fully_funded"
    assert enum("007") == "007"
    assert map_key(True) == "true" and map_key(2.0) == "2" and map_key("x") == "x"

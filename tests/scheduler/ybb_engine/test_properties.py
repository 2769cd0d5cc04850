"""Property test: any records -> XLSX, CSV and JSON; every file reads back equal to the
input after the documented transformations (docs/safety.md)."""
import csv
import io
import json
import math
import tempfile
from datetime import date, datetime, timezone
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from reference.export import combine_partitions, prepare_partition, write_export
from ybb_engine.safety import EXCEL_MAX_NUMBER, LARGE_INTEGER, MAX_CELL_CHARS, is_formula_like, remove_forbidden_chars
from ybb_engine.spec import ExportSpec, build_spec
from ybb_engine.templates import load_templates

COLUMNS = [
    {"field": "text", "type": "string"},
    {"field": "int", "type": "integer"},
    {"field": "num", "type": "number"},
    {"field": "day", "type": "date"},
    {"field": "at", "type": "datetime"},
    {"field": "flag", "type": "boolean"},
]
SPECIAL = ["\x00", "\x08", "\x1b", "\x7f", "\ud800", "\udfff", "\ufffe", "\uffff", "\t", "\r", "\n", "=", "+", "-",
           "@", '"', "'", ",", ";", "مرحبا", "שלום", "\u202e", "🇮🇩", "👩🏽‍🎓", "李小龙", "नमस्ते", "_x0041_", " "]
texts = st.lists(st.one_of(st.characters(), st.sampled_from(SPECIAL)), max_size=20).map("".join)
ints = st.one_of(st.integers(-(10**16), 10**16), st.integers(-(2**80), 2**80), st.sampled_from([0, -1, 10**15]))
nums = st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.floats(-1e-300, 1e-300),
                 st.sampled_from([1.7976931348623157e308, -9.99999999999999e307, 5e-324]),
                 st.integers(-(10**14), 10**14))
days = st.dates(min_value=date(1901, 1, 1), max_value=date(9998, 12, 31))
moments = st.datetimes(min_value=datetime(1901, 1, 1), max_value=datetime(9998, 12, 31)).map(
    lambda d: d.replace(microsecond=0))
records = st.lists(st.fixed_dictionaries({
    "text": st.none() | texts,
    "int": st.none() | ints,
    "num": st.none() | nums,
    "day": st.none() | days.map(date.isoformat),
    "at": st.none() | moments.map(lambda d: d.strftime("%Y-%m-%d %H:%M:%S")),
    "flag": st.none() | st.booleans(),
}), max_size=12)

REGISTRY = load_templates()


def export(rows: list[dict], fmt: str, directory: Path) -> Path:
    spec = ExportSpec.from_dict(build_spec({"columns": COLUMNS, "format": fmt}, REGISTRY).to_dict())
    half = len(rows) // 2
    parts = [prepare_partition(rows[:half], spec), prepare_partition(rows[half:], spec, half)]
    path = directory / f"out.{fmt}"
    write_export(combine_partitions(parts, spec), spec, path)
    return path


def expected_text(value):
    return None if value is None else remove_forbidden_chars(value)[:MAX_CELL_CHARS]


def expected_number(value):
    return None if value is None or (isinstance(value, float) and not math.isfinite(value)) else value


def expected_moment(text):
    return None if text is None else datetime.fromisoformat(text)


def same_float(got, want) -> bool:
    return math.isclose(float(got), want, rel_tol=1e-15, abs_tol=0) or float(got) == want


def check_xlsx_row(got: list, record: dict, date_as_date: bool) -> None:
    text, integer, number = expected_text(record["text"]), record["int"], expected_number(record["num"])
    assert (got[0] or None) == (text or None)
    if integer is None:
        assert got[1] in (None, "")
    elif abs(integer) >= LARGE_INTEGER:
        assert got[1] == str(integer)
    else:
        assert got[1] == integer
    if number is None:
        assert got[2] in (None, "")
    elif abs(number) > EXCEL_MAX_NUMBER:
        assert got[2] == repr(number)
    else:
        assert same_float(got[2], number)
    day = record["day"] and date.fromisoformat(record["day"])
    if day and not date_as_date:
        day = datetime(day.year, day.month, day.day)
    assert (got[3] or None) == (day or None)
    moment = got[4] or None
    if isinstance(moment, date) and not isinstance(moment, datetime):
        moment = datetime(moment.year, moment.month, moment.day)  # calamine reads midnight as a date
    assert moment == expected_moment(record["at"])
    assert (got[5] if got[5] != "" else None) == record["flag"]


SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@SETTINGS
@given(rows=records)
def test_xlsx_reads_back(read_calamine, read_openpyxl_rows, rows):
    with tempfile.TemporaryDirectory() as tmp:
        path = export(rows, "xlsx", Path(tmp))
        calamine_rows = read_calamine(path)["Export"]
        openpyxl_rows = read_openpyxl_rows(path)["Export"]
    assert calamine_rows[0] == openpyxl_rows[0] == ["Text", "Int", "Num", "Day", "At", "Flag"]
    # Both readers drop trailing empty rows and cells.
    assert len(calamine_rows) <= len(rows) + 1 and len(openpyxl_rows) <= len(rows) + 1
    for index, record in enumerate(rows, start=1):
        check_xlsx_row(_row(openpyxl_rows, index), record, date_as_date=False)
        check_xlsx_row(_row(calamine_rows, index), record, date_as_date=True)


def _row(rows: list[list], index: int) -> list:
    row = list(rows[index]) if index < len(rows) else []
    return row + [None] * (6 - len(row))


@SETTINGS
@given(records)
def test_csv_reads_back(rows):
    with tempfile.TemporaryDirectory() as tmp:
        path = export(rows, "csv", Path(tmp))
        text = path.read_bytes().decode("utf-8")
    table = list(csv.reader(io.StringIO(text, newline="")))
    assert table[0] == ["Text", "Int", "Num", "Day", "At", "Flag"]
    assert len(table) == len(rows) + 1
    for got, record in zip(table[1:], rows):
        want = expected_text(record["text"]) or ""
        if is_formula_like(want):
            want = ("'" + want)[:MAX_CELL_CHARS]
        assert got[0] == want
        assert got[1] == ("" if record["int"] is None else str(record["int"]))
        number = expected_number(record["num"])
        assert (got[2] == "") if number is None else float(got[2]) == number
        assert got[3] == (record["day"] or "")
        assert got[4] == (record["at"] or "")
        assert got[5] == ("" if record["flag"] is None else str(record["flag"]).lower())
        assert "nan" not in got[2].lower() and "inf" not in got[2].lower()


@SETTINGS
@given(records, st.sampled_from(["json", "ndjson"]))
def test_json_reads_back(rows, fmt):
    with tempfile.TemporaryDirectory() as tmp:
        path = export(rows, fmt, Path(tmp))
        text = path.read_text(encoding="utf-8")
    data = json.loads(text) if fmt == "json" else [json.loads(line) for line in text.split("\n") if line]
    assert len(data) == len(rows)
    for got, record in zip(data, rows):
        assert got["text"] == expected_text(record["text"])
        integer = record["int"]
        assert got["int"] == (str(integer) if integer is not None and not -(2**63) <= integer < 2**64 else integer)
        assert got["num"] == expected_number(record["num"])
        assert got["day"] == record["day"]
        moment = expected_moment(record["at"])
        assert got["at"] == (moment.replace(tzinfo=timezone.utc).isoformat() if moment else None)
        assert got["flag"] == record["flag"]


@pytest.mark.parametrize("fmt", ["xlsx", "csv", "json"])
def test_property_checks_catch_a_broken_writer(read_calamine, fmt, tmp_path):
    """The read-back checks are not vacuous: a wrong value fails them."""
    rows = [{"text": "a", "int": 1, "num": 2.5, "day": "2024-01-01", "at": "2024-01-01 10:00:00", "flag": True}]
    path = export(rows, fmt, tmp_path)
    wrong = [{**rows[0], "num": 3.5}]
    if fmt == "xlsx":
        got = read_calamine(path)["Export"][1]
        with pytest.raises(AssertionError):
            check_xlsx_row(got, wrong[0], date_as_date=True)
        check_xlsx_row(got, rows[0], date_as_date=True)
    else:
        assert str(3.5) not in path.read_text(encoding="utf-8")

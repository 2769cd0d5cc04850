"""The CSV formula guard applies after formatting (issue 13): literal text in a date format
(`options.date_format`, `options.datetime_format`, a column's `format`) or `null_display` could
start a CSV cell with `=`, `+`, `-`, `@` or a tab. Runs on the reference and the fast path."""
from __future__ import annotations

from datetime import datetime

import pytest

COLUMNS = [{"field": "d", "type": "date"}, {"field": "t", "type": "datetime"}, {"field": "n", "type": "number"}]
RECORDS = [{"d": "2024-01-15", "t": "2024-01-15 10:30:00", "n": -2.5}, {"d": "2024-02-01", "t": None, "n": 3}]


@pytest.mark.parametrize("fmt, first", [
    ('=HYPERLINK("http://x")', "=024PERLINK(http://x)"),
    ('"=cmd|"yyyy', "=cmd|2024"),
    ("[$-409]=yyyy", "=2024"),
    ("+yyyy-mm-dd", "+2024-01-15"),
    ("-dd", "-15"),
    ("@yyyy", "@2024"),
    ("\tyyyy", "\t2024"),
])
def test_a_formatted_date_that_looks_like_a_formula_is_neutralised(run_export, read_csv, fmt: str,
                                                                   first: str) -> None:
    result, path = run_export(RECORDS, {"columns": COLUMNS, "format": "csv", "options": {"date_format": fmt}})
    rows = read_csv(path)
    assert rows[1][0] == "'" + first and rows[2][0].startswith("'")
    assert rows[1][1:] == ["2024-01-15 10:30:00", "-2.5"]  # a real negative number stays a number
    assert result.warnings["formula_neutralised"] == 2


def test_datetime_formats_and_column_formats_are_guarded_too(run_export, read_csv) -> None:
    columns = [{"field": "d", "type": "date", "format": "=dd"}, {"field": "t", "type": "datetime"},
               {"field": "n", "type": "number"}]
    result, path = run_export(RECORDS, {"columns": columns, "format": "csv",
                                        "options": {"datetime_format": "@yyyy hh:mm"}})
    assert read_csv(path)[1:] == [["'=15", "'@2024 10:30", "-2.5"], ["'=01", "", "3"]]
    assert result.warnings["formula_neutralised"] == 3


def test_a_harmless_date_format_changes_nothing(run_export, read_csv) -> None:
    result, path = run_export(RECORDS, {"columns": COLUMNS, "format": "csv", "options": {"date_format": "dd/mm/yyyy"}})
    assert read_csv(path)[1:] == [["15/01/2024", "2024-01-15 10:30:00", "-2.5"], ["01/02/2024", "", "3"]]
    assert result.warnings["formula_neutralised"] == 0


def test_a_null_display_that_looks_like_a_formula_is_neutralised_in_every_null_cell(run_export, read_csv) -> None:
    records = [{"d": None, "t": None, "n": 1}, {"d": "2024-01-15", "t": None, "n": None}]
    result, path = run_export(records, {"columns": COLUMNS, "format": "csv",
                                        "options": {"null_display": "=1+1"}})
    assert read_csv(path)[1:] == [["'=1+1", "'=1+1", "1"], ["2024-01-15", "'=1+1", "'=1+1"]]
    assert result.warnings["formula_neutralised"] == 4


def test_xlsx_dates_stay_date_cells_with_the_format_as_a_number_format(run_export, read_openpyxl) -> None:
    """XLSX: a date is a number with a number format, never text or a formula, whatever the format says."""
    _, path = run_export(RECORDS, {"columns": COLUMNS, "format": "xlsx", "options": {"date_format": "=yyyy"}})
    sheet = read_openpyxl(path).worksheets[0]
    cell = sheet.cell(row=2, column=1)
    # A datetime back (openpyxl's "d"): a number cell read through its date format, not a string or a formula.
    assert cell.value == datetime(2024, 1, 15) and cell.data_type == "d" and "yyyy" in cell.number_format

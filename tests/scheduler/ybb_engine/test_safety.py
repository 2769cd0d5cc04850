import zipfile

import pytest

from ybb_engine.errors import EngineError
from ybb_engine.safety import MAX_CELL_CHARS, TRUNCATION_MARKER, sheet_name

TEXT = [{"field": "id", "type": "integer"}, {"field": "text", "header": "Text", "type": "string"}]
FORMULAS = ["=1+1", "+62812", "-2+3", "@SUM(A1)", "\tx", "\rx", "\nx", '=HYPERLINK("http://evil","click")']


def test_formula_injection_csv_gets_an_apostrophe(run_export, read_csv):
    records = [{"id": i, "text": t} for i, t in enumerate(FORMULAS)] + [{"id": -5, "text": "safe - text"}]
    result, path = run_export(records, {"columns": TEXT, "format": "csv"})
    rows = read_csv(path)[1:]
    assert [r[1] for r in rows] == ["'" + t for t in FORMULAS] + ["safe - text"]
    assert rows[-1][0] == "-5"  # a real negative number is not touched
    assert result.warnings["formula_neutralised"] == len(FORMULAS)


def test_formula_injection_xlsx_is_a_plain_string(run_export, read_openpyxl, read_calamine):
    records = [{"id": i, "text": t} for i, t in enumerate(FORMULAS)] + [{"id": -5, "text": "ok"}]
    result, path = run_export(records, {"columns": TEXT, "format": "xlsx"})
    assert [row[1] for row in read_calamine(path)["Export"][1:-1]] == FORMULAS
    sheet = read_openpyxl(path).active
    cells = [sheet.cell(row=r, column=2) for r in range(2, len(FORMULAS) + 2)]
    assert {c.data_type for c in cells} == {"s"}
    assert sheet.cell(row=len(FORMULAS) + 2, column=1).value == -5
    assert sheet.cell(row=len(FORMULAS) + 2, column=1).data_type == "n"
    with zipfile.ZipFile(path) as archive:
        assert b"<f>" not in archive.read("xl/worksheets/sheet1.xml")
    assert result.warnings["formula_neutralised"] == len(FORMULAS)


def test_formula_like_headers_are_neutralised_in_csv(run_export, read_csv):
    _, path = run_export([{"a": 1}], {"columns": [{"field": "a", "header": "=cmd|'/C calc'!A0"}], "format": "csv"})
    assert read_csv(path)[0] == ["'=cmd|'/C calc'!A0"]


def test_negative_numbers_in_number_columns_stay_numbers(run_export, read_calamine, read_csv):
    columns = [{"field": "n", "type": "number"}]
    result, path = run_export([{"n": "-12.5"}, {"n": -3}], {"columns": columns})
    assert read_calamine(path)["Export"][1:] == [[-12.5], [-3.0]]
    assert result.warnings["formula_neutralised"] == 0
    result, path = run_export([{"n": "-12.5"}], {"columns": columns, "format": "csv"}, name="b")
    assert read_csv(path)[1] == ["-12.5"] and result.warnings["formula_neutralised"] == 0


DIRTY = "a\x00b\x07c\x1bd\ud800e\ufffef\uffffg\th\ni\rj"
CLEAN = "abcdefg\th\ni\rj"


@pytest.mark.parametrize("fmt", ["xlsx", "csv", "json", "ndjson"])
def test_xml_forbidden_characters_are_removed(run_export, read_calamine, read_csv, read_json, fmt):
    result, path = run_export([{"id": 1, "text": DIRTY}, {"id": 2, "text": "clean"}], {"columns": TEXT, "format": fmt})
    assert result.warnings["control_chars_removed"] == 1
    if fmt == "xlsx":
        value = read_calamine(path)["Export"][1][1]
    elif fmt == "csv":
        value = read_csv(path)[1][1]
    else:
        value = read_json(path)[0]["text"]
    assert value.replace("\r\n", "\n").replace("\r", "\n") == CLEAN.replace("\r", "\n")


@pytest.mark.parametrize("fmt", ["xlsx", "csv", "json"])
def test_long_cells_are_truncated_with_a_marker(run_export, read_calamine, read_csv, read_json, fmt):
    long_text = "x" * (MAX_CELL_CHARS + 10)
    result, path = run_export([{"id": 1, "text": long_text}, {"id": 2, "text": "y" * MAX_CELL_CHARS}],
                              {"columns": TEXT, "format": fmt})
    assert result.warnings["truncated_cells"] == 1
    if fmt == "xlsx":
        values = [r[1] for r in read_calamine(path)["Export"][1:]]
    elif fmt == "csv":
        values = [r[1] for r in read_csv(path)[1:]]
    else:
        values = [r["text"] for r in read_json(path)]
    assert len(values[0]) == MAX_CELL_CHARS and values[0].endswith(TRUNCATION_MARKER)
    assert values[1] == "y" * MAX_CELL_CHARS


def test_csv_prefix_keeps_cells_within_the_limit(run_export, read_csv):
    result, path = run_export([{"id": 1, "text": "=" + "x" * (MAX_CELL_CHARS - 1)}], {"columns": TEXT, "format": "csv"})
    cell = read_csv(path)[1][1]
    assert len(cell) == MAX_CELL_CHARS and cell.startswith("'=") and cell.endswith(TRUNCATION_MARKER)


def test_long_cells_rejected_with_on_overflow_reject(run_export):
    with pytest.raises(EngineError) as info:
        run_export([{"id": 1, "text": "ok"}, {"id": 2, "text": "x" * (MAX_CELL_CHARS + 1)}],
                   {"columns": TEXT, "options": {"on_overflow": "reject"}})
    assert info.value.code == "cell_overflow"
    assert info.value.errors == [{"row": 1, "field": "text", "length": MAX_CELL_CHARS + 1}]


def test_large_integers_are_text_in_xlsx(run_export, read_openpyxl, read_csv, read_json):
    columns = [{"field": "n", "type": "integer"}, {"field": "code", "type": "string"}]
    records = [{"n": 10**15, "code": "000123"}, {"n": 10**15 - 1, "code": "0"}, {"n": -(10**17) - 3},
               {"n": 2**70}]
    result, path = run_export(records, {"columns": columns})
    sheet = read_openpyxl(path).active
    assert [sheet.cell(row=r, column=1).value for r in range(2, 6)] == [
        "1000000000000000", 999999999999999, "-100000000000000003", str(2**70)]
    assert sheet["B2"].value == "000123" and sheet["B2"].data_type == "s"
    assert result.warnings["large_integers_as_text"] == 3
    result, path = run_export(records, {"columns": columns, "format": "csv"}, name="c")
    assert [r[0] for r in read_csv(path)[1:]] == ["1000000000000000", "999999999999999", "-100000000000000003",
                                                   str(2**70)]
    assert result.warnings["large_integers_as_text"] == 0
    # JSON keeps numbers up to 64 bits and writes larger ones as text.
    result, path = run_export(records, {"columns": columns, "format": "json"}, name="j")
    assert [r["n"] for r in read_json(path)] == [10**15, 10**15 - 1, -(10**17) - 3, str(2**70)]
    assert result.warnings["large_integers_as_text"] == 1


@pytest.mark.parametrize("fmt", ["xlsx", "csv", "json"])
def test_nan_and_infinity_become_empty(run_export, read_calamine, read_csv, read_json, fmt):
    columns = [{"field": "n", "type": "number"}, {"field": "s", "type": "string"}]
    records = [{"n": float("nan"), "s": float("inf")}, {"n": "-Infinity", "s": "nan"}, {"n": 1.5, "s": "x"}]
    result, path = run_export(records, {"columns": columns, "format": fmt})
    assert result.warnings["non_finite_blanked"] == 3
    if fmt == "xlsx":
        rows = read_calamine(path)["Export"][1:]
        assert rows == [["", ""], ["", "nan"], [1.5, "x"]]
    elif fmt == "csv":
        assert read_csv(path)[1:] == [["", ""], ["", "nan"], ["1.5", "x"]]
    else:
        assert read_json(path) == [{"n": None, "s": None}, {"n": None, "s": "nan"}, {"n": 1.5, "s": "x"}]
    # The text "nan" in a string column is real data; a non-finite number never prints as "nan".
    assert b"inf" not in path.read_bytes().lower()


def test_sheet_name_rules():
    taken: set[str] = set()
    assert sheet_name("Q1/Q2: [final]?", taken) == "Q1 Q2 final"
    assert sheet_name("q1 q2 final", taken) == "q1 q2 final (2)"
    assert sheet_name("", taken) == "Sheet"
    assert sheet_name("'", taken) == "Sheet (2)"
    long = sheet_name("y" * 50, taken)
    assert long == "y" * 31 and sheet_name("y" * 50, taken) == "y" * 27 + " (2)"
    assert sheet_name("bad\x00name", taken) == "badname"


def test_numbers_beyond_excel_range_are_text_in_xlsx(run_export, read_calamine):
    records = [{"n": 1.7976931348623157e308}, {"n": -1e308}, {"n": 9.99999999999999e307}]
    result, path = run_export(records, {"columns": [{"field": "n", "type": "number"}]})
    assert read_calamine(path)["Export"][1:] == [["1.7976931348623157e+308"], ["-1e+308"], [9.99999999999999e307]]
    assert result.warnings["large_numbers_as_text"] == 2

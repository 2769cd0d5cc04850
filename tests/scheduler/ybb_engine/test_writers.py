import codecs
from datetime import date, datetime

import pytest

from ybb_engine import ooxml
from ybb_engine.ooxml import AUTHOR

COLUMNS = [
    {"field": "id", "header": "ID", "type": "integer"},
    {"field": "name", "header": "Full Name", "type": "string", "width": 30},
    {"field": "amount", "header": "Amount", "type": "currency", "currency_field": "currency", "format": "#,##0.00"},
    {"field": "currency", "header": "Currency", "type": "string"},
    {"field": "score", "header": "Score", "type": "number"},
    {"field": "born", "header": "Birth Date", "type": "date"},
    {"field": "seen", "header": "Last Seen", "type": "datetime"},
    {"field": "active", "header": "Active", "type": "boolean", "value_map": {"true": "Yes", "false": "No"}},
    {"field": "flag", "header": "Flag", "type": "boolean"},
    {"field": "status", "header": "Status", "type": "enum", "value_map": {"0": "Created", "2": "Success"}},
    {"field": "phone", "header": "Phone Number", "type": "string"},
]
RECORDS = [
    {"id": 1, "name": "Siti Rahma", "amount": "150000.00", "currency": "IDR", "score": -2.5, "born": "2001-05-17",
     "seen": "2024-01-15 10:30:00", "active": 1, "flag": True, "status": 2, "phone": "081234567890"},
    {"id": 2, "name": "محمد علي", "amount": 49.99, "currency": "USD", "score": 3, "born": None,
     "seen": "2024-01-15T10:30:00+07:00", "active": "0", "flag": False, "status": "0", "phone": None},
    {"id": 3, "name": "李小龙 🐉", "amount": None, "currency": None, "score": None, "born": "1999-12-31",
     "seen": None, "active": None, "flag": None, "status": 0, "phone": "+6281234"},
]
HEADERS = [c["header"] for c in COLUMNS]


def request(fmt: str, **extra) -> dict:
    return {"columns": COLUMNS, "format": fmt, **extra}


def test_xlsx_cells_read_back_typed(run_export, read_calamine, read_openpyxl):
    result, path = run_export(RECORDS, request("xlsx"))
    assert result.rows == 3 and result.sheets == ["Export"] and result.size_bytes == path.stat().st_size
    expected = [
        [1, "Siti Rahma", 150000, "IDR", -2.5, datetime(2001, 5, 17), datetime(2024, 1, 15, 10, 30), "Yes", True,
         "Success", "081234567890"],
        [2, "محمد علي", 49.99, "USD", 3, None, datetime(2024, 1, 15, 3, 30), "No", False, "Created", None],
        [3, "李小龙 🐉", None, None, None, datetime(1999, 12, 31), None, None, None, "Created", "+6281234"],
    ]
    rows = read_calamine(path)["Export"]
    assert rows[0] == HEADERS
    # calamine reads a date-only format as a date, openpyxl as a datetime at midnight.
    as_calamine = [[v.date() if c == 5 and v else v for c, v in enumerate(row)] for row in expected]
    assert [[None if v == "" else v for v in row] for row in rows[1:]] == as_calamine
    sheet = read_openpyxl(path)["Export"]
    values = [list(r) for r in sheet.iter_rows(values_only=True)]
    assert values[0] == HEADERS and values[1:] == expected
    assert sheet["A2"].data_type == "n" and sheet["E2"].value == -2.5 and sheet["K2"].data_type == "s"
    assert sheet["F2"].is_date and sheet["F2"].number_format == "yyyy-mm-dd"
    assert sheet["G2"].is_date and sheet["G2"].number_format == "yyyy-mm-dd hh:mm:ss"
    assert sheet["C2"].number_format == '"IDR" #,##0.00'
    assert sheet["C3"].number_format == '"USD" #,##0.00'


def test_xlsx_header_freeze_filter_widths_properties(run_export, read_openpyxl):
    _, path = run_export(RECORDS, request("xlsx", options={"title": "Participants Batch 7"}))
    book = read_openpyxl(path)
    sheet = book.active
    assert all(cell.font.bold for cell in sheet[1])
    assert sheet["A1"].fill.fgColor.rgb.endswith("D9E1F2")
    assert not sheet["A2"].font.bold
    assert sheet.freeze_panes == "A2"
    assert sheet.auto_filter.ref == "A1:K4"
    assert sheet.column_dimensions["B"].width == pytest.approx(30, abs=1)
    # Width from the data: "Phone Number" header (12) + padding.
    assert sheet.column_dimensions["K"].width == pytest.approx(14, abs=1)
    assert book.properties.title == "Participants Batch 7"
    assert book.properties.creator == AUTHOR
    assert book.properties.created is not None and book.properties.created.year >= 2024


def test_xlsx_empty_export_has_a_header_only_sheet(run_export, read_calamine):
    result, path = run_export([], request("xlsx", options={"sheet_name": "Nobody"}))
    assert result.rows == 0 and result.sheets == ["Nobody"]
    assert read_calamine(path)["Nobody"] == [HEADERS]


def test_xlsx_overflows_to_new_sheets(run_export, read_calamine, monkeypatch):
    monkeypatch.setattr(ooxml, "MAX_ROWS_PER_SHEET", 4)
    records = [{"id": i, "name": f"n{i}"} for i in range(1, 11)]
    result, path = run_export(records, {"columns": COLUMNS[:2], "options": {"sheet_name": "Sheet"}}, parts=3)
    assert result.sheets == ["Sheet", "Sheet (2)", "Sheet (3)"]
    sheets = read_calamine(path)
    assert list(sheets) == result.sheets
    assert [len(rows) for rows in sheets.values()] == [5, 5, 3]
    assert all(rows[0] == ["ID", "Full Name"] for rows in sheets.values())
    assert [row[0] for rows in sheets.values() for row in rows[1:]] == list(range(1, 11))


def test_xlsx_split_by_field(run_export, read_calamine, monkeypatch):
    monkeypatch.setattr(ooxml, "MAX_ROWS_PER_SHEET", 2)
    records = [{"id": i, "status": s} for i, s in enumerate([2, 0, 2, None, 2, 0], start=1)]
    result, path = run_export(records, {"columns": COLUMNS, "select": ["id"],
                                        "options": {"split_by": "status", "null_display": "N/A"}})
    assert result.sheets == ["Success", "Success (2)", "Created", "N A"]
    sheets = read_calamine(path)
    assert [[row[0] for row in rows[1:]] for rows in sheets.values()] == [[1, 3], [5], [2, 6], [4]]


def test_xlsx_split_sheet_names_are_sanitised_and_unique(run_export):
    names = ["a/b", "A/B", "x" * 40, "[what]?*:", "'quoted'", "history"]
    records = [{"id": i, "name": n} for i, n in enumerate(names)]
    result, _ = run_export(records, {"columns": COLUMNS[:2], "options": {"split_by": "name"}})
    assert result.sheets == ["a b", "A B (2)", "x" * 31, "what", "quoted", "history (2)"]
    assert all(len(s) <= 31 and not set(s) & set("[]:*?/\\") for s in result.sheets)


def test_csv_default_is_rfc4180_utf8(run_export, read_csv):
    _, path = run_export(RECORDS, request("csv"))
    raw = path.read_bytes()
    assert not raw.startswith(codecs.BOM_UTF8) and b"\r\n" in raw
    rows = read_csv(path)
    assert rows[0] == HEADERS
    assert rows[1] == ["1", "Siti Rahma", "150000", "IDR", "-2.5", "2001-05-17", "2024-01-15 10:30:00", "Yes", "true",
                       "Success", "081234567890"]
    assert rows[2][1] == "محمد علي" and rows[2][5] == "" and rows[2][7] == "No"
    assert rows[3][-1] == "'+6281234"


def test_csv_options(run_export, read_csv):
    records = [{"id": 1, "name": 'He said "hi"; ok', "born": "2024-03-09"}, {"id": 2, "name": "line\nbreak"}]
    options = {"csv": {"delimiter": ";", "quotechar": "'", "line_terminator": "\n", "encoding": "utf-8-sig",
                       "header": False}, "null_display": "N/A", "date_format": "dd/mm/yyyy"}
    _, path = run_export(records, request("csv", select=["id", "name", "born"], options=options))
    raw = path.read_bytes()
    assert raw.startswith(codecs.BOM_UTF8) and b"\r\n" not in raw
    rows = read_csv(path, "utf-8-sig", delimiter=";", quotechar="'")
    assert rows == [["1", 'He said "hi"; ok', "09/03/2024"], ["2", "line\nbreak", "N/A"]]


def test_json_raw(run_export, read_json):
    result, path = run_export(RECORDS, request("json", options={"timezone": "Asia/Jakarta", "null_display": "N/A"}))
    data = read_json(path)
    assert result.rows == 3 and len(data) == 3
    assert list(data[0]) == [c["field"] for c in COLUMNS]
    assert data[0] == {"id": 1, "name": "Siti Rahma", "amount": 150000.0, "currency": "IDR", "score": -2.5,
                       "born": "2001-05-17", "seen": "2024-01-15T17:30:00+07:00", "active": True, "flag": True,
                       "status": 2, "phone": "081234567890"}
    assert data[2]["amount"] is None and data[2]["phone"] == "+6281234"


def test_json_formatted_and_ndjson(run_export, read_json):
    options = {"json": {"formatted": True}, "null_display": "N/A", "datetime_format": "dd mmm yyyy hh:mm"}
    _, path = run_export(RECORDS, request("ndjson", options=options))
    lines = path.read_text(encoding="utf-8").splitlines()
    assert len(lines) == 3
    data = read_json(path)
    assert list(data[0]) == HEADERS
    assert data[0]["Active"] == "Yes" and data[0]["Status"] == "Success" and data[0]["Flag"] is True
    assert data[0]["Last Seen"] == "15 Jan 2024 10:30" and data[0]["Birth Date"] == "2001-05-17"
    assert data[1]["Birth Date"] == "N/A" and data[0]["Amount"] == 150000.0


def test_json_empty_is_an_empty_array(run_export, read_json):
    _, path = run_export([], request("json"))
    assert read_json(path) == []


@pytest.mark.parametrize("fmt", ["xlsx", "csv", "json", "ndjson"])
def test_null_display(run_export, read_calamine, read_csv, read_json, fmt):
    records = [{"id": 1, "name": None}]
    _, path = run_export(records, {"columns": COLUMNS[:2], "format": fmt, "options": {"null_display": "N/A",
                                                                                    "json": {"formatted": True}}})
    if fmt == "xlsx":
        assert read_calamine(path)["Export"][1] == [1, "N/A"]
    elif fmt == "csv":
        assert read_csv(path)[1] == ["1", "N/A"]
    else:
        assert read_json(path)[0] == {"ID": 1, "Full Name": "N/A"}


def test_date_and_datetime_formats_and_timezone(run_export, read_openpyxl, read_csv):
    options = {"date_format": "dd/mm/yyyy", "datetime_format": "d mmmm yyyy h:mm AM/PM", "timezone": "Asia/Jakarta"}
    records = [{"id": 1, "born": "2001-05-07", "seen": "2024-01-15 20:05:00"}]
    _, xlsx = run_export(records, request("xlsx", select=["born", "seen"], options=options), name="a")
    sheet = read_openpyxl(xlsx).active
    assert sheet["A2"].number_format == "dd/mm/yyyy" and sheet["A2"].value == datetime(2001, 5, 7)
    assert sheet["B2"].number_format == "d mmmm yyyy h:mm AM/PM"
    assert sheet["B2"].value == datetime(2024, 1, 16, 3, 5)
    _, csv_path = run_export(records, request("csv", select=["born", "seen"], options=options), name="b")
    assert read_csv(csv_path)[1] == ["07/05/2001", "16 January 2024 3:05 AM"]


def test_xlsx_number_formats(run_export, read_openpyxl):
    columns = [{"field": "n", "type": "number", "format": "#,##0.000"}, {"field": "usd", "type": "currency",
                                                                         "format": '"USD" #,##0.00'},
               {"field": "plain", "type": "currency"}]
    _, path = run_export([{"n": 1234.5, "usd": 10, "plain": 3}], {"columns": columns})
    sheet = read_openpyxl(path).active
    assert [sheet[c].number_format for c in ("A2", "B2", "C2")] == ["#,##0.000", '"USD" #,##0.00', "#,##0.00"]
    assert [sheet[c].value for c in ("A2", "B2", "C2")] == [1234.5, 10, 3]


def test_booleans_without_value_map_are_excel_booleans(run_export, read_openpyxl):
    _, path = run_export([{"flag": "1"}, {"flag": 0}], {"columns": [{"field": "flag", "type": "boolean"}]})
    sheet = read_openpyxl(path).active
    assert [sheet["A2"].value, sheet["A3"].value] == [True, False] and sheet["A2"].data_type == "b"


def test_dates_in_json_are_iso(run_export, read_json):
    _, path = run_export([{"born": date(2020, 2, 29), "seen": datetime(2024, 1, 1, 12)}],
                         request("json", select=["born", "seen"]))
    assert read_json(path) == [{"born": "2020-02-29", "seen": "2024-01-01T12:00:00+00:00"}]

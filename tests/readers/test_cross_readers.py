"""Issue 14: files made by the engine, read by five independent readers, cell for cell.

Each case is an export built in process (ybb_engine.fastexport.run_local, the records in three
partitions). Then:

1. test_openpyxl_reads_the_records: openpyxl's reading of every cell equals what the records
   and the spec say it must be (the oracle below, from docs/templates.md and docs/safety.md:
   value maps, types, time zones, text kept as sent, forbidden characters removed, long text
   cut), and the sheets are the ones the export reported.
2. test_reader_agrees_with_openpyxl: python-calamine, exceljs, SheetJS and LibreOffice agree
   with openpyxl on every cell: type, value (dates to the second; LibreOffice's numbers to its
   15 digits, its text as it stores line breaks).
3. test_harness_on_an_xlsxwriter_file: the readers and their adapters on a file of xlsxwriter's,
   which writes the r attributes that exceljs needs: this checks the harness, not our writer.

Every reader reads every file in one run (one Node start-up per npm reader, one soffice run
for all files). Readers come from `make readers` (scripts/ensure_readers.sh); a missing one
fails the test that needs it, naming the command. See docs/testing.md, "Cross-reader test".
"""
from __future__ import annotations

import json
import math
import re
import zipfile
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import xlsxwriter

import samples
import xlsx_readers as xr
from ybb_engine import fastexport, ooxml
from ybb_engine.spec import ExportSpec, build_spec
from ybb_engine.templates import Column, load_templates

pytestmark = pytest.mark.slow

REGISTRY = load_templates()
MAKERS = {"participants": samples.participants, "payments": samples.payments, "ambassadors": samples.ambassadors}


# --- the cases -----------------------------------------------------------------------------

@dataclass
class Case:
    id: str
    request: dict
    records: list[dict]
    max_rows: int | None = None         # ooxml.MAX_ROWS_PER_SHEET while the file is written
    path: Path = field(default=Path())
    spec: ExportSpec | None = None
    sheets: list[str] = field(default_factory=list)   # as the export reported them


def _hostile_texts() -> list[Any]:
    return [
        "=1+1", "@SUM(A1:A2)", "+1", "-1", "+6281234567890", "=HYPERLINK(\"http://x\")", "\t=tab first",
        " leading", "trailing ", "  both  ", " ",
        # Not "_x005F_x000D_" (overlapping escapes): see docs/testing.md.
        "_x000D_", "a_x000D_b", "_x0041_", "_x00", "x_", "__x000D__", "_x000d_", "_x12345_",
        "\r\n", "line 1\r\nline 2", "cr\ronly", "\r", "lf\nonly", "\n", "tab\tinside",
        "🇮🇩 Indonesia 👩🏽‍🎓 ✨", "𝔘𝔫𝔦𝔠𝔬𝔡𝔢 astral", "مرحبا بالعالم", "שלום עולם", "abc \u202eRTL override\u202c",
        "<&>\"'", "]]>", "<c r=\"A1\"/>", "&amp;", "a\x00b\x1fc\x0bd",   # XML-forbidden characters: removed
        "007", "1.5", "1e5", "TRUE", "nan", "2024-01-15", "\u3000ideographic space\u3000", "\xa0nbsp\xa0",
        "x" * 32_767, "y" * 40_000,           # at the limit; over it (cut, ending in the marker)
        "€" * 32_767,
        "", None, 42, 2.5, True,               # a string column also takes numbers and booleans
    ]


def _hostile_case() -> Case:
    texts = _hostile_texts()
    integers = [0, 1, -1, 42, "12", "1e3", 12.0, 999_999_999_999_999, 10**15, -(10**15), 2**63, 3201234567890123,
                None, ""]
    numbers = [0, 1.5, -2.25, 0.1, 1e-7, 1 / 3, 150_000, "150000.00", "-0.5", 123_456_789_012_345, 1e15,
               2.5e100, 1.7976931348623157e308, float("nan"), "Infinity", None, 5e-324, "878.37"]
    records = []
    for i in range(max(len(texts), len(integers), len(numbers))):
        records.append({
            "text": texts[i] if i < len(texts) else None,
            "int": integers[i] if i < len(integers) else None,
            "num": numbers[i] if i < len(numbers) else None,
            "note": texts[-(i + 1)] if i < len(texts) else "plain",
        })
    columns = [
        {"field": "text", "header": "=Formula-like header", "type": "string"},
        {"field": "int", "header": "Integer", "type": "integer", "format": "#,##0"},
        {"field": "num", "header": "Number", "type": "number", "format": "0.00"},
        {"field": "note", "header": "<Notes & \"quotes\">", "type": "string"},
    ]
    return Case("hostile-texts", {"columns": columns, "options": {"title": "Hostile"}}, records)


# Dates and date-times around 1900-03-01 (below it Excel's serials shift by the phantom
# 29 February 1900), DST gaps and folds, offsets, Unix timestamps, the ends of the calendar.
# Not here: date-times whose wall-clock time falls on 1900-01-01 or 1900-02-28. The engine
# writes xlsxwriter's serials for them (a time of day, 0.x, and 60.x: "1900-01-00" and
# "1900-02-29" in Excel), which tests/scheduler/ybb_engine/test_excel_serial.py requires;
# see docs/testing.md. _check_dates refuses them, so that a new case cannot add them by accident.
DATE_INPUTS = ["1900-01-01", "1900-01-02", "1900-02-27", "1900-02-28", "1900-03-01", "1900-03-02", "1904-01-01",
               "1970-01-01", "1999-12-31", "2000-02-29", "2024-02-29", "2024-03-10", "9999-12-31",
               "2024-01-15 23:30:00", "2024-01-15T23:30:00-05:00", "2024-01-15T01:30:00+09:00", 1705339845, None]
DATETIME_INPUTS = ["1900-01-15 10:20:30", "1900-02-27 09:08:07", "1900-02-27 02:00:00", "1900-03-01 12:00:00",
                   "1900-03-02 00:00:01", "1901-06-30 23:59:59", "1970-01-01 00:00:00", "1999-12-31 23:59:59",
                   "2024-01-15 10:30:45", "2024-01-15 17:59:59", "2024-01-15 23:59:59", "2024-03-10 02:30:00",
                   "2024-03-10 06:59:59", "2024-11-03 01:30:00", "2024-11-03 05:30:00", "2024-06-30 12:34:56",
                   "2024-01-15T10:30:45Z", "2024-01-15T10:30:45+07:00", "2024-01-15T10:30:45-03:30",
                   "2024-12-31", 1705312245, 1705312245000, "2037-12-31 23:59:59", "2100-01-01 00:00:01",
                   "9999-12-30 12:00:00", None]
ZONES = [("UTC", "UTC"), ("Asia/Jakarta", "UTC"), ("America/New_York", "America/New_York"),
         ("Asia/Kolkata", "Europe/London"), ("Pacific/Chatham", "UTC")]


def _date_cases() -> list[Case]:
    # Every second of the minute shows up somewhere: SheetJS-style truncation would show.
    extra = [f"2024-0{1 + i % 9}-{10 + i % 18:02d} {i % 24:02d}:{(i * 7) % 60:02d}:{i % 60:02d}" for i in range(60)]
    inputs = DATETIME_INPUTS + extra
    records = [{"day": DATE_INPUTS[i % len(DATE_INPUTS)], "day_dmy": DATE_INPUTS[i % len(DATE_INPUTS)],
                "at": inputs[i], "at_ampm": inputs[i], "at_hm": inputs[i]} for i in range(len(inputs))]
    columns = [
        {"field": "day", "type": "date"},
        {"field": "day_dmy", "type": "date", "format": "dd/mm/yyyy"},
        {"field": "at", "type": "datetime"},
        {"field": "at_ampm", "type": "datetime", "format": "d mmmm yyyy h:mm AM/PM"},
        {"field": "at_hm", "type": "datetime", "format": "yyyy-mm-dd hh:mm"},
    ]
    return [Case(f"dates-{shown.replace('/', '-')}", {"columns": columns, "options": {
        "timezone": shown, "assume_timezone": assumed, "title": f"Dates {shown.replace('/', ' ')}"}}, records)
        for shown, assumed in ZONES]


def _booleans_and_enums_case() -> Case:
    flags = [True, False, 1, 0, "1", "0", "true", "false", "yes", "no", "y", "n", "on", "off", None]
    statuses = [0, 1, 2, "2", "0", 2.0, None]
    categories = ["fully_funded", "self_funded", None]
    codes = [1, 2, 7, "A", "007", None]   # enum without a value map: raw values as text
    records = [{"flag": flags[i % len(flags)], "active": flags[(i + 3) % len(flags)],
                "status": statuses[i % len(statuses)], "category": categories[i % len(categories)],
                "code": codes[i % len(codes)], "gender": ["male", "f", "other", None][i % 4]} for i in range(45)]
    columns = [
        {"field": "flag", "type": "boolean"},
        {"field": "active", "type": "boolean", "value_map": {"true": "Active ✓", "false": "Inactive ✗"}},
        {"field": "status", "type": "enum", "value_map": {"0": "Not Started", "1": "In Progress", "2": "Submitted"}},
        {"field": "category", "type": "enum", "value_map": {"fully_funded": "Fully Funded",
                                                             "self_funded": "Self Funded"}},
        {"field": "code", "type": "enum"},
        {"field": "gender", "type": "string", "value_map": {"male": "Male", "female": "Female", "f": "Female"}},
    ]
    return Case("booleans-enums", {"columns": columns, "options": {"null_display": "N/A"}}, records)


def all_cases() -> list[Case]:
    cases = [Case(f"template-{t.type}-{t.name}", {"template": f"{t.type}/{t.name}"},
                  MAKERS[t.type](60, seed=14)) for t in REGISTRY.all()]
    cases.append(Case("currencies", {"template": "payments/detailed", "options": {"timezone": "Asia/Jakarta"}},
                      samples.payments(90, seed=3)))
    cases += _date_cases()
    cases.append(_booleans_and_enums_case())
    cases.append(_hostile_case())
    cases.append(Case("overflow", {"template": "participants/standard"}, samples.participants(170, seed=5),
                      max_rows=50))
    cases.append(Case("split-by", {"template": "payments/standard", "options": {"split_by": "payment_method"}},
                      samples.payments(80, seed=6)))
    cases.append(Case("split-by-overflow", {"template": "participants/summary", "options": {"split_by": "form_status"}},
                      samples.participants(150, seed=7), max_rows=20))
    return cases


CASES = all_cases()
CASE_IDS = [c.id for c in CASES]


def _build(case: Case, directory: Path) -> None:
    spec = build_spec(case.request, REGISTRY, case.records[:100])
    spec = ExportSpec.from_dict(json.loads(json.dumps(spec.to_dict())))   # as the workers get it
    size = max(1, -(-len(case.records) // 3))
    parts = [case.records[i:i + size] for i in range(0, len(case.records), size)]
    case.path = directory / f"{case.id}.xlsx"
    with pytest.MonkeyPatch.context() as patch:
        if case.max_rows is not None:
            patch.setattr(ooxml, "MAX_ROWS_PER_SHEET", case.max_rows)
        result = fastexport.run_local(parts, spec, case.path, directory / f"work-{case.id}")
    case.spec, case.sheets = spec, list(result.sheets)


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> dict[str, Case]:
    directory = tmp_path_factory.mktemp("cross-readers")
    for case in CASES:
        _build(case, directory)
    return {case.id: case for case in CASES}


class Readings:
    """Each reader's workbooks of all the files, read on first use (one run per reader)."""

    def __init__(self, paths: list[Path], work: Path) -> None:
        self.paths, self.work = paths, work
        self._done: dict[str, dict[Path, xr.Workbook | xr.ReaderError]] = {}

    def get(self, reader: str, path: Path) -> xr.Workbook:
        if reader not in self._done:
            self._done[reader] = self._read(reader)
        result = self._done[reader][path]
        if isinstance(result, xr.ReaderError):
            hint = ""
            if reader == "exceljs" and not _has_cell_references(path):
                hint = ("\n(the file's <row> and <c> elements have no r attribute, which exceljs 4 requires: "
                        "it passes once the engine writes them)")
            pytest.fail(f"{reader} could not read {path.name}: {result}{hint}", pytrace=False)
        return result

    def _read(self, reader: str) -> dict[Path, xr.Workbook | xr.ReaderError]:
        if reader in ("exceljs", "sheetjs"):
            return xr.read_node(reader, self.paths)
        if reader == "libreoffice":
            return xr.read_libreoffice(self.paths, self.work / "libreoffice")
        read = xr.read_openpyxl if reader == "openpyxl" else xr.read_calamine
        out: dict[Path, xr.Workbook | xr.ReaderError] = {}
        for path in self.paths:
            try:
                out[path] = read(path)
            except Exception as exc:  # reported as the reader's failure, in the test that needs it
                out[path] = xr.ReaderError(f"{type(exc).__name__}: {exc}")
        return out


def _has_cell_references(path: Path) -> bool:
    with zipfile.ZipFile(path) as archive:
        sheet = archive.read("xl/worksheets/sheet1.xml").decode("utf-8")
    data = sheet.split("<sheetData>", 1)[-1]
    return re.search(r"<row(?![^>]*\br=)[ >]", data) is None and re.search(r"<c(?![^>]*\br=)[ />]", data) is None


@pytest.fixture(scope="module")
def harness_file(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("harness") / "xlsxwriter-harness.xlsx"
    _write_harness_file(path)
    return path


@pytest.fixture(scope="module")
def readings(built, harness_file, tmp_path_factory) -> Readings:
    # The harness file too: one Node start-up per npm reader and one soffice run for everything.
    return Readings([c.path for c in built.values()] + [harness_file], tmp_path_factory.mktemp("readings"))


# --- the oracle: what each cell must hold, from the records and the spec -------------------

FORBIDDEN = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
MAX_CELL = 32_767
MARKER = "…[truncated]"
LARGE_INTEGER = 10**15
EXCEL_MAX = 9.99999999999999e307
NON_FINITE = {"nan", "inf", "-inf", "+inf", "infinity", "-infinity", "+infinity"}


def _text(value: str) -> xr.Cell:
    value = FORBIDDEN.sub("", value)
    if len(value) > MAX_CELL:
        value = value[:MAX_CELL - len(MARKER)] + MARKER
    return ("string", value) if value else None


def _raw_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _number(value: Any, integer: bool) -> int | float | None:
    if isinstance(value, str):
        text = value.strip()
        if text == "" or text.lower() in NON_FINITE:
            return None
        if re.fullmatch(r"[+-]?\d+", text):
            return int(text)
        number = float(text)
        return int(number) if integer else (None if not math.isfinite(number) else number)
    if isinstance(value, float):
        if not math.isfinite(value):
            return None
        return int(value) if integer else value
    return value


def _moment(value: Any, shown: Any, assumed: Any) -> datetime | date:
    if isinstance(value, (int, float)):
        seconds = value / 1000 if abs(value) >= 10**11 else value
        return datetime.fromtimestamp(seconds, UTC).astimezone(shown)
    text = value.strip()
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
        return date.fromisoformat(text)
    moment = datetime.fromisoformat(text)
    if moment.tzinfo is None:
        # An hour that a DST change skips (02:30 on 2024-03-10 in New York) is read with the
        # offset before the change, and shown after it (03:30): through UTC.
        moment = moment.replace(tzinfo=assumed).astimezone(UTC)
    return moment.astimezone(shown)


def _zone(name: str):
    return UTC if name.upper() == "UTC" else ZoneInfo(name)


def expected_cell(column: Column, value: Any, spec: ExportSpec) -> xr.Cell:
    options = spec.options
    null = _text(options.null_display) if options.null_display else None
    if value is None or (value == "" and column.type != "string"):
        return null
    labels = column.value_map or {}
    kind = column.type
    if kind == "string":
        text = _raw_text(value)
        return _text(labels.get(text, text))
    if kind in ("integer", "number", "currency"):
        number = _number(value, kind == "integer")
        if number is None:
            return null
        if isinstance(number, int) and abs(number) >= LARGE_INTEGER:
            return ("string", str(number))          # all the digits, as text
        if isinstance(number, float) and abs(number) > EXCEL_MAX:
            return ("string", repr(number))
        return ("number", number)
    if kind in ("date", "datetime"):
        shown, assumed = _zone(options.timezone), _zone(options.assume_timezone)
        moment = _moment(value, shown, assumed)
        if kind == "date":
            day = moment.date() if isinstance(moment, datetime) else moment
            return ("date", f"{day.isoformat()}T00:00:00")
        if not isinstance(moment, datetime):
            moment = datetime(moment.year, moment.month, moment.day, tzinfo=assumed).astimezone(shown)
        _check_dates(moment)
        return ("date", xr.iso(moment))
    if kind == "boolean":
        if isinstance(value, str):
            flag = value.strip().lower() in ("1", "true", "yes", "y", "t", "on")
        else:
            flag = bool(value)
        label = labels.get("true" if flag else "false")
        return _text(label) if label is not None else ("boolean", flag)
    if kind == "enum":
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        key = _raw_text(value)
        if isinstance(value, str) and re.fullmatch(r"[+-]?\d+", value) and str(int(value)) == value:
            key = str(int(value))
        return _text(labels.get(key, key))
    raise AssertionError(f"the oracle knows no type {kind!r}")


def _check_dates(moment: datetime) -> None:
    assert moment.date() not in (date(1900, 1, 1), date(1900, 2, 28)), \
        f"{moment}: see the note above DATE_INPUTS; such date-times are left out of this test"


def expected_workbook(case: Case) -> xr.Workbook:
    spec = case.spec
    assert spec is not None
    header: list[xr.Cell] = [("string", c.header) for c in spec.columns]
    rows = [[expected_cell(c, record.get(c.field), spec) for c in spec.columns] for record in case.records]
    groups: dict[str, list[list[xr.Cell]]] = {}
    split = spec.options.split_by
    if split:
        index = [c.field for c in spec.columns].index(split)
        for row in rows:
            cell = row[index]
            groups.setdefault(cell[1] if cell else (spec.options.null_display or "(blank)"), []).append(row)
    else:
        groups[spec.options.sheet_name or spec.title] = rows
    limit = case.max_rows or 1_048_575
    workbook: xr.Workbook = []
    for name, group in groups.items():
        for number, start in enumerate(range(0, max(len(group), 1), limit), start=1):
            sheet_name = name if number == 1 else f"{name} ({number})"
            workbook.append((sheet_name, xr.trim([list(header)] + [list(r) for r in group[start:start + limit]])))
    return workbook


# --- the tests -----------------------------------------------------------------------------

@pytest.mark.parametrize("case_id", CASE_IDS)
def test_openpyxl_reads_the_records(built, readings, case_id):
    case = built[case_id]
    got = readings.get("openpyxl", case.path)
    want = expected_workbook(case)
    assert [n for n, _ in got] == case.sheets, "the file's sheets are not those the export reported"
    problems = xr.differences("openpyxl", got, want, "records")
    assert not problems, f"{case.path.name}: " + xr.report(problems)


@pytest.mark.parametrize("case_id", CASE_IDS)
@pytest.mark.parametrize("reader", ["calamine", "exceljs", "sheetjs", "libreoffice"])
def test_reader_agrees_with_openpyxl(built, readings, reader, case_id):
    case = built[case_id]
    want = readings.get("openpyxl", case.path)
    got = readings.get(reader, case.path)
    if reader == "libreoffice":
        problems = xr.differences(reader, got, want, "openpyxl", adapt=xr.for_libreoffice, rel=1e-14)
    else:
        problems = xr.differences(reader, got, want, "openpyxl")
    assert not problems, f"{case.path.name}: " + xr.report(problems)


# --- the harness itself, on a file of xlsxwriter's ------------------------------------------

# Date-times at multiples of 675 s (2^-7 day): their serials are exact doubles, so a reader
# that truncates to the millisecond (SheetJS) still reads the second; xlsxwriter does not nudge
# its serials as the engine does (fastxlsx.truncation_safe), and this test checks the harness.
HARNESS_CELLS: list[list[Any]] = [
    ["text", "cr lf", "literal", "formula-like", "emoji", "xml", "spaces", "number", "flag", "day", "moment"],
    ["plain", "a\r\nb", "_x000D_", "=1+1", "🇮🇩 👩🏽‍🎓", "<&>\"'", "  two  ", 1.5, True,
     date(1900, 1, 2), datetime(1900, 1, 2, 8, 26, 15)],
    ["مرحبا", "cr\ronly", "_x005F_", "@SUM(A1)", "𝔘", "]]>", "\tx", -2.25, False,
     date(1900, 2, 28), datetime(1900, 2, 27, 23, 48, 45)],
    ["", "\n", "_xZZZZ_", "+1", "✨", "&amp;", "x" * 32_767, 123_456_789_012_345, None,
     date(1900, 3, 1), datetime(2024, 3, 10, 0, 11, 15)],
    [None, "x", "y", "-1", "z", "w", "v", 0.1, True, date(9999, 12, 31), datetime(1969, 12, 31, 23, 48, 45)],
]


def _harness_expected() -> xr.Workbook:
    rows: list[list[xr.Cell]] = []
    for row in HARNESS_CELLS:
        cells: list[xr.Cell] = []
        for value in row:
            if value is None or value == "":
                cells.append(None)
            elif isinstance(value, bool):
                cells.append(("boolean", value))
            elif isinstance(value, datetime):
                cells.append(("date", xr.iso(value)))
            elif isinstance(value, date):
                cells.append(("date", f"{value.isoformat()}T00:00:00"))
            elif isinstance(value, (int, float)):
                cells.append(("number", value))
            else:
                cells.append(("string", value))
        rows.append(cells)
    return [("Sheet One", xr.trim(rows)), ("2024", [[], [None, ("number", 3)]])]


def _write_harness_file(path: Path) -> None:
    book = xlsxwriter.Workbook(str(path), {"strings_to_formulas": False, "strings_to_numbers": False,
                                           "strings_to_urls": False})
    day, moment = book.add_format({"num_format": "dd/mm/yyyy"}), book.add_format({"num_format": "yyyy-mm-dd hh:mm"})
    sheet = book.add_worksheet("Sheet One")
    for r, row in enumerate(HARNESS_CELLS):
        for c, value in enumerate(row):
            if value is None:
                continue
            if isinstance(value, bool):
                sheet.write_boolean(r, c, value)
            elif isinstance(value, datetime):
                sheet.write_datetime(r, c, value, moment)
            elif isinstance(value, date):
                sheet.write_datetime(r, c, value, day)
            elif isinstance(value, (int, float)):
                sheet.write_number(r, c, value)
            else:
                sheet.write_string(r, c, value)
    book.add_worksheet("2024").write_number(1, 1, 3)   # an integer-like name: sheet order must hold
    book.close()


@pytest.mark.parametrize("reader", xr.READERS)
def test_harness_on_an_xlsxwriter_file(readings, harness_file, reader):
    want = _harness_expected()
    got = readings.get(reader, harness_file)
    if reader == "openpyxl":
        # openpyxl strips "x005F_" from shared strings (xlsxwriter's) and decodes no other
        # escape: _x000D_ and _x005F_x000D_ both come back as the text _x000D_. Texts with "_x"
        # are unknowable there; the engine's inline strings keep them (decoded by read_openpyxl).
        escaped = {(name, r, c) for name, rows in want for r, row in enumerate(rows)
                   for c, cell in enumerate(row) if cell and cell[0] == "string" and "_x" in cell[1]}
        want, got = ([(name, [[None if (name, r, c) in escaped else cell for c, cell in enumerate(row)]
                              for r, row in enumerate(rows)]) for name, rows in book] for book in (want, got))
    if reader == "libreoffice":
        problems = xr.differences(reader, got, want, "written", adapt=xr.for_libreoffice, rel=1e-14)
    else:
        problems = xr.differences(reader, got, want, "written")
    assert not problems, xr.report(problems)


def test_reader_versions_are_the_pinned_ones():
    """The npm packages are the versions of package.json (npm ci from package-lock.json)."""
    pinned = json.loads((xr.NODE_DIR / "package.json").read_text(encoding="utf-8"))["dependencies"]
    installed = xr.node_versions()
    assert installed, f"exceljs and xlsx are not installed: {xr.INSTALL_HINT}"
    assert installed == pinned, f"installed {installed}, package.json pins {pinned}: {xr.INSTALL_HINT}"
    assert xr.soffice_version(), f"soffice is missing: {xr.INSTALL_HINT}"

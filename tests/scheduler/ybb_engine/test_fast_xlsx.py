"""The fast path against the reference: same cells (python-calamine and openpyxl), same
warnings, same CSV/JSON bytes; plus the pieces it is built from (CRC combination, the
streamed ZIP, the OOXML package)."""
from __future__ import annotations

import json
import math
import random
import zipfile
import zlib
from datetime import date, datetime
from pathlib import Path

import openpyxl
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st
from python_calamine import CalamineWorkbook

import samples
from reference.export import combine_partitions, prepare_partition, write_export
from ybb_engine import columnar, fastexport, ooxml
from ybb_engine.errors import EngineError
from ybb_engine.spec import ExportSpec, build_spec
from ybb_engine.templates import load_templates
from ybb_engine.zipstream import ZipStreamWriter, crc32_combine, deflate_piece, finish_deflate

REGISTRY = load_templates()


def make_spec(request: dict, sample=()) -> ExportSpec:
    return ExportSpec.from_dict(json.loads(json.dumps(build_spec(request, REGISTRY, sample).to_dict())))


def both(records: list, request: dict, directory: Path, parts: int = 3):
    spec = make_spec(request, records[:100])
    size = max(1, -(-len(records) // parts))
    chunks = [records[i:i + size] for i in range(0, len(records), size)]
    fast_path, ref_path = directory / f"fast.{spec.format}", directory / f"ref.{spec.format}"
    fast = fastexport.run_local(chunks, spec, fast_path, directory / "work")
    prepared = [prepare_partition(c, spec, row_offset=i * size) for i, c in enumerate(chunks)]
    ref = write_export(combine_partitions(prepared, spec), spec, ref_path)
    return fast, fast_path, ref, ref_path


def calamine(path: Path) -> dict:
    book = CalamineWorkbook.from_path(str(path))
    return {n: book.get_sheet_by_name(n).to_python(skip_empty_area=False) for n in book.sheet_names}


def openpyxl_cells(path: Path) -> dict:
    book = openpyxl.load_workbook(path)
    return {s.title: [[(c.value, c.data_type, c.number_format if c.value is not None else None) for c in row]
                      for row in s.iter_rows()] for s in book.worksheets}


def same(a, b) -> bool:
    if isinstance(a, float) and isinstance(b, (int, float)) and not isinstance(b, bool):
        return math.isclose(a, b, rel_tol=1e-15) or a == b
    return a == b


def assert_same_workbooks(fast_path: Path, ref_path: Path) -> None:
    """Cell for cell through both readers: values, types and number formats."""
    fast, ref = calamine(fast_path), calamine(ref_path)
    assert list(fast) == list(ref)
    for name in ref:
        assert len(fast[name]) == len(ref[name]), name
        for got_row, want_row in zip(fast[name], ref[name]):
            assert len(got_row) == len(want_row) and all(same(g, w) for g, w in zip(got_row, want_row)), \
                (got_row, want_row)
    fast_cells, ref_cells = openpyxl_cells(fast_path), openpyxl_cells(ref_path)
    for name in ref_cells:
        # openpyxl keeps the <c/> of an empty cell: compare the cells that hold something.
        got = [[c for c in row if c[0] is not None] for row in fast_cells[name]]
        want = [[c for c in row if c[0] is not None] for row in ref_cells[name]]
        got = [r for r in got if r] if any(want) else got
        want = [r for r in want if r]
        got = [r for r in got if r]
        assert len(got) == len(want)
        for got_row, want_row in zip(got, want):
            assert [(c[1], c[2]) for c in got_row] == [(c[1], c[2]) for c in want_row]
            assert all(same(g[0], w[0]) for g, w in zip(got_row, want_row)), (got_row, want_row)
    with zipfile.ZipFile(fast_path) as archive:
        assert archive.testzip() is None


# --- CRC-32 combination and the streamed ZIP ---------------------------------------------------

@pytest.mark.parametrize("sizes", [(0, 0), (1, 0), (0, 5), (3, 7), (1000, 1), (65536, 12345), (1, 1 << 20)])
def test_crc32_combine_matches_zlib(sizes):
    rng = random.Random(sum(sizes))
    a, b = (bytes(rng.getrandbits(8) for _ in range(min(n, 4096))) * (n // 4096 + 1) for n in sizes)
    a, b = a[:sizes[0]], b[:sizes[1]]
    assert crc32_combine(zlib.crc32(a), zlib.crc32(b), len(b)) == zlib.crc32(a + b)


@pytest.mark.parametrize("zip64", [False, True])
def test_deflated_pieces_concatenate_into_a_valid_entry(tmp_path, zip64):
    texts = [b"<row>" + bytes(str(i), "ascii") * 50 + b"</row>" for i in range(300)]
    chunk_file = tmp_path / "chunk.bin"
    middle = deflate_piece(b"".join(texts[100:200]))
    chunk_file.write_bytes(middle.data)
    from ybb_engine.zipstream import Piece

    pieces = [deflate_piece(b"".join(texts[:100])), Piece(middle.crc, middle.raw_size, middle.size, path=str(chunk_file)),
              deflate_piece(b""), deflate_piece(b"".join(texts[200:])), finish_deflate()]
    with open(tmp_path / "out.zip", "wb") as handle:
        writer = ZipStreamWriter(handle, force_zip64=zip64)
        writer.add_bytes("a.txt", b"hello")
        writer.add_pieces("dir/sheet.xml", pieces)
        writer.close()
    with zipfile.ZipFile(tmp_path / "out.zip") as archive:
        assert archive.testzip() is None
        assert archive.read("dir/sheet.xml") == b"".join(texts)
        assert archive.read("a.txt") == b"hello"


# --- the package ------------------------------------------------------------------------------

def test_package_structure(tmp_path):
    records = samples.payments(200, seed=5)
    fast, path, _, _ = both(records, {"template": "payments/detailed", "options": {"title": "Payments & Co"}}, tmp_path)
    with zipfile.ZipFile(path) as archive:
        names = set(archive.namelist())
        assert {"[Content_Types].xml", "_rels/.rels", "xl/workbook.xml", "xl/_rels/workbook.xml.rels",
                "xl/styles.xml", "docProps/core.xml", "docProps/app.xml", "xl/worksheets/sheet1.xml"} <= names
        styles = archive.read("xl/styles.xml").decode()
        assert '"IDR" #,##0.00' in styles.replace("&quot;", '"') and "yyyy-mm-dd hh:mm" in styles
        sheet = archive.read("xl/worksheets/sheet1.xml").decode()
        data = sheet.split("<sheetData>")[1]
        assert data.startswith('<row r="1"><c r="A1" s="1" t="inlineStr">') and '<row r="201"><c r="A201"' in data
        assert '<row r="202"' not in data and '<dimension ref="A1:Y201"/>' in sheet  # every row and cell placed
    book = openpyxl.load_workbook(path)
    assert book.properties.title == "Payments & Co" and book.properties.creator == ooxml.AUTHOR
    assert book.properties.created is not None
    ws = book.active
    assert ws.freeze_panes == "A2" and ws.auto_filter.ref == "A1:Y201"
    assert all(c.font.bold and c.fill.fgColor.rgb.endswith("D9E1F2") for c in ws[1])
    assert ws.column_dimensions["B"].width == pytest.approx(22, abs=1)
    values = CalamineWorkbook.from_path(str(path)).get_sheet_by_index(0).to_python()
    assert len(values) == 201 and fast.rows == 200


# --- differential: fast == reference -----------------------------------------------------------

TEMPLATES = ["participants/complete", "payments/detailed", "ambassadors/detailed"]
MAKERS = {"participants": samples.participants, "payments": samples.payments, "ambassadors": samples.ambassadors}


@pytest.mark.parametrize("template", TEMPLATES)
@pytest.mark.parametrize("fmt", ["xlsx", "csv", "json", "ndjson"])
def test_templates_same_as_reference(tmp_path, template, fmt):
    records = MAKERS[template.split("/")[0]](400, seed=11)
    fast, fast_path, ref, ref_path = both(records, {"template": template, "format": fmt}, tmp_path)
    assert fast.warnings == ref.warnings and fast.rows == ref.rows
    if fmt == "xlsx":
        assert_same_workbooks(fast_path, ref_path)
    else:
        assert fast_path.read_bytes() == ref_path.read_bytes()


OPTIONS = [
    {"timezone": "Asia/Jakarta", "null_display": "N/A", "date_format": "dd/mm/yyyy"},
    {"assume_timezone": "America/New_York", "datetime_format": "d mmmm yyyy h:mm AM/PM"},
    {"json": {"formatted": True}, "null_display": "-"},
]


@pytest.mark.parametrize("options", OPTIONS)
@pytest.mark.parametrize("fmt", ["xlsx", "csv", "json"])
def test_options_same_as_reference(tmp_path, options, fmt):
    records = samples.payments(300, seed=2)
    fast, fast_path, ref, ref_path = both(records, {"template": "payments/detailed", "format": fmt,
                                                    "options": options}, tmp_path)
    assert fast.warnings == ref.warnings
    if fmt == "xlsx":
        assert_same_workbooks(fast_path, ref_path)
    else:
        assert fast_path.read_bytes() == ref_path.read_bytes()


@pytest.mark.parametrize("request_", [
    {"sort": ["-created_at"]},
    {"sort": ["nationality", "-id"], "dedupe": "email"},
    {"dedupe": ["nationality", "gender"]},
    {"sort": ["institution"], "options": {"split_by": "form_status"}},
    {"options": {"split_by": "nationality", "sheet_name": "x"}, "filters": [{"field": "id", "op": "gt", "value": 40}]},
    {"filters": [{"field": "nationality", "op": "in", "value": ["Indonesia", "Japan"]}], "sort": ["-birthdate"]},
])
def test_sort_dedupe_split_same_as_reference(tmp_path, request_):
    records = samples.participants(500, seed=4)
    for i in range(0, 500, 7):  # duplicates spread over the partitions
        records[i]["email"] = records[(i * 13) % 500]["email"]
    fast, fast_path, ref, ref_path = both(records, {"template": "participants/detailed", **request_}, tmp_path,
                                          parts=5)
    assert fast.sheets == ref.sheets and fast.warnings == ref.warnings and fast.rows == ref.rows
    assert_same_workbooks(fast_path, ref_path)


def test_sheet_overflow_with_split_and_sort(tmp_path, monkeypatch):
    monkeypatch.setattr(ooxml, "MAX_ROWS_PER_SHEET", 7)
    records = samples.participants(60, seed=9)
    fast, fast_path, ref, ref_path = both(records, {"template": "participants/summary", "sort": ["full_name"],
                                                    "options": {"split_by": "category"}}, tmp_path, parts=4)
    assert fast.sheets == ref.sheets and len(fast.sheets) > 4
    assert_same_workbooks(fast_path, ref_path)


# Values every safety rule touches, in columns that the vectorised path renders and in
# columns that fall back to per-cell rendering (mixed types after on_invalid=coerce).
COLUMNS = [
    {"field": "text", "type": "string"},
    {"field": "int", "type": "integer"},
    {"field": "num", "type": "number"},
    {"field": "day", "type": "date"},
    {"field": "at", "type": "datetime"},
    {"field": "flag", "type": "boolean"},
    {"field": "status", "type": "enum", "value_map": {"0": "Zero", "2": "Two"}},
]
SPECIAL = ["\x00", "\x1b", "\ud800", "\ufffe", "\t", "\r", "\n", "=", "+", "-", "@", "&", "<", ">", "]]>", '"',
           "مرحبا", "🇮🇩", "_x0041_", "_X00a1_", " ", "\u3000", "\xa0", "\x85"]
texts = st.lists(st.one_of(st.characters(), st.sampled_from(SPECIAL)), max_size=12).map("".join)
records = st.lists(st.fixed_dictionaries({
    "text": st.none() | texts | st.integers(-5, 5),
    "int": st.none() | st.integers(-(10**16), 10**16) | st.integers(-(2**70), 2**70) | st.just("12"),
    "num": st.none() | st.floats(allow_nan=True, allow_infinity=True) | st.integers(-(10**15), 10**15)
    | st.sampled_from([1.7976931348623157e308, "1e999", "NaN", "3.25"]),
    "day": st.none() | st.dates(date(1900, 1, 1), date(9998, 12, 31)).map(date.isoformat)
    | st.sampled_from(["0000-00-00", "2024-02-30", ""]),
    "at": st.none() | st.datetimes(datetime(1900, 1, 1), datetime(9998, 12, 31)).map(
        lambda d: d.strftime("%Y-%m-%d %H:%M:%S")) | st.sampled_from(["2024-03-10 02:30:00", "2024-11-03 01:30:00"]),
    "flag": st.none() | st.booleans() | st.sampled_from([0, 1, "yes"]),
    "status": st.none() | st.sampled_from([0, 2, "2", "0", 7]),
}), max_size=14)


@settings(max_examples=30, deadline=None, report_multiple_bugs=False, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(rows=records, fmt=st.sampled_from(["xlsx", "csv", "json"]), options=st.sampled_from([
    {"on_invalid": "coerce"},
    {"on_invalid": "coerce", "timezone": "Asia/Jakarta", "assume_timezone": "America/New_York", "null_display": "N/A"},
]))
def test_any_records_same_as_reference(tmp_path_factory, rows, fmt, options):
    directory = tmp_path_factory.mktemp("prop")
    fast, fast_path, ref, ref_path = both(rows, {"columns": COLUMNS, "format": fmt, "options": options}, directory)
    assert fast.warnings == ref.warnings and fast.rows == ref.rows
    if fmt == "xlsx":
        assert_same_workbooks(fast_path, ref_path)
    else:
        assert fast_path.read_bytes() == ref_path.read_bytes()


# --- the columnar prepare step ---------------------------------------------------------------

def test_columnar_prepare_equals_the_reference():
    spec = make_spec({"template": "payments/detailed", "options": {"timezone": "Asia/Jakarta"}})
    records = samples.payments(300, seed=8)
    fast = columnar.prepare_columns(records, spec, 0)
    ref = prepare_partition(records, spec, 0)
    assert fast.to_rows() == ref.rows and fast.warnings == ref.warnings


def test_columnar_prepare_reports_errors_like_the_reference():
    spec = make_spec({"columns": COLUMNS})
    records = [{"int": 1}, {"int": "x", "day": "31/12/2024"}, {"status": 9}, {"text": "y" * 40_000}]
    with pytest.raises(EngineError) as ours:
        columnar.prepare_columns(records, spec, 10)
    with pytest.raises(EngineError) as theirs:
        prepare_partition(records, spec, 10)
    assert (ours.value.code, ours.value.message, ours.value.errors) == \
        (theirs.value.code, theirs.value.message, theirs.value.errors)


def test_empty_export_has_a_header_only_sheet(tmp_path):
    fast, fast_path, ref, ref_path = both([], {"columns": COLUMNS, "options": {"sheet_name": "Nobody"}}, tmp_path)
    assert fast.sheets == ref.sheets == ["Nobody"] and fast.rows == 0
    assert calamine(fast_path) == calamine(ref_path)

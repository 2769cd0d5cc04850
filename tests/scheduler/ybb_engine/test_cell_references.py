"""Every row of the fast path's sheets carries r = its 1-based position in the sheet and every
cell r = its column letter and row, and the sheet's <dimension> spans exactly the rows and
columns written: exceljs, Apache POI's event reader and excelize need the references. Checked on
the sheet XML itself (a streaming parse of the ZIP entries), for the fused graph, the general
graph (sort, dedupe), split_by, sheet overflow, per-cell columns and an empty export; the values
against the reference writer through python-calamine, which places cells by their r."""
from __future__ import annotations

import json
import zipfile
from pathlib import Path
from xml.etree import ElementTree

import pytest
import samples
from python_calamine import CalamineWorkbook
from reference.export import combine_partitions, prepare_partition, write_export

from ybb_engine import fastexport, ooxml
from ybb_engine.fastexport import ExportResult
from ybb_engine.spec import ExportSpec, build_spec
from ybb_engine.templates import load_templates

REGISTRY = load_templates()
MAIN = f"{{{ooxml.NS_MAIN}}}"


def make_spec(request: dict, sample=()) -> ExportSpec:
    return ExportSpec.from_dict(json.loads(json.dumps(build_spec(request, REGISTRY, sample).to_dict())))


def export(records: list, request: dict, directory: Path, parts: int) -> tuple[ExportSpec, ExportResult, Path, Path]:
    """The fast path in `parts` partitions, and the reference writer on the same records."""
    spec = make_spec(request, records[:100])
    size = max(1, -(-len(records) // parts))
    chunks = [records[i:i + size] for i in range(0, len(records), size)]
    fast_path, ref_path = directory / "fast.xlsx", directory / "ref.xlsx"
    result = fastexport.run_local(chunks, spec, fast_path, directory / "work")
    prepared = [prepare_partition(c, spec, row_offset=i * size) for i, c in enumerate(chunks)]
    write_export(combine_partitions(prepared, spec), spec, ref_path)
    return spec, result, fast_path, ref_path


def sheet_references(path: Path) -> list[tuple[str | None, list[tuple[str | None, list[str | None]]]]]:
    """Per worksheet, in order: its dimension ref and, per <row>, (r, [r of each <c>])."""
    found = []
    with zipfile.ZipFile(path) as archive:
        count = sum(1 for n in archive.namelist() if n.startswith("xl/worksheets/sheet"))
        for number in range(1, count + 1):
            dimension, rows = None, []
            with archive.open(f"xl/worksheets/sheet{number}.xml") as stream:
                for _, element in ElementTree.iterparse(stream, events=("end",)):
                    if element.tag == f"{MAIN}dimension":
                        dimension = element.get("ref")
                    elif element.tag == f"{MAIN}row":
                        rows.append((element.get("r"), [c.get("r") for c in element.iter(f"{MAIN}c")]))
                        element.clear()
            found.append((dimension, rows))
    return found


def assert_placed(path: Path, columns: int, result: ExportResult, ref_path: Path) -> list[int]:
    """Rows numbered 1, 2, ... in every sheet, cells A, B, ... of their row, the dimension exact; the
    same sheets, rows and values as the reference. Returns the data rows of each sheet."""
    letters = [ooxml.column_letter(c) for c in range(columns)]
    sheets = sheet_references(path)
    assert len(sheets) == len(result.sheets)
    data_rows = []
    for dimension, rows in sheets:
        assert [r for r, _ in rows] == [str(n) for n in range(1, len(rows) + 1)]
        for r, cells in rows:
            assert cells == [f"{letter}{r}" for letter in letters], r
        assert dimension == f"A1:{letters[-1]}{len(rows)}"
        data_rows.append(len(rows) - 1)
    assert sum(data_rows) == result.rows
    fast, ref = CalamineWorkbook.from_path(str(path)), CalamineWorkbook.from_path(str(ref_path))
    assert fast.sheet_names == ref.sheet_names == result.sheets
    for name in ref.sheet_names:
        got = fast.get_sheet_by_name(name).to_python(skip_empty_area=False)
        want = ref.get_sheet_by_name(name).to_python(skip_empty_area=False)
        assert got == want, name
    return data_rows


def duplicated(n: int, seed: int) -> list[dict]:
    records = samples.participants(n, seed=seed)
    for i in range(0, n, 7):  # duplicates spread over the partitions
        records[i]["email"] = records[(i * 13) % n]["email"]
    return records


def test_fused_export_in_many_partitions(tmp_path):
    records = samples.participants(1000, seed=3)
    spec, result, path, ref = export(records, {"template": "participants/complete"}, tmp_path, parts=7)
    assert fastexport.can_fuse(spec)
    assert assert_placed(path, len(spec.columns), result, ref) == [1000]


def test_ordered_export_in_the_general_graph(tmp_path):
    records = duplicated(600, seed=4)
    request = {"template": "participants/detailed", "sort": ["nationality", "-id"], "dedupe": "email"}
    spec, result, path, ref = export(records, request, tmp_path, parts=5)
    assert not fastexport.can_fuse(spec) and result.warnings["duplicates_removed"] > 0
    assert assert_placed(path, len(spec.columns), result, ref) == [result.rows]


def test_split_by_gives_each_sheet_its_own_rows(tmp_path):
    records = samples.participants(500, seed=6)
    request = {"template": "participants/detailed", "sort": ["institution"], "options": {"split_by": "form_status"}}
    spec, result, path, ref = export(records, request, tmp_path, parts=4)
    data_rows = assert_placed(path, len(spec.columns), result, ref)
    assert len(data_rows) > 2 and sum(data_rows) == 500


@pytest.mark.parametrize("request_", [
    {"template": "participants/summary"},                                           # fused
    {"template": "participants/summary", "sort": ["full_name"]},                    # general
    {"template": "participants/summary", "options": {"split_by": "category"}},      # split, then overflow
])
def test_sheet_overflow_restarts_at_row_2(tmp_path, monkeypatch, request_):
    monkeypatch.setattr(ooxml, "MAX_ROWS_PER_SHEET", 7)
    records = samples.participants(60, seed=9)
    spec, result, path, ref = export(records, request_, tmp_path, parts=4)  # partitions of 15 rows straddle sheets
    data_rows = assert_placed(path, len(spec.columns), result, ref)
    assert max(data_rows) == 7 and len(data_rows) >= 9


def test_per_cell_columns_and_null_display(tmp_path):
    """Columns rendered cell by cell (mixed values after on_invalid=coerce, date-times before
    1900-03-01) and the null_display cell get their references too."""
    columns = [{"field": "n", "type": "integer"}, {"field": "mixed", "type": "number"},
               {"field": "at", "type": "datetime"}, {"field": "note", "type": "string"}]
    records = [{"n": i, "mixed": [1.5, "x", None, 2 ** 70][i % 4], "at": ["1899-05-01 10:00:00", None][i % 2],
                "note": [None, " padded ", "a&b"][i % 3]} for i in range(40)]
    request = {"columns": columns, "options": {"on_invalid": "coerce", "null_display": "N/A"}}
    spec, result, path, ref = export(records, request, tmp_path, parts=3)
    assert assert_placed(path, len(columns), result, ref) == [40]


def test_empty_export_has_only_the_header_row(tmp_path):
    spec, result, path, ref = export([], {"template": "participants/summary"}, tmp_path, parts=1)
    assert assert_placed(path, len(spec.columns), result, ref) == [0]
    assert sheet_references(path)[0][1] == [("1", [f"{ooxml.column_letter(c)}1" for c in range(len(spec.columns))])]

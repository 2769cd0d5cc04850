"""Fixtures shared by the engine tests: the template registry, a one-call export, and
independent readers for every produced format."""
from __future__ import annotations

import csv
import io
import json
import re
from pathlib import Path
from typing import Callable

import openpyxl
import pytest
from python_calamine import CalamineWorkbook

from reference.export import combine_partitions, prepare_partition, write_export
from ybb_engine.fastexport import ExportResult, run_local
from ybb_engine.spec import ExportSpec, build_spec
from ybb_engine.templates import TemplateRegistry, load_templates


@pytest.fixture(scope="session")
def registry() -> TemplateRegistry:
    return load_templates()


@pytest.fixture
def spec_for(registry) -> Callable[..., ExportSpec]:
    """build_spec, then a JSON round trip as the API and the Dask workers do."""
    def make(request: dict, sample=()) -> ExportSpec:
        spec = build_spec(request, registry, sample)
        return ExportSpec.from_dict(json.loads(json.dumps(spec.to_dict())))
    return make


@pytest.fixture(params=["reference", "fast"])
def engine(request) -> str:
    """Every export test runs twice: the reference writers (xlsxwriter, one merge) and the fast
    partitioned path (ybb_engine.fastexport: columnar prepare, vectorised render, streamed merge)."""
    return request.param


@pytest.fixture
def run_export(spec_for, tmp_path, engine) -> Callable[..., tuple[ExportResult, Path]]:
    """Run the whole pipeline (prepare in `parts` partitions, combine, write)."""
    def run(records: list, request: dict, parts: int = 1, name: str = "out") -> tuple[ExportResult, Path]:
        spec = spec_for(request, records[:100])
        size = max(1, -(-len(records) // parts))
        path = tmp_path / f"{name}.{spec.format}"
        if engine == "fast":
            chunks = [records[i:i + size] for i in range(0, len(records), size)]
            return run_local(chunks, spec, path, tmp_path / f"{name}-work"), path
        prepared = [prepare_partition(records[i:i + size], spec, row_offset=i) for i in range(0, len(records), size)]
        combined = combine_partitions(prepared, spec)
        return write_export(combined, spec, path), path
    return run


@pytest.fixture(scope="session")
def read_calamine() -> Callable[[Path], dict[str, list[list]]]:
    def read(path: Path) -> dict[str, list[list]]:
        book = CalamineWorkbook.from_path(str(path))
        return {name: book.get_sheet_by_name(name).to_python(skip_empty_area=False) for name in book.sheet_names}
    return read


@pytest.fixture(scope="session")
def read_openpyxl() -> Callable[[Path], openpyxl.Workbook]:
    def read(path: Path) -> openpyxl.Workbook:
        return openpyxl.load_workbook(path)
    return read


@pytest.fixture(scope="session")
def read_openpyxl_rows() -> Callable[[Path], dict[str, list[list]]]:
    """Cell values per sheet through openpyxl, with the _xHHHH_ escapes of inline strings decoded."""
    def read(path: Path) -> dict[str, list[list]]:
        book = openpyxl.load_workbook(path)
        return {sheet.title: [[ooxml_unescape(v) for v in row] for row in sheet.iter_rows(values_only=True)]
                for sheet in book.worksheets}
    return read


@pytest.fixture(scope="session")
def read_csv() -> Callable[..., list[list[str]]]:
    def read(path: Path, encoding: str = "utf-8", **fmt) -> list[list[str]]:
        text = path.read_bytes().decode(encoding)
        return list(csv.reader(io.StringIO(text, newline=""), **fmt))
    return read


@pytest.fixture(scope="session")
def read_json() -> Callable[[Path], list[dict]]:
    def read(path: Path) -> list[dict]:
        text = path.read_text(encoding="utf-8")
        if path.suffix == ".ndjson":
            return [json.loads(line) for line in text.split("\n") if line]
        return json.loads(text)
    return read


_OOXML_ESCAPE = re.compile(r"_x([0-9A-Fa-f]{4})_")


def ooxml_unescape(text):
    """openpyxl leaves the _xHHHH_ escapes of inline strings as they are; Excel and calamine decode them."""
    if not isinstance(text, str):
        return text
    return _OOXML_ESCAPE.sub(lambda m: chr(int(m.group(1), 16)), text)

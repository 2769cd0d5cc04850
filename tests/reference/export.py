"""The reference export: the per-cell parse of each partition (production's
`ybb_engine.cells.prepare_partition`), one in-memory merge (`combine_partitions`), then a
whole-file writer per format (`write_export`). The fast path must give the same files."""
from __future__ import annotations

from pathlib import Path
from typing import Sequence

from ybb_engine import writer_csv, writer_json
from ybb_engine.cells import Partition, prepare_partition
from ybb_engine.fastexport import ExportResult
from ybb_engine.operations import dedupe_rows, sort_rows
from ybb_engine.safety import add_warnings, empty_warnings
from ybb_engine.spec import ExportSpec

from .writer_xlsx import write_xlsx

__all__ = ["ExportResult", "Partition", "combine_partitions", "prepare_partition", "write_export"]


def combine_partitions(parts: Sequence[Partition], spec: ExportSpec) -> Partition:
    """Concatenate in order, dedupe (first occurrence wins), then sort globally (stable, nulls last)."""
    fields = [c.field for c in spec.all_columns]
    warnings = empty_warnings()
    rows: list[tuple] = []
    for part in parts:
        if part.fields != fields:
            raise ValueError("partition fields do not match the export spec")
        rows.extend(part.rows)
        add_warnings(warnings, part.warnings)
    index = {name: i for i, name in enumerate(fields)}
    if spec.dedupe:
        before = len(rows)
        rows = dedupe_rows(rows, [index[f] for f in spec.dedupe])
        warnings["duplicates_removed"] += before - len(rows)
    if spec.sort:
        rows = sort_rows(rows, [(index[k["field"]], k["direction"] == "desc") for k in spec.sort])
    return Partition(fields=fields, rows=rows, warnings=warnings)


def write_export(part: Partition, spec: ExportSpec, out_path: Path) -> ExportResult:
    """Write the final file in spec.format; the warnings add up every change made."""
    writer = {"xlsx": write_xlsx, "csv": write_csv, "json": write_json, "ndjson": write_json}[spec.format]
    out_path = Path(out_path)
    sheets, written = writer(part, spec, out_path)
    warnings = add_warnings(dict(part.warnings), written)
    return ExportResult(rows=len(part), size_bytes=out_path.stat().st_size, warnings=warnings, sheets=sheets)


def write_csv(part: Partition, spec: ExportSpec, out_path: Path) -> tuple[list[str], dict[str, int]]:
    head, warnings = writer_csv.encode_header(spec)
    body, more = writer_csv.encode_rows(part.rows, spec)
    add_warnings(warnings, more)
    with open(out_path, "wb") as handle:
        handle.write(head)
        handle.write(body)
    return [], warnings


def write_json(part: Partition, spec: ExportSpec, out_path: Path) -> tuple[list[str], dict[str, int]]:
    body, warnings = writer_json.encode_rows(part.rows, spec)
    with open(out_path, "wb") as handle:
        if spec.format == "ndjson":
            handle.write(body)
        else:
            handle.write(b"[\n" + body + b"\n]\n" if part.rows else b"[]\n")
    return [], warnings

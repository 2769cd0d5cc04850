"""The three steps the Dask graph runs: prepare each partition, combine them, write the file."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, Sequence

from .errors import EngineError
from .operations import compile_filters, dedupe_rows, sort_rows
from .safety import (
    MAX_CELL_CHARS, add_warnings, empty_warnings, remove_forbidden_chars, sanitize_filename as _sanitize, truncate,
)
from .spec import FORMATS, ExportSpec
from .values import Blank, as_text, make_parser, map_key
from .writer_csv import write_csv
from .writer_json import write_json
from .writer_xlsx import write_xlsx

MAX_REPORTED_ERRORS = 20

_CONTENT_TYPES = {
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "csv": "text/csv; charset=utf-8",
    "json": "application/json",
    "ndjson": "application/x-ndjson",
}


@dataclass
class Partition:
    """Typed rows: one tuple per record, values in the order of spec.columns + spec.extra_columns."""
    fields: list[str]
    rows: list[tuple]
    warnings: dict[str, int] = field(default_factory=empty_warnings)

    def __len__(self) -> int:
        return len(self.rows)


@dataclass
class ExportResult:
    rows: int
    size_bytes: int
    warnings: dict[str, int]
    sheets: list[str]


def prepare_partition(records: Sequence[Mapping], spec: ExportSpec, row_offset: int = 0) -> Partition:
    """Parse every value to its column type, apply the safety rules, then the filters."""
    columns = spec.all_columns
    options = spec.options
    ctx = options.time_context()
    parsers = [make_parser(c.type, ctx) for c in columns]
    # An enum with a value map only accepts the mapped values.
    allowed = [set(c.value_map) if c.type == "enum" and c.value_map else None for c in columns]
    coerce = options.on_invalid == "coerce"
    reject_overflow = options.on_overflow == "reject"
    warnings = empty_warnings()
    invalid: list[dict] = []
    invalid_count = 0
    overflow: list[dict] = []
    rows: list[tuple] = []

    for i, record in enumerate(records):
        if not isinstance(record, Mapping):
            invalid_count += 1
            if len(invalid) < MAX_REPORTED_ERRORS:
                invalid.append({"row": row_offset + i, "field": None, "message": "a record must be an object"})
            continue
        row = []
        for column, parse, members in zip(columns, parsers, allowed):
            raw = record.get(column.field)
            if raw is None or (raw == "" and column.type != "string"):
                row.append(None)
                continue
            try:
                value = parse(raw)
                if members is not None and map_key(value) not in members:
                    raise ValueError(f"{as_text(raw)[:40]!r} is not one of {', '.join(sorted(members))}")
            except Blank as blank:
                warnings[blank.warning] += 1
                value = None
            except (ValueError, TypeError, OverflowError) as exc:
                if coerce:
                    warnings["coerced_values"] += 1
                    value = as_text(raw)
                else:
                    invalid_count += 1
                    if len(invalid) < MAX_REPORTED_ERRORS:
                        invalid.append({"row": row_offset + i, "field": column.field, "message": str(exc)})
                    value = None
            if isinstance(value, str):
                value = _safe_text(value, warnings, reject_overflow, overflow, row_offset + i, column.field)
            row.append(value)
        rows.append(tuple(row))

    if invalid:
        raise EngineError(
            "invalid_records",
            f"{invalid_count} value(s) do not match their column type (first rows listed; "
            "set options.on_invalid to 'coerce' to export them as text).",
            errors=invalid,
        )
    if overflow:
        raise EngineError(
            "cell_overflow",
            f"{len(overflow)} cell(s) exceed {MAX_CELL_CHARS} characters "
            "(set options.on_overflow to 'truncate' to cut them).",
            errors=overflow[:MAX_REPORTED_ERRORS],
        )
    keep = compile_filters(spec.filters, columns, ctx)
    if keep is not None:
        rows = [row for row in rows if keep(row)]
    return Partition(fields=[c.field for c in columns], rows=rows, warnings=warnings)


def _safe_text(value: str, warnings: dict, reject_overflow: bool, overflow: list, row: int, field_name: str) -> str:
    cleaned = remove_forbidden_chars(value)
    if cleaned != value:
        warnings["control_chars_removed"] += 1
    if len(cleaned) > MAX_CELL_CHARS:
        if reject_overflow:
            overflow.append({"row": row, "field": field_name, "length": len(cleaned)})
            return cleaned
        warnings["truncated_cells"] += 1
        cleaned = truncate(cleaned)
    return cleaned


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


def content_type(fmt: str) -> str:
    return _CONTENT_TYPES[_check_format(fmt)]


def file_extension(fmt: str) -> str:
    return _check_format(fmt)


def sanitize_filename(name: str | None, fmt: str, default: str = "export") -> str:
    return _sanitize(name, file_extension(fmt), default)


def _check_format(fmt: Any) -> str:
    if fmt not in FORMATS:
        raise EngineError("invalid_format", f"format must be one of {', '.join(FORMATS)}.")
    return fmt

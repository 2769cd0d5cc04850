"""The per-cell parse: every value of every record to its column's type, the safety rules on
texts, the filters; invalid or overflowing values reported by row and field.

`columnar.prepare_columns` does the same work column by column with pyarrow and falls back
to `prepare_partition` for the partitions it cannot take, and for exact error reports.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from .errors import EngineError
from .operations import compile_filters
from .safety import MAX_CELL_CHARS, empty_warnings, remove_forbidden_chars, truncate
from .spec import ExportSpec
from .values import Blank, as_text, make_parser, map_key

MAX_REPORTED_ERRORS = 20


@dataclass
class Partition:
    """Typed rows: one tuple per record, values in the order of spec.columns + spec.extra_columns."""
    fields: list[str]
    rows: list[tuple]
    warnings: dict[str, int] = field(default_factory=empty_warnings)

    def __len__(self) -> int:
        return len(self.rows)


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
        row: list[Any] = []
        for column, parse, members in zip(columns, parsers, allowed, strict=True):
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
                value = safe_text(value, warnings, reject_overflow, overflow, row_offset + i, column.field)
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


def safe_text(value: str, warnings: dict[str, int], reject_overflow: bool, overflow: list[dict], row: int,
              field_name: str) -> str:
    """`value` without XML-forbidden characters, truncated past MAX_CELL_CHARS; with
    `reject_overflow` a text too long is kept whole and listed in `overflow` instead."""
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

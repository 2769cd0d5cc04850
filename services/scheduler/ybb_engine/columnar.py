"""Columnar partitions: the prepare step of the fast path.

`prepare_columns` gives the same values, warnings and errors as `cells.prepare_partition`
(the per-cell parse), but column by column: a column whose raw values all have the common
shape (texts in a string column, ints in an integer column, "YYYY-MM-DD hh:mm:ss" texts in a
datetime column, ...) is parsed and checked by pyarrow.compute in C++; any other column goes
through the per-cell parser. When a value is invalid (reject) or too long (reject),
`prepare_partition` runs on the whole partition so that the error lists exactly the same
rows and fields.

A column is a pyarrow Array when its values share one type, else a Python list (coerced
texts among numbers, ints beyond 64 bits...). Partitions are saved as pickle (protocol 5,
Arrow buffers out of band) in the job's work directory.
"""
from __future__ import annotations

import os
import pickle
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from operator import itemgetter
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from .arrowtext import has_xml_forbidden_chars, longest_at_most
from .cells import Partition, prepare_partition, safe_text
from .operations import compile_filters
from .safety import MAX_CELL_CHARS, empty_warnings
from .spec import ExportSpec
from .values import Blank, as_text, make_parser, map_key

Column = Any  # pa.Array | list
_NONE = type(None)
_DATE_RE2 = r"^\d{4}-\d{2}-\d{2}$"
# Years where Arrow's time-zone conversions agree with Python's zoneinfo.
_TZDB_YEARS = (1900, 2037)
_DATETIME_RE2 = r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$"


@dataclass
class Columns:
    fields: list[str]
    types: list[str]
    columns: list[Column]
    warnings: dict[str, int] = field(default_factory=empty_warnings)
    length: int = 0

    def __len__(self) -> int:
        return self.length

    def values(self, index: int) -> list:
        column = self.columns[index]
        return column.to_pylist() if isinstance(column, pa.Array) else list(column)

    def to_rows(self) -> list[tuple]:
        return list(zip(*(self.values(i) for i in range(len(self.fields))), strict=True)) if self.length else []

    def take(self, indices: Sequence[int] | pa.Array) -> Columns:
        idx = indices if isinstance(indices, pa.Array) else pa.array(indices, pa.int64())
        py_idx = None
        out = []
        for column in self.columns:
            if isinstance(column, pa.Array):
                out.append(column.take(idx))
            else:
                py_idx = py_idx if py_idx is not None else idx.to_pylist()
                out.append([column[i] for i in py_idx])
        return Columns(self.fields, self.types, out, dict(self.warnings), len(idx))

    def slice(self, start: int, stop: int) -> Columns:
        out = [c.slice(start, stop - start) if isinstance(c, pa.Array) else c[start:stop] for c in self.columns]
        return Columns(self.fields, self.types, out, dict(self.warnings), max(0, min(stop, self.length) - start))


def concat(parts: Sequence[Columns], fields: list[str], types: list[str]) -> Columns:
    columns: list[Column] = []
    for i in range(len(fields)):
        pieces = [p.columns[i] for p in parts]
        arrow = [c for c in pieces if isinstance(c, pa.Array)]
        if len(arrow) == len(pieces) and len({c.type for c in arrow}) <= 1 and arrow:
            columns.append(pa.concat_arrays(arrow))
        else:
            merged: list = []
            for c in pieces:
                merged.extend(c.to_pylist() if isinstance(c, pa.Array) else c)
            columns.append(merged)
    return Columns(fields, types, columns, empty_warnings(), sum(len(p) for p in parts))


def from_partition(part: Partition, spec: ExportSpec) -> Columns:
    columns = spec.all_columns
    values = list(zip(*part.rows, strict=True)) if part.rows else [()] * len(columns)
    tz = _zone_name(spec)
    return Columns([c.field for c in columns], [c.type for c in columns],
                   [_to_arrow(list(v), tz) for v in values], dict(part.warnings), len(part.rows))


def save(columns: Columns, path: str | Path) -> None:
    """Atomically: a retried task never leaves a half-written file behind."""
    tmp = f"{path}.{os.getpid()}.tmp"
    with open(tmp, "wb") as out:
        pickle.dump(columns, out, protocol=5)
    os.replace(tmp, path)


def load(path: str | Path) -> Columns:
    with open(path, "rb") as source:
        return pickle.load(source)


# --- prepare -----------------------------------------------------------------------------

def prepare_columns(records: Sequence[Mapping], spec: ExportSpec, row_offset: int = 0) -> Columns:
    """Parse, check and filter one partition; same results as prepare_partition, columnar."""
    if not all(type(r) is dict for r in records) and any(not isinstance(r, Mapping) for r in records):
        return from_partition(prepare_partition(records, spec, row_offset), spec)
    options = spec.options
    ctx = options.time_context()
    tz = _zone_name(spec)
    warnings = empty_warnings()
    out: list[Column] = []
    for column, raw in zip(spec.all_columns, _raw_columns(records, [c.field for c in spec.all_columns]), strict=True):
        fast = _fast_column(column, raw, options, tz)
        if fast is None:
            values = _slow_column(column, raw, options, ctx, warnings)
            if values is None:  # an invalid or overflowing value: prepare_partition reports it exactly
                return from_partition(prepare_partition(records, spec, row_offset), spec)
            fast = _to_arrow(values, tz)
        out.append(fast)
    result = Columns([c.field for c in spec.all_columns], [c.type for c in spec.all_columns], out, warnings,
                     len(records))
    keep = compile_filters(spec.filters, spec.all_columns, ctx)
    if keep is not None and len(result):
        mask = [keep(row) for row in result.to_rows()]
        result = result.take([i for i, kept in enumerate(mask) if kept])
        result.warnings = warnings
    return result


def _raw_columns(records: Sequence[Mapping], fields: list[str]) -> list[list]:
    """The raw values of each field (None when missing): itemgetter and one transpose when every
    record has every field, which is the common case and several times faster than dict.get."""
    if not records:
        return [[] for _ in fields]
    if len(fields) == 1:
        return [[r.get(fields[0]) for r in records]]
    getter = itemgetter(*fields)
    try:
        rows = [getter(r) for r in records]
    except KeyError:
        return [[r.get(f) for r in records] for f in fields]
    return [list(column) for column in zip(*rows, strict=True)]


def _zone_name(spec: ExportSpec) -> str:
    name = spec.options.timezone
    return "UTC" if name.upper() == "UTC" else name


def _kinds(raw: list) -> set:
    kinds = set(map(type, raw))
    kinds.discard(_NONE)
    return kinds


def _fast_column(column, raw: list, options, tz: str) -> pa.Array | None:
    type_ = column.type
    if type_ in _TEXT_INPUT:
        # Texts (or nulls) only: one conversion, no type census. JSON values are never bytes, which
        # pa.array would also take as text.
        try:
            arr = pa.array(raw, pa.string())
        except (pa.ArrowException, OverflowError, ValueError, TypeError, UnicodeError):
            return None  # other types, or lone surrogates: the per-cell path
        kinds = {str} if arr.null_count < len(arr) else set()
    else:
        kinds = _kinds(raw)
    try:
        if not kinds:
            return pa.array(raw, _ARROW_TYPE.get(type_, pa.string())) if type_ != "datetime" else \
                pa.array(raw, pa.timestamp("us", tz=tz))
        if type_ == "string" and kinds == {str}:
            if has_xml_forbidden_chars(arr) or not longest_at_most(arr, MAX_CELL_CHARS):
                return None
            return arr
        if type_ in ("integer", "number", "currency") and kinds == {int}:
            return pa.array(raw, pa.int64())
        if type_ in ("number", "currency") and kinds == {float}:
            arr = pa.array(raw, pa.float64())
            return arr if pc.all(pc.is_finite(arr)).as_py() is not False else None
        if type_ == "boolean" and kinds == {bool}:
            return pa.array(raw, pa.bool_())
        if type_ == "boolean" and kinds == {int}:
            arr = pa.array(raw, pa.int64())
            if pc.all(pc.is_in(arr, pa.array([0, 1]))).as_py() is False:
                return None
            return pc.cast(arr, pa.bool_())
        if type_ == "enum" and kinds == {int}:
            arr = pa.array(raw, pa.int64())
            if column.value_map:
                present = {str(v) for v in pc.unique(arr).to_pylist() if v is not None}
                if not present <= set(column.value_map):
                    return None
            return arr
        if type_ == "enum" and kinds == {str}:
            # "2" becomes the integer 2 (parse_enum): such columns take the per-cell path.
            if pc.any(pc.match_substring_regex(arr, r"^([+-]?[0-9]+)?$")).as_py():  # "" is null too
                return None
            if has_xml_forbidden_chars(arr) or not longest_at_most(arr, MAX_CELL_CHARS):
                return None
            if column.value_map and not ({v for v in pc.unique(arr).to_pylist() if v is not None}
                                         <= set(column.value_map)):
                return None
            return arr
        if type_ == "date" and kinds == {str}:
            return _dates(arr)
        if type_ == "datetime" and kinds == {str}:
            return _datetimes(arr, options, tz)
    except (pa.ArrowException, OverflowError, ValueError, TypeError, UnicodeError):
        return None
    return None


_TEXT_INPUT = ("string", "enum", "date", "datetime")
_ARROW_TYPE = {
    "string": pa.string(), "integer": pa.int64(), "number": pa.float64(), "currency": pa.float64(),
    "boolean": pa.bool_(), "enum": pa.int64(), "date": pa.date32(),
}


def _dates(arr: pa.Array) -> pa.Array | None:
    if pc.all(pc.match_substring_regex(arr, _DATE_RE2)).as_py() is False:
        return None
    parsed = pc.strptime(arr, format="%Y-%m-%d", unit="s", error_is_null=True)
    if not _same_day(parsed, arr):
        return None
    if pc.any(pc.and_(pc.is_null(parsed), pc.is_valid(arr))).as_py():
        return None
    return pc.cast(parsed, pa.date32())


def _same_day(parsed: pa.Array, text: pa.Array) -> bool:
    """strptime rolls 2024-02-30 over to March 1: a valid date keeps the day it was written with."""
    written = pc.cast(pc.utf8_slice_codeunits(text, 8, 10), pa.int64())
    return pc.all(pc.equal(pc.day(parsed), written)).as_py() is not False


def _datetimes(arr: pa.Array, options, tz: str) -> pa.Array | None:
    if pc.all(pc.match_substring_regex(arr, _DATETIME_RE2)).as_py() is False:
        return None
    parsed = pc.strptime(arr, format="%Y-%m-%d %H:%M:%S", unit="s", error_is_null=True)
    if pc.any(pc.and_(pc.is_null(parsed), pc.is_valid(arr))).as_py():
        return None
    if not _same_day(parsed, arr):
        return None
    if pc.min(pc.year(parsed)).as_py() < 1:
        return None
    parsed = parsed.cast(pa.timestamp("us"))
    assume = options.assume_timezone
    in_rules = _TZDB_YEARS[0] <= pc.min(pc.year(parsed)).as_py() and pc.max(pc.year(parsed)).as_py() <= _TZDB_YEARS[1]
    if (assume.upper() != "UTC" or tz != "UTC") and not in_rules:
        return None  # Arrow's zone rules stop at 2037 (Python's follow the POSIX rule): the per-cell path
    if assume.upper() == "UTC":
        utc = parsed.cast(pa.timestamp("us", tz="UTC"))
    else:
        # Ambiguous or missing wall-clock times (DST changes) take the per-cell path.
        utc = pc.assume_timezone(parsed, timezone=assume, ambiguous="raise", nonexistent="raise")
    return utc.cast(pa.timestamp("us", tz=tz))


def _slow_column(column, raw: list, options, ctx, warnings: dict) -> list | None:
    """The per-cell parse of one column (as cells.prepare_partition); None on an error to report."""
    parse = make_parser(column.type, ctx)
    members = set(column.value_map) if column.type == "enum" and column.value_map else None
    coerce = options.on_invalid == "coerce"
    reject_overflow = options.on_overflow == "reject"
    overflow: list = []
    values: list[Any] = []
    for i, item in enumerate(raw):
        if item is None or (item == "" and column.type != "string"):
            values.append(None)
            continue
        try:
            value = parse(item)
            if members is not None and map_key(value) not in members:
                raise ValueError("not a member")
        except Blank as blank:
            warnings[blank.warning] += 1
            value = None
        except (ValueError, TypeError, OverflowError):
            if not coerce:
                return None
            warnings["coerced_values"] += 1
            value = as_text(item)
        if isinstance(value, str):
            value = safe_text(value, warnings, reject_overflow, overflow, i, column.field)
            if overflow:
                return None
        values.append(value)
    return values


def _to_arrow(values: list, tz: str) -> Column:
    """An Arrow array when every value has one type, else the list itself."""
    kinds = _kinds(values)
    try:
        if not kinds:
            return pa.nulls(len(values), pa.string())
        if kinds == {str}:
            return pa.array(values, pa.string())
        if kinds == {int}:
            return pa.array(values, pa.int64())
        if kinds == {float}:
            return pa.array(values, pa.float64())
        if kinds == {bool}:
            return pa.array(values, pa.bool_())
        if kinds == {date}:
            return pa.array(values, pa.date32())
        if kinds == {datetime} or (len(kinds) == 1 and issubclass(next(iter(kinds)), datetime)):
            if all(v is None or v.tzinfo is not None for v in values):
                return pa.array(values, pa.timestamp("us", tz=tz))
    except (pa.ArrowException, OverflowError, ValueError, TypeError, UnicodeError):
        pass
    return values

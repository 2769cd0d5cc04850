"""The steps of the partitioned export, as plain functions: the Dask tasks (tasks.py) call them
on workers, `run_local` calls them in one process (tests, the benchmark, small exports).

    prepare ×P ─▶ plan ─▶ scatter ×P ─▶ render ×P ─▶ merge

- prepare: parse, check, filter one input partition; save it (columnar) in the work dir.
- plan: row counts and currency codes of every partition give the sheets, the styles and
  the render jobs. With dedupe, sort or split_by it also computes the global output order
  from the key columns alone (dedupe keeps the first occurrence in input order; the sort is
  stable, nulls last; split_by groups in order of first appearance) and saves it.
- scatter: (ordered exports only) each partition sends its rows to the render jobs that own
  their output positions, one small file per (partition, job).
- render: one job renders a range of output rows: XLSX `<row>` XML deflated into a chunk,
  CSV or JSON bytes; chunk files are written atomically and only metadata is returned.
- merge: streams the chunks into the final file (ZIP entries for XLSX).
"""
from __future__ import annotations

import os
import shutil
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from . import columnar, fastxlsx, ooxml, writer_csv, writer_json
from .columnar import Columns
from .formatting import ColumnFormat, column_formats
from .operations import dedupe_rows, sort_rows
from .safety import add_warnings, empty_warnings
from .spec import ExportSpec

MAX_ORDERED_JOBS = 32


@dataclass
class ExportResult:
    """What an export produced: rows written, file size, the warnings counted, the sheet names (XLSX)."""
    rows: int
    size_bytes: int
    warnings: dict[str, int]
    sheets: list[str]


@dataclass
class Prepared:
    path: str
    rows: int
    warnings: dict[str, int]
    codes: list[str] = field(default_factory=list)


@dataclass
class Plan:
    total: int
    sheets: list[tuple[str, int, int]]      # (name, first output row, rows)
    jobs: list[tuple[int, int]]             # output rows [start, stop) of each render job
    styles: list[str]
    widths: list[float]
    warnings: dict[str, int]
    sources: list[str]                      # the prepared partition files
    counts: list[int]
    order_path: str | None = None           # global ids in output order (ordered exports)


@dataclass
class Rendered:
    chunks: list[tuple[int, dict]]          # (sheet index, chunk info) in output order
    warnings: dict[str, int]


def work_dir(out_path: str | Path) -> Path:
    return Path(out_path).parent / "work"


def needs_order(spec: ExportSpec) -> bool:
    return bool(spec.dedupe or spec.sort or (spec.format == "xlsx" and spec.options.split_by))


def can_fuse(spec: ExportSpec) -> bool:
    """Each partition can prepare and render in one task when its output rows are its input rows
    (no filter, dedupe, sort or split: the output offset is the input offset, so the sheet of every
    row is known) and the styles are known in advance (no per-row currency formats)."""
    return not (needs_order(spec) or spec.filters
                or (spec.format == "xlsx" and any(c.currency_field for c in spec.columns)))


@dataclass
class Fused:
    rendered: Rendered
    rows: int
    warnings: dict[str, int]
    sample: list[tuple]                     # its first rows among the export's first WIDTH_SAMPLE_ROWS


# --- prepare ------------------------------------------------------------------------------

def prepare_file(records: Sequence[Mapping], spec: ExportSpec, offset: int, path: str | Path) -> Prepared:
    part = columnar.prepare_columns(records, spec, row_offset=offset)
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    columnar.save(part, path)
    codes = sorted(fastxlsx.currency_codes(part, spec)) if spec.format == "xlsx" else []
    return Prepared(str(path), len(part), part.warnings, codes)


# --- plan ---------------------------------------------------------------------------------

def plan(prepared: Sequence[Prepared], spec: ExportSpec, work: str | Path) -> Plan:
    work = Path(work)
    work.mkdir(parents=True, exist_ok=True)
    warnings = empty_warnings()
    for p in prepared:
        add_warnings(warnings, p.warnings)
    counts = [p.rows for p in prepared]
    sources = [p.path for p in prepared]
    starts = np.concatenate([[0], np.cumsum(counts, dtype=np.int64)]) if counts else np.zeros(1, np.int64)
    total = int(starts[-1])
    order_path = None
    groups: list[tuple[str, int]]
    if needs_order(spec):
        order, groups, first_ids, removed = _order(sources, spec, starts)
        warnings["duplicates_removed"] += removed
        total = len(order)
        order_path = str(work / "order.npy")
        tmp = f"{order_path}.{os.getpid()}.tmp.npy"
        np.save(tmp, order)
        os.replace(tmp, order_path)
        # At most MAX_ORDERED_JOBS render jobs: every partition scatters one piece to each job.
        slice_size = max(1, -(-total // max(min(len(prepared), MAX_ORDERED_JOBS), 1)))
        jobs = [(a, min(a + slice_size, total)) for a in range(0, total, slice_size)] or [(0, 0)]
        head = _rows_by_ids(sources, starts, first_ids, spec)
    else:
        groups = [(_base_name(spec), total)]
        jobs = [(int(starts[i]), int(starts[i + 1])) for i in range(len(prepared))] or [(0, 0)]
        head = _first_rows(sources, counts, ooxml.WIDTH_SAMPLE_ROWS)
    sheets = _sheets(groups) if spec.format == "xlsx" else [("", 0, total)]
    codes = sorted({c for p in prepared for c in p.codes})
    formats = column_formats(spec.columns, spec.options)
    widths = [c.width or ooxml.auto_width(c.header, head, i, f, spec.options.null_display)
              for i, (c, f) in enumerate(zip(spec.columns, formats, strict=True))] if spec.format == "xlsx" else []
    styles = fastxlsx.style_formats(spec, codes).formats if spec.format == "xlsx" else []
    return Plan(total, sheets, jobs, styles, widths, warnings, sources, counts, order_path)


def _base_name(spec: ExportSpec) -> str:
    return spec.options.sheet_name or spec.title


def _sheets(groups: list[tuple[str, int]]) -> list[tuple[str, int, int]]:
    layout = ooxml.sheet_layout(groups)
    sheets, start = [], 0
    for name, rows in layout:
        sheets.append((name, start, rows))
        start += rows
    return sheets


def _first_rows(sources: Sequence[str], counts: Sequence[int], limit: int) -> list[tuple]:
    rows: list[tuple] = []
    for path, count in zip(sources, counts, strict=False):
        if len(rows) >= limit:
            break
        if count:
            rows += columnar.load(path).slice(0, limit - len(rows)).to_rows()
    return rows


def _rows_by_ids(sources: Sequence[str], starts: np.ndarray, ids: np.ndarray, spec: ExportSpec) -> list[tuple]:
    """The rows of global ids `ids`, in that order (the first rows of the sorted output)."""
    if not len(ids):
        return []
    src = np.searchsorted(starts, ids, side="right") - 1
    found: dict[int, tuple] = {}
    for p in np.unique(src):
        local = (ids[src == p] - starts[p]).tolist()
        rows = columnar.load(sources[p]).take(local).to_rows()
        found.update(zip(ids[src == p].tolist(), rows, strict=True))
    return [found[i] for i in ids.tolist()]


def _order(sources: Sequence[str], spec: ExportSpec, starts: np.ndarray):
    """Global output order (dedupe, stable sort, split_by groups) from the key columns only."""
    fields = [c.field for c in spec.all_columns]
    split_by = spec.options.split_by if spec.format == "xlsx" else None
    if not spec.dedupe and not split_by and (fast := _arrow_sorted_ids(sources, spec, fields)) is not None:
        return fast, [(_base_name(spec), len(fast))], fast[:ooxml.WIDTH_SAMPLE_ROWS], 0
    key_fields = list(dict.fromkeys([*spec.dedupe, *(k["field"] for k in spec.sort),
                                     *([split_by] if split_by else [])]))
    position = {f: i for i, f in enumerate(key_fields)}
    gid = len(key_fields)
    keys: list[tuple] = []
    for p, path in enumerate(sources):
        part = columnar.load(path)
        if not len(part):
            continue
        values = [part.values(fields.index(f)) for f in key_fields]
        first = int(starts[p])
        keys.extend(zip(*values, range(first, first + len(part)), strict=True))
        del part, values
    before = len(keys)
    if spec.dedupe:
        keys = dedupe_rows(keys, [position[f] for f in spec.dedupe])
    removed = before - len(keys)
    if spec.sort:
        keys = sort_rows(keys, [(position[k["field"]], k["direction"] == "desc") for k in spec.sort])
    sorted_ids = np.fromiter((k[gid] for k in keys), dtype=np.int64, count=len(keys))
    first_ids = sorted_ids[:ooxml.WIDTH_SAMPLE_ROWS]
    if not split_by:
        return sorted_ids, [(_base_name(spec), len(keys))], first_ids, removed
    column = next(c for c in spec.all_columns if c.field == split_by)
    fmt = ColumnFormat(column, spec.options.date_format, spec.options.datetime_format)
    blank = spec.options.null_display or "(blank)"
    group_of: dict[str, int] = {}
    labels: list[int] = []
    for k in keys:
        value = k[position[split_by]]
        label = fmt.text(value) if value is not None else blank
        labels.append(group_of.setdefault(label, len(group_of)))
    del keys
    group_index = np.array(labels, dtype=np.int64)
    order = sorted_ids[np.argsort(group_index, kind="stable")]
    counts: np.ndarray | list[int] = np.bincount(group_index, minlength=len(group_of)) if len(group_index) else []
    groups = [(label, int(counts[i])) for label, i in group_of.items()] or [(_base_name(spec), 0)]
    return order, groups, first_ids, removed


def _arrow_sorted_ids(sources: Sequence[str], spec: ExportSpec, fields: list[str]) -> np.ndarray | None:
    """The sort alone, by Arrow's stable sort, when every key is a number, date or date-time
    column (the order sort_rows gives: nulls last either way, ties in input order). None when
    a key is text or mixed: sort_rows orders texts case-insensitively first."""
    keys: dict[str, list[pa.Array]] = {f"k{i}": [] for i in range(len(spec.sort))}
    kind: dict[str, pa.DataType] = {}
    for path in sources:
        part = columnar.load(path)
        for i, key in enumerate(spec.sort):
            column = part.columns[fields.index(key["field"])] if len(part) else None
            if column is None:
                continue
            if not isinstance(column, pa.Array):
                return None
            name = f"k{i}"
            if pa.types.is_null(column.type):
                keys[name].append(column)
                continue
            if not _arrow_sortable(column.type) or kind.setdefault(name, column.type) != column.type:
                return None
            keys[name].append(column)
    if not any(keys.values()):
        return np.zeros(0, np.int64)
    table = pa.table({name: pa.chunked_array([a if not pa.types.is_null(a.type) else pa.nulls(len(a), kind.get(
        name, pa.int64())) for a in arrays], kind.get(name, pa.int64())) for name, arrays in keys.items()})
    order = [(f"k{i}", "descending" if key["direction"] == "desc" else "ascending", "at_end")
             for i, key in enumerate(spec.sort)]
    return pc.sort_indices(table, sort_keys=order).to_numpy().astype(np.int64)


def _arrow_sortable(kind: pa.DataType) -> bool:
    return pa.types.is_integer(kind) or pa.types.is_floating(kind) or pa.types.is_timestamp(kind) or \
        pa.types.is_date(kind) or pa.types.is_decimal(kind)


# --- scatter (ordered exports) -------------------------------------------------------------

def _job_size(plan_: Plan) -> int:
    return max(1, plan_.jobs[0][1] - plan_.jobs[0][0]) if plan_.jobs else 1


def piece_path(work: str | Path, source: int, job: int) -> Path:
    return Path(work) / f"piece-{source:05d}-{job:05d}.pkl"


def scatter(plan_: Plan, source: int, work: str | Path) -> list[int]:
    """Split prepared partition `source` into one piece per render job that takes its rows."""
    if plan_.order_path is None or not plan_.counts[source]:
        return []
    order = np.load(plan_.order_path, mmap_mode="r")
    start = sum(plan_.counts[:source])
    mine = np.nonzero((order >= start) & (order < start + plan_.counts[source]))[0]
    if not len(mine):
        return []
    part = columnar.load(plan_.sources[source])
    jobs = mine // _job_size(plan_)
    written = []
    for job in np.unique(jobs):
        local = order[mine[jobs == job]] - start
        columnar.save(part.take(pa.array(local, pa.int64())), piece_path(work, source, int(job)))
        written.append(int(job))
    return written


def _job_rows(plan_: Plan, job: int, work: str | Path, spec: ExportSpec) -> Columns:
    start, stop = plan_.jobs[job]
    fields = [c.field for c in spec.all_columns]
    types = [c.type for c in spec.all_columns]
    if plan_.order_path is None:
        if not plan_.counts or not plan_.counts[job]:
            return Columns(fields, types, [pa.nulls(0, pa.string()) for _ in fields], empty_warnings(), 0)
        return columnar.load(plan_.sources[job])
    order = np.load(plan_.order_path, mmap_mode="r")[start:stop]
    starts = np.concatenate([[0], np.cumsum(plan_.counts, dtype=np.int64)])
    src = np.searchsorted(starts, order, side="right") - 1
    pieces = [columnar.load(piece_path(work, int(p), job)) for p in np.unique(src)]
    if not pieces:
        return Columns(fields, types, [pa.nulls(0, pa.string()) for _ in fields], empty_warnings(), 0)
    merged = columnar.concat(pieces, fields, types)
    by_source = np.argsort(src, kind="stable")  # merged row k is output row by_source[k]
    inverse = np.empty_like(by_source)
    inverse[by_source] = np.arange(len(by_source))
    return merged.take(pa.array(inverse, pa.int64()))


# --- render -------------------------------------------------------------------------------

def render(plan_: Plan, job: int, spec: ExportSpec, work: str | Path) -> Rendered:
    if job >= len(plan_.jobs):  # the graph has one render task per input partition; an ordered export may need fewer
        return Rendered([], empty_warnings())
    rows = _job_rows(plan_, job, work, spec)
    return _render_rows(plan_.sheets, plan_.styles, job, plan_.jobs[job], rows, spec, work)


def _render_rows(sheets: Sequence[tuple[str, int, int]], styles: list[str], job: int, span: tuple[int, int],
                 rows: Columns, spec: ExportSpec, work: str | Path) -> Rendered:
    """Render output rows [start, stop) (`rows`, in order) into one chunk file per sheet they touch."""
    start, stop = span
    warnings = empty_warnings()
    chunks: list[tuple[int, dict]] = []
    segments = [(s, max(a, start), min(a + n, stop)) for s, (_, a, n) in enumerate(sheets)
                if max(a, start) < min(a + n, stop)]
    renderer = fastxlsx.XlsxRenderer(spec, ooxml.StyleTable(styles)) if spec.format == "xlsx" else None
    for sheet, a, b in segments:
        piece = rows.slice(a - start, b - start)
        path = Path(work) / f"chunk-{job:05d}-{sheet:04d}.bin"
        if renderer is not None:
            # Output row a is data row a - first of its sheet: sheet row a - first + 2 (the header is 1).
            xml, found = renderer.rows_xml(piece, a - sheets[sheet][1] + 2)
            info = fastxlsx.write_chunk(xml, path, len(piece))
            chunks.append((sheet, info.__dict__))
        else:
            data, found = _text_chunk(piece, spec)
            tmp = f"{path}.{os.getpid()}.tmp"
            with open(tmp, "wb") as out:
                out.write(data)
            os.replace(tmp, path)
            chunks.append((sheet, {"path": str(path), "size": len(data), "rows": len(piece)}))
        add_warnings(warnings, found)
    return Rendered(chunks, warnings)


def _text_chunk(part: Columns, spec: ExportSpec) -> tuple[bytes, dict[str, int]]:
    rows = part.to_rows()
    if spec.format == "csv":
        return writer_csv.encode_rows(rows, spec)
    return writer_json.encode_rows(rows, spec)


# --- prepare and render in one task (can_fuse) --------------------------------------------------

def prepare_render(records: Sequence[Mapping], spec: ExportSpec, offset: int, index: int,
                   work: str | Path) -> Fused:
    part = columnar.prepare_columns(records, spec, row_offset=offset)
    work = Path(work)
    work.mkdir(parents=True, exist_ok=True)
    sample_size = max(0, ooxml.WIDTH_SAMPLE_ROWS - offset)
    sample = part.slice(0, sample_size).to_rows() if sample_size and spec.format == "xlsx" else []
    limit = ooxml.MAX_ROWS_PER_SHEET
    end = offset + len(part)
    # Sheet s holds output rows [s * limit, (s + 1) * limit): the same indexes as plan_fused's sheets.
    sheets = [("", s * limit, limit) for s in range((max(end, 1) - 1) // limit + 1)] if spec.format == "xlsx" \
        else [("", 0, end)]
    rendered = _render_rows(sheets, fastxlsx.style_formats(spec).formats, index, (offset, end), part, spec, work)
    return Fused(rendered, len(part), part.warnings, sample)


def plan_fused(results: Sequence[Fused], spec: ExportSpec) -> Plan:
    warnings = empty_warnings()
    sample: list[tuple] = []
    for r in results:
        add_warnings(warnings, r.warnings)
        sample += r.sample
    total = sum(r.rows for r in results)
    sheets = _sheets([(_base_name(spec), total)]) if spec.format == "xlsx" else [("", 0, total)]
    formats = column_formats(spec.columns, spec.options)
    widths = [c.width or ooxml.auto_width(c.header, sample, i, f, spec.options.null_display)
              for i, (c, f) in enumerate(zip(spec.columns, formats, strict=True))] if spec.format == "xlsx" else []
    styles = fastxlsx.style_formats(spec).formats if spec.format == "xlsx" else []
    return Plan(total, sheets, [], styles, widths, warnings, [], [r.rows for r in results])


# --- merge --------------------------------------------------------------------------------

def merge(plan_: Plan, rendered: Sequence[Rendered], spec: ExportSpec, out_path: str | Path) -> ExportResult:
    warnings = dict(plan_.warnings)
    for r in rendered:
        add_warnings(warnings, r.warnings)
    out_path = Path(out_path)
    if spec.format == "xlsx":
        sheets = [fastxlsx.SheetPlan(name, rows, []) for name, _, rows in plan_.sheets]
        for r in rendered:
            for sheet, info in r.chunks:
                sheets[sheet].chunks.append(fastxlsx.ChunkInfo(**info))
        fastxlsx.assemble(out_path, spec, ooxml.StyleTable(plan_.styles), sheets, plan_.widths)
        names = [s.name for s in sheets]
    else:
        paths = [info["path"] for r in rendered for _, info in r.chunks if info["size"]]
        with open(out_path, "wb") as out:
            if spec.format == "csv":
                head, found = writer_csv.encode_header(spec)
                add_warnings(warnings, found)
                out.write(head)
                for path in paths:
                    _copy(path, out)
            elif spec.format == "ndjson":
                for path in paths:
                    _copy(path, out)
            else:
                out.write(b"[")
                for number, path in enumerate(paths):
                    out.write(b",\n" if number else b"\n")
                    _copy(path, out)
                out.write(b"\n]\n" if paths else b"]\n")
        names = []
    return ExportResult(rows=plan_.total, size_bytes=out_path.stat().st_size, warnings=warnings, sheets=names)


def _copy(path: str, out) -> None:
    with open(path, "rb") as source:
        shutil.copyfileobj(source, out, 1 << 20)


# --- everything in one process ----------------------------------------------------------------

def run_local(record_parts: Sequence[Sequence[Mapping]], spec: ExportSpec, out_path: str | Path,
              work: str | Path | None = None) -> ExportResult:
    """The whole fast path serially: for tests, the benchmark and exports too small for a cluster."""
    work = Path(work) if work is not None else work_dir(out_path)
    work.mkdir(parents=True, exist_ok=True)
    if can_fuse(spec):
        fused, offset = [], 0
        for index, records in enumerate(record_parts):
            fused.append(prepare_render(records, spec, offset, index, work))
            offset += len(records)
        result = merge(plan_fused(fused, spec), [f.rendered for f in fused], spec, out_path)
        shutil.rmtree(work, ignore_errors=True)
        return result
    prepared, offset = [], 0
    for index, records in enumerate(record_parts):
        prepared.append(prepare_file(records, spec, offset, work / f"prep-{index:05d}.pkl"))
        offset += len(records)
    the_plan = plan(prepared, spec, work)
    for source in range(len(prepared)):
        scatter(the_plan, source, work)
    rendered = [render(the_plan, job, spec, work) for job in range(len(the_plan.jobs))]
    result = merge(the_plan, rendered, spec, out_path)
    shutil.rmtree(work, ignore_errors=True)
    return result

"""The fast XLSX path: worksheet rows rendered with pyarrow.compute, deflated per chunk,
and assembled into the package without recompression.

`XlsxRenderer.rows_xml(columns, first_row)` turns a columnar partition into the bytes of its
`<row>` elements, numbered from `first_row` (the sheet row of its first row; the header is row
1): every row carries `r="12"` and every cell `r="C12"`, as Excel and xlsxwriter write them
(ECMA-376 makes them optional, but exceljs, Apache POI's event reader and excelize need them);
an empty cell is `<c r="C12"/>`. Each column is rendered in one vectorised pass by type (text
escaping, number and date conversion, value-map labels, currency formats) into the part of
each cell after `<c r="C12` (its "tail", followed by the next cell's `<c r="D`), and one
`binary_join_element_wise` joins the columns with the row numbers as its separator (no more
pieces than the cells themselves); a column holding mixed Python values is rendered
cell by cell with the same rules as the reference writer (tests/reference/writer_xlsx.py), and
counts the same warnings. Date-time serials are nudged by an ulp or two where a reader that
truncates to the millisecond would otherwise get its neighbour (`truncation_safe`).

`write_chunk` deflates rows into a raw deflate stream ending in a full flush, written
atomically; `assemble` streams the chunks into the sheet entries of the ZIP.
"""
from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from . import ooxml
from .arrowtext import contains_any, utf8_data
from .columnar import Columns
from .formatting import CURRENCY_CODE, DEFAULT_CURRENCY_FORMAT, ColumnFormat, column_formats
from .ooxml import escape_text  # noqa: F401  (re-exported: the scalar form of the escaping)
from .safety import EXCEL_MAX_NUMBER, FORMULA_START, LARGE_INTEGER, empty_warnings, is_formula_like
from .spec import ExportSpec
from .zipstream import FULL_FLUSH, Piece, ZipStreamWriter, crc32, deflate_piece, deflater, finish_deflate

DEFLATE_LEVEL = 2  # zlib-ng's: faster than zlib's 1, and smaller (zipstream)
# A text that starts or ends with one of Python's whitespace characters (str.isspace, all below
# U+3001) keeps it with xml:space="preserve", as the reference writer does. Testing the first and
# last characters against a set is three times cheaper than an anchored Unicode regex.
_SPACES = pa.array(sorted({chr(i) for i in range(0x3001) if chr(i).isspace()}), pa.string())
_FORMULA_STARTS = pa.array(FORMULA_START, pa.string())
# Serials count days from 1899-12-31 (day 1 is 1900-01-01), plus one from 1900-03-01 on: Excel
# keeps Lotus 1-2-3's 29 February 1900, a day that never was (serial 60).
_EXCEL_DAY_ZERO = datetime(1899, 12, 31)
_UNIX_DAY_SERIAL = 25568  # days from Excel's 1899-12-31 to 1970-01-01
_MIN_FAST_DAY = -25508    # 1900-03-01: before it Excel's 1900 leap-year bug shifts serials
_FIRST_DAY = date(1900, 1, 1)
_MICROSECOND = timedelta(microseconds=1)
_DAY_MICROS = 86_400_000_000
_UNIX_EPOCH_MICROS = (_UNIX_DAY_SERIAL + 1) * _DAY_MICROS  # serial 25569: 1970-01-01 00:00


def number_xml(value: float | int) -> str:
    return f"{value:.16G}"


def excel_serial(value: date) -> float:
    """The Excel serial (1900 date system) of a date, or of a datetime's wall-clock time: days
    since 1899-12-30 plus the fraction of the day, one less before 1900-03-01. The same float as
    xlsxwriter's write_datetime (the same operations, in the same order)."""
    if isinstance(value, datetime):
        delta = value.replace(tzinfo=None) - _EXCEL_DAY_ZERO
    else:
        delta = datetime(value.year, value.month, value.day) - _EXCEL_DAY_ZERO
    serial = delta.days + (float(delta.seconds) + float(delta.microseconds) / 1e6) / 86400
    if isinstance(value, datetime) and value.date() == _FIRST_DAY:
        serial -= 1  # xlsxwriter takes a datetime of 1900-01-01 for a time of day (day 0)
    return serial + 1 if serial > 59 else serial


def serial_micros(value: datetime) -> int:
    """excel_serial(value) exactly, in microseconds (an integer)."""
    micros = (value.replace(tzinfo=None) - _EXCEL_DAY_ZERO) // _MICROSECOND
    if value.date() == _FIRST_DAY:
        micros -= _DAY_MICROS
    return micros + _DAY_MICROS if micros > 59 * _DAY_MICROS else micros


def truncation_safe(serial: np.ndarray, micros: np.ndarray) -> np.ndarray:
    """Date-time serials that truncating readers read as the intended millisecond.

    `serial` holds the nearest doubles of the serials whose exact values, in microseconds, are
    `micros`. SheetJS (cellDates) builds a date as `Date.setTime(v * 24 * 60 * 60 * 1000 +
    dnthresh)`, and setTime truncates toward zero: where the nearest double is a hair below an
    exact millisecond, 16:32:00 reads as 16:31:59.999, one second early (320 of the 1,440 minutes
    of 2024-06-11; xlsxwriter's 16 significant digits: 416). So where that product falls below
    the intended millisecond (from 1970 on, where truncation rounds down) or above it (before
    1970, where it rounds toward zero, i.e. up), the serial moves by one ulp (0.6 µs today), at
    most twice in every case tried (the loop stops at 8).
    A reader that rounds (Excel, exceljs, openpyxl, calamine, Apache POI) reads the same value."""
    floor_ms = (micros // 1000).astype(np.float64)
    ceil_ms = (-(-micros // 1000)).astype(np.float64)
    after = micros >= _UNIX_EPOCH_MICROS
    for _ in range(8):
        ms = serial * 24 * 60 * 60 * 1000  # the reader's operations, in its order
        up = after & (ms < floor_ms)
        down = ~after & (ms > ceil_ms)
        if not (up.any() or down.any()):
            break
        serial = np.where(up, np.nextafter(serial, np.inf), np.where(down, np.nextafter(serial, -np.inf), serial))
    return serial


def datetime_xml(value: datetime) -> str:
    """The `<v>` text of one date-time (the per-cell path): its truncation-safe serial, shortest form."""
    serial = float(truncation_safe(np.array([excel_serial(value)]), np.array([serial_micros(value)], np.int64))[0])
    text = repr(serial)
    return text[:-2] if text.endswith(".0") else text


def style_formats(spec: ExportSpec, currency_codes: Sequence[str] = ()) -> ooxml.StyleTable:
    """Every number format the sheets may use, in a fixed order."""
    found: list[str] = []
    for fmt in column_formats(spec.columns, spec.options):
        column = fmt.column
        number = column.format or (DEFAULT_CURRENCY_FORMAT if column.type == "currency" else None)
        candidates = [number, fmt.date_format, fmt.datetime_format]
        if column.currency_field and number:
            candidates += [f'"{code}" {number}' for code in sorted(set(currency_codes))]
        found += [c for c in candidates if c and c not in found]
    return ooxml.StyleTable(found)


def currency_codes(columns: Columns, spec: ExportSpec) -> set[str]:
    """The valid currency codes a partition holds (the style table needs them before rendering)."""
    codes: set[str] = set()
    for column in spec.columns:
        if not column.currency_field:
            continue
        values = columns.columns[columns.fields.index(column.currency_field)]
        unique = pc.unique(values).to_pylist() if isinstance(values, pa.Array) else set(values)
        codes.update(v for v in unique if isinstance(v, str) and CURRENCY_CODE.fullmatch(v))
    return codes


def _tz_safe(arr: pa.Array) -> bool:
    if not arr.type.tz or arr.type.tz.upper() == "UTC" or not len(arr) or arr.null_count == len(arr):
        return True
    years = pc.year(arr)
    return 1900 <= pc.min(years).as_py() and pc.max(years).as_py() <= 2037


def _join(*parts) -> pa.Array:
    return pc.binary_join_element_wise(*parts, "")


def _scalar(text: str) -> pa.Scalar:
    return pa.scalar(text, pa.string())


def _tail(cell: str) -> str:
    """A cell after `<c r="C12`: `<c s="3"><v>1</v></c>` -> `" s="3"><v>1</v></c>`, `<c/>` -> `"/>`.
    The builders write tails, each followed by the next cell's `<c r="D` (or `</row>`), and
    rows_xml puts the row number between them."""
    return '"' + cell[2:]


class XlsxRenderer:
    """Renders the data rows of one export (its spec and style table)."""

    def __init__(self, spec: ExportSpec, styles: ooxml.StyleTable):
        self.spec = spec
        self.styles = styles
        options = spec.options
        self.formats = column_formats(spec.columns, options)
        fields = [c.field for c in spec.all_columns]
        self.currency_index = [fields.index(c.currency_field) if c.currency_field else None for c in spec.columns]
        self.null_display = options.null_display
        self.null_cell = ooxml.inline_string(options.null_display) if options.null_display else "<c/>"
        self.null_tail = _tail(self.null_cell)
        self.number_format = [c.format or (DEFAULT_CURRENCY_FORMAT if c.type == "currency" else None)
                              for c in spec.columns]

    # -- one cell, the reference rules (mixed columns) -------------------------------------
    def _py_cell(self, c: int, value: Any, code: Any, warnings: dict) -> str:
        fmt = self.formats[c]
        if value is None:
            return self.null_cell
        label = fmt.label(value)
        if label is not None:
            return self._py_text(label, warnings)
        if isinstance(value, str):
            return self._py_text(value, warnings)
        if isinstance(value, bool):
            return f'<c t="b"><v>{int(value)}</v></c>'
        if isinstance(value, datetime):
            style = self.styles.index(fmt.datetime_format)
            return f'<c s="{style}"><v>{datetime_xml(value)}</v></c>'
        if hasattr(value, "isoformat"):
            style = self.styles.index(fmt.date_format)
            return f'<c s="{style}"><v>{number_xml(excel_serial(value))}</v></c>'
        if fmt.column.type == "enum":
            return self._py_text(str(value), warnings)
        if isinstance(value, int) and abs(value) >= LARGE_INTEGER:
            warnings["large_integers_as_text"] += 1
            return ooxml.inline_string(str(value))
        if abs(value) > EXCEL_MAX_NUMBER:
            warnings["large_numbers_as_text"] += 1
            return ooxml.inline_string(repr(value))
        return f'<c s="{self._number_style(c, code)}"><v>{number_xml(value)}</v></c>'

    def _py_text(self, text: str, warnings: dict) -> str:
        if is_formula_like(text):
            warnings["formula_neutralised"] += 1
        return ooxml.inline_string(text)

    def _number_style(self, c: int, code: Any) -> int:
        number_format = self.number_format[c]
        if self.currency_index[c] is not None and isinstance(code, str) and CURRENCY_CODE.fullmatch(code):
            return self.styles.index(f'"{code}" {number_format}')
        return self.styles.index(number_format)

    # -- vectorised ----------------------------------------------------------------------
    def _text_cells(self, text: pa.Array, warnings: dict | None, end: str) -> pa.Array:
        """Inline string cells (tails, then `end`) of a string array (nulls stay null)."""
        first = pc.utf8_slice_codeunits(text, 0, 1)
        if warnings is not None:
            warnings["formula_neutralised"] += int(pc.sum(pc.is_in(first, value_set=_FORMULA_STARTS)).as_py() or 0)
        esc = text
        if contains_any(esc, (b"_x", b"\r", b"&", b"<", b">")):
            if contains_any(esc, (b"_x",)):
                esc = pc.replace_substring_regex(esc, r"(_x[0-9a-fA-F]{4}_)", r"_x005F\1")
            if contains_any(esc, (b"\r",)):
                esc = pc.replace_substring(esc, "\r", "_x000D_")
            if contains_any(esc, (b"&", b"<", b">")):
                esc = pc.replace_substring(esc, "&", "&amp;")
                esc = pc.replace_substring(esc, "<", "&lt;")
                esc = pc.replace_substring(esc, ">", "&gt;")
        plain = _join(_scalar('" t="inlineStr"><is><t>'), esc, _scalar("</t></is></c>" + end))
        last = pc.utf8_slice_codeunits(text, -1)
        preserve = pc.or_(pc.is_in(first, value_set=_SPACES), pc.is_in(last, value_set=_SPACES))
        if not pc.any(preserve).as_py():
            return plain
        kept = _join(_scalar('" t="inlineStr"><is><t xml:space="preserve">'), esc, _scalar("</t></is></c>" + end))
        return pc.if_else(preserve, kept, plain)

    def _labels(self, arr: pa.Array, fmt: ColumnFormat) -> pa.Array | None:
        if not fmt.value_map or len(arr) == 0:
            return None
        unique = pc.unique(arr.drop_null())
        keys, labels = [], []
        for i, value in enumerate(unique.to_pylist()):
            label = fmt.label(value)
            if label is not None:
                keys.append(i)
                labels.append(label)
        if not keys:
            return None
        positions = pc.index_in(arr, value_set=unique.take(pa.array(keys, pa.int64())))
        return pa.array(labels, pa.string()).take(positions)

    def _style_array(self, c: int, columns: Columns) -> pa.Array | pa.Scalar:
        default = str(self._number_style(c, None))
        index = self.currency_index[c]
        if index is None:
            return _scalar(default)
        codes = columns.columns[index]
        if not isinstance(codes, pa.Array) or codes.type != pa.string():
            codes = pa.array([v if isinstance(v, str) else None for v in
                              (codes.to_pylist() if isinstance(codes, pa.Array) else codes)], pa.string())
        prefix_free = f" {self.number_format[c]}"
        code_list = [f[1:4] for f in self.styles.formats
                     if f.endswith(prefix_free) and len(f) == 5 + len(prefix_free) and CURRENCY_CODE.fullmatch(f[1:4])
                     and f == f'"{f[1:4]}"{prefix_free}']
        if not code_list:
            return _scalar(default)
        ids = pa.array([str(self._number_style(c, code)) for code in code_list], pa.string())
        return pc.fill_null(ids.take(pc.index_in(codes, value_set=pa.array(code_list, pa.string()))), default)

    def _number_cells(self, text: pa.Array, style, end: str) -> pa.Array:
        return _join(_scalar('" s="'), style, _scalar('"><v>'), text, _scalar("</v></c>" + end))

    def _column_cells(self, c: int, columns: Columns, warnings: dict, end: str) -> pa.Array:
        """Column c's cells as tails, each followed by `end` (the next cell's `<c r="D`, or
        `</row>`): rows_xml puts the row number between each and the next."""
        arr = columns.columns[c]
        fmt = self.formats[c]
        column = fmt.column
        if isinstance(arr, pa.Array) and pa.types.is_timestamp(arr.type) and not _tz_safe(arr):
            arr = arr.to_pylist()  # Python's zone rules: Arrow's stop at 2037
        if isinstance(arr, pa.Array) and pa.types.is_timestamp(arr.type):
            local = pc.local_timestamp(arr) if arr.type.tz else arr
            micros = pc.fill_null(local.cast(pa.int64()), 0).to_numpy(zero_copy_only=False)
            if (len(micros) and micros.min() < _MIN_FAST_DAY * 86_400_000_000) or fmt.value_map:
                arr = arr.to_pylist()  # rare: the per-cell path below
            else:
                days = micros // 86_400_000_000
                rest = micros - days * 86_400_000_000
                serial = (days + _UNIX_DAY_SERIAL).astype(np.float64) + (
                    (rest // 1_000_000).astype(np.float64) + (rest % 1_000_000).astype(np.float64) / 1e6) / 86400
                serial = np.where(serial > 59, serial + 1, serial)  # always, from 1900-03-01 on
                serial = truncation_safe(serial, micros + _UNIX_EPOCH_MICROS)
                style = _scalar(str(self.styles.index(fmt.datetime_format)))
                cells = self._number_cells(pc.cast(pa.array(serial), pa.string()), style, end)
                if arr.null_count:
                    cells = pc.if_else(pc.is_valid(arr), cells, _scalar(self.null_tail + end))
                return cells
        if not isinstance(arr, pa.Array):
            index = self.currency_index[c]
            codes = columns.values(index) if index is not None else None
            cells = [_tail(self._py_cell(c, v, codes[i] if codes else None, warnings)) + end
                     for i, v in enumerate(arr)]
            return pa.array(cells, pa.string())

        null_cell = _scalar(self.null_tail + end)
        labels = self._labels(arr, fmt)
        kind = arr.type
        if pa.types.is_string(kind) or pa.types.is_null(kind) or (pa.types.is_integer(kind) and column.type == "enum"):
            text = arr if pa.types.is_string(kind) else pc.cast(arr, pa.string())
            if labels is not None:
                text = pc.coalesce(labels, text)
            return pc.fill_null(self._text_cells(text, warnings, end), null_cell)
        if pa.types.is_boolean(kind):
            cells = pc.if_else(arr, _scalar('" t="b"><v>1</v></c>' + end), _scalar('" t="b"><v>0</v></c>' + end))
        elif pa.types.is_date32(kind):
            days = arr.cast(pa.int32()).cast(pa.int64())
            serial = pc.add(days, _UNIX_DAY_SERIAL)
            serial = pc.if_else(pc.greater(serial, 59), pc.add(serial, 1), serial)
            cells = self._number_cells(pc.cast(serial, pa.string()), _scalar(str(self.styles.index(fmt.date_format))),
                                       end)
        elif pa.types.is_integer(kind):
            large = pc.greater_equal(pc.abs(arr), LARGE_INTEGER)
            text = pc.cast(arr, pa.string())
            cells = self._number_cells(text, self._style_array(c, columns), end)
            if pc.any(large).as_py():
                shown = large if labels is None else pc.and_(large, pc.is_null(labels))
                warnings["large_integers_as_text"] += int(pc.sum(shown).as_py() or 0)
                cells = pc.if_else(large, self._text_cells(text, None, end), cells)
        elif pa.types.is_floating(kind):
            cells = self._number_cells(pc.cast(arr, pa.string()), self._style_array(c, columns), end)
            huge = pc.greater(pc.abs(arr), EXCEL_MAX_NUMBER)
            if pc.any(huge).as_py():
                shown = huge if labels is None else pc.and_(huge, pc.is_null(labels))
                warnings["large_numbers_as_text"] += int(pc.sum(shown).as_py() or 0)
                reprs = pa.array([repr(v) if v is not None else None for v in arr.to_pylist()], pa.string())
                cells = pc.if_else(huge, self._text_cells(reprs, None, end), cells)
        else:
            index = self.currency_index[c]
            codes = columns.values(index) if index is not None else None
            values = arr.to_pylist()
            return pa.array([_tail(self._py_cell(c, v, codes[i] if codes else None, warnings)) + end
                             for i, v in enumerate(values)], pa.string())
        if labels is not None:
            cells = pc.if_else(pc.is_valid(labels), self._text_cells(labels, warnings, end), cells)
        return pc.fill_null(cells, null_cell)

    def rows_xml(self, columns: Columns, first_row: int) -> tuple[memoryview | bytes, dict[str, int]]:
        """The `<row>` elements of every row of `columns`, numbered from sheet row `first_row` (the
        header is row 1), and the warnings counted."""
        warnings = empty_warnings()
        if not len(columns):
            return b"", warnings
        count = len(self.spec.columns)
        ends = [f'<c r="{ooxml.column_letter(c + 1)}' for c in range(count - 1)] + ["</row>"]
        cells = [self._column_cells(c, columns, warnings, ends[c]) for c in range(count)]
        numbers = pc.cast(pa.array(np.arange(first_row, first_row + len(columns), dtype=np.int64)), pa.string())
        # <row r="7"><c r="A7" s="3"><v>1</v></c><c r="B7"/></row>: the row number is the join's
        # separator, between '<row r="' and '"><c r="A' and each column's cells (which end in the next
        # cell's '<c r="B'): as fast as joining the cells alone, where 3 pieces a cell cost 6 times more.
        head = [_scalar('<row r="'), _scalar('"><c r="A')] if count else [_scalar('<row r="'), _scalar('"></row>')]
        rows = pc.binary_join_element_wise(*head, *cells, numbers)
        return utf8_data(rows), warnings


# --- chunks and the package ----------------------------------------------------------------

@dataclass(frozen=True)
class ChunkInfo:
    path: str
    crc: int
    raw_size: int
    size: int
    rows: int

    def piece(self) -> Piece:
        return Piece(self.crc, self.raw_size, self.size, path=self.path)


def write_chunk(xml: bytes | memoryview, path: str | Path, rows: int) -> ChunkInfo:
    """Deflate (raw, full flush) and write atomically: tmp file, then rename."""
    compressor = deflater(DEFLATE_LEVEL)
    tmp = f"{path}.{os.getpid()}.tmp"
    size = 0
    with open(tmp, "wb") as out:
        view = memoryview(xml)
        step = 8 << 20
        for start in range(0, len(view), step):
            block = compressor.compress(view[start:start + step])
            out.write(block)
            size += len(block)
        block = compressor.flush(FULL_FLUSH)
        out.write(block)
        size += len(block)
    os.replace(tmp, path)
    return ChunkInfo(str(path), crc32(xml), len(xml), size, rows)


@dataclass
class SheetPlan:
    name: str
    rows: int
    chunks: list[ChunkInfo]


def assemble(out_path: str | Path, spec: ExportSpec, styles: ooxml.StyleTable, sheets: Sequence[SheetPlan],
             widths: Sequence[float]) -> None:
    """Write the XLSX: the package parts, then each sheet's head, chunks and tail, streamed."""
    headers = [c.header for c in spec.columns]
    names = [s.name for s in sheets]
    cells = sum(s.rows for s in sheets) * max(len(headers), 1)
    with open(out_path, "wb") as handle:
        zip_out = ZipStreamWriter(handle, force_zip64=cells > ooxml.ZIP64_CELLS)
        zip_out.add_bytes("[Content_Types].xml", ooxml.content_types(len(sheets)).encode())
        zip_out.add_bytes("_rels/.rels", ooxml.root_rels().encode())
        zip_out.add_bytes("docProps/app.xml", ooxml.app_properties(names).encode())
        zip_out.add_bytes("docProps/core.xml", ooxml.core_properties(spec.title, ooxml.AUTHOR,
                                                                     datetime.now(UTC)).encode())
        zip_out.add_bytes("xl/workbook.xml", ooxml.workbook(
            names, [ooxml.filter_ref(len(headers), s.rows) for s in sheets]).encode())
        zip_out.add_bytes("xl/_rels/workbook.xml.rels", ooxml.workbook_rels(len(sheets)).encode())
        zip_out.add_bytes("xl/styles.xml", styles.xml().encode())
        for number, sheet in enumerate(sheets, start=1):
            head = ooxml.sheet_head(headers, list(widths), sheet.rows, number == 1).encode()
            tail = ooxml.sheet_tail(len(headers), sheet.rows).encode()
            pieces = [deflate_piece(head), *(c.piece() for c in sheet.chunks if c.raw_size),
                      deflate_piece(tail), finish_deflate()]
            zip_out.add_pieces(f"xl/worksheets/sheet{number}.xml", pieces)
        zip_out.close()

"""XLSX writer: xlsxwriter in constant_memory mode, typed cells, one or more sheets."""
from __future__ import annotations

import re
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import xlsxwriter

from .formatting import DEFAULT_CURRENCY_FORMAT, ColumnFormat, column_formats
from .safety import LARGE_INTEGER, empty_warnings, is_formula_like, sheet_name

# Excel holds 1,048,576 rows; one is the header. Tests monkeypatch this to a small number.
MAX_ROWS_PER_SHEET = 1_048_575
AUTHOR = "YBB Data Management Service"
WIDTH_SAMPLE_ROWS = 1000
MIN_WIDTH, MAX_WIDTH = 8, 60
# Past this many cells the zip may exceed 4 GB and needs ZIP64.
ZIP64_CELLS = 50_000_000
WORKBOOK_OPTIONS = {
    "constant_memory": True,
    "strings_to_formulas": False,
    "strings_to_urls": False,
    "strings_to_numbers": False,
    "nan_inf_to_errors": False,
}
# The largest number an Excel cell holds; past it (up to float's 1.8e308) Excel shows an error.
EXCEL_MAX_NUMBER = 9.99999999999999e307
HEADER_STYLE = {"bold": True, "bg_color": "#D9E1F2", "border": 1, "valign": "top"}
_CURRENCY_CODE = re.compile(r"[A-Z]{3}")


def write_xlsx(part, spec, out_path: Path) -> tuple[list[str], dict[str, int]]:
    options = spec.options
    warnings = empty_warnings()
    columns = spec.columns
    formats = column_formats(columns, options)
    fields = part.fields
    workbook = xlsxwriter.Workbook(
        str(out_path), {**WORKBOOK_OPTIONS, "use_zip64": len(part) * max(len(columns), 1) > ZIP64_CELLS}
    )
    workbook.set_properties({
        "title": spec.title,
        "author": AUTHOR,
        "created": datetime.now(timezone.utc).replace(tzinfo=None),
    })
    styles = _Styles(workbook)
    currency_index = [fields.index(c.currency_field) if c.currency_field else None for c in columns]
    widths = [c.width or _auto_width(c.header, part.rows, i, f, options.null_display) for i, (c, f) in
              enumerate(zip(columns, formats))]
    cells = [_CellWriter(f, styles, warnings, options.null_display, currency_index[i]) for i, f in enumerate(formats)]

    groups = _sheet_groups(part, spec, formats)
    layout = sheet_layout([(base, len(rows)) for base, rows in groups])
    names = [name for name, _ in layout]
    sheets = iter(layout)
    for base, rows in groups:
        for start in range(0, max(len(rows), 1), MAX_ROWS_PER_SHEET):
            name, _ = next(sheets)
            sheet = workbook.add_worksheet(name)
            chunk = rows[start:start + MAX_ROWS_PER_SHEET]
            _write_sheet(sheet, columns, widths, styles, cells, chunk)
    workbook.close()
    return names, warnings


def sheet_layout(groups: list[tuple[str, int]]) -> list[tuple[str, int]]:
    """(sheet name, rows) of every sheet: each group (split_by value, or the one base name) is cut
    at MAX_ROWS_PER_SHEET rows into "Name", "Name (2)", ...; names made valid and unique."""
    layout: list[tuple[str, int]] = []
    taken: set[str] = set()
    for base, count in groups:
        for chunk_number, start in enumerate(range(0, max(count, 1), MAX_ROWS_PER_SHEET), start=1):
            label = base if chunk_number == 1 else f"{base[:31 - len(f' ({chunk_number})')]} ({chunk_number})"
            layout.append((sheet_name(label, taken), min(MAX_ROWS_PER_SHEET, count - start)))
    return layout


def _write_sheet(sheet, columns, widths, styles, cells, rows) -> None:
    for c, width in enumerate(widths):
        sheet.set_column(c, c, width)
    for c, column in enumerate(columns):
        sheet.write_string(0, c, column.header, styles.header)
    sheet.freeze_panes(1, 0)
    sheet.autofilter(0, 0, max(len(rows), 1), len(columns) - 1)
    for r, row in enumerate(rows, start=1):
        for c, cell in enumerate(cells):
            cell.write(sheet, r, c, row)


def _sheet_groups(part, spec, formats: list[ColumnFormat]) -> list[tuple[str, list[tuple]]]:
    """(sheet name, rows) for every sheet, before the split at MAX_ROWS_PER_SHEET."""
    base = spec.options.sheet_name or spec.title
    split_by = spec.options.split_by
    if not split_by:
        return [(base, part.rows)]
    index = part.fields.index(split_by)
    column = next(c for c in spec.all_columns if c.field == split_by)
    fmt = ColumnFormat(column, spec.options.date_format, spec.options.datetime_format)
    groups: dict[str, list[tuple]] = {}
    for row in part.rows:
        value = row[index]
        label = fmt.text(value) if value is not None else (spec.options.null_display or "(blank)")
        groups.setdefault(label, []).append(row)
    return list(groups.items()) or [(base, [])]


def _auto_width(header: str, rows: list[tuple], index: int, fmt: ColumnFormat, null_display: str | None) -> float:
    longest = len(header)
    for row in rows[:WIDTH_SAMPLE_ROWS]:
        value = row[index]
        text = fmt.text(value) if value is not None else (null_display or "")
        longest = max(longest, len(text))
    return float(min(max(longest + 2, MIN_WIDTH), MAX_WIDTH))


class _Styles:
    """Workbook formats, created once per distinct number format."""

    def __init__(self, workbook):
        self._workbook = workbook
        self._cache: dict[str, Any] = {}
        self.header = workbook.add_format(HEADER_STYLE)

    def number(self, num_format: str | None):
        if not num_format:
            return None
        if num_format not in self._cache:
            self._cache[num_format] = self._workbook.add_format({"num_format": num_format})
        return self._cache[num_format]


class _CellWriter:
    """Writes the cells of one column with the right type and format."""

    def __init__(self, fmt: ColumnFormat, styles: _Styles, warnings: dict, null_display: str | None,
                 currency_index: int | None):
        self.fmt = fmt
        self.column = fmt.column
        self.warnings = warnings
        self.null_display = null_display
        self.currency_index = currency_index
        number_format = self.column.format or (DEFAULT_CURRENCY_FORMAT if self.column.type == "currency" else None)
        self.number_format = number_format
        self.number_style = styles.number(number_format)
        self.date_style = styles.number(fmt.date_format)
        self.datetime_style = styles.number(fmt.datetime_format)
        self.styles = styles

    def write(self, sheet, r: int, c: int, row: tuple) -> None:
        value = row[c]
        if value is None:
            if self.null_display:
                sheet.write_string(r, c, self.null_display)
            return
        label = self.fmt.label(value)
        if label is not None:
            self._text(sheet, r, c, label)
        elif isinstance(value, str):
            self._text(sheet, r, c, value)
        elif isinstance(value, bool):
            sheet.write_boolean(r, c, value)
        elif isinstance(value, datetime):
            # Excel has no time zones: the wall-clock time in options.timezone is written.
            sheet.write_datetime(r, c, value.replace(tzinfo=None), self.datetime_style)
        elif hasattr(value, "isoformat"):
            sheet.write_datetime(r, c, value, self.date_style)
        elif self.column.type == "enum":
            self._text(sheet, r, c, str(value))
        elif isinstance(value, int) and abs(value) >= LARGE_INTEGER:
            self.warnings["large_integers_as_text"] += 1
            sheet.write_string(r, c, str(value))
        elif abs(value) > EXCEL_MAX_NUMBER:
            self.warnings["large_numbers_as_text"] += 1
            sheet.write_string(r, c, repr(value))
        else:
            sheet.write_number(r, c, value, self._number_style(row))

    def _text(self, sheet, r: int, c: int, text: str) -> None:
        # write_string never makes a formula; counted so the report shows what was found.
        if is_formula_like(text):
            self.warnings["formula_neutralised"] += 1
        sheet.write_string(r, c, text)

    def _number_style(self, row: tuple):
        if self.currency_index is None:
            return self.number_style
        code = row[self.currency_index]
        if not isinstance(code, str) or not _CURRENCY_CODE.fullmatch(code):
            return self.number_style
        return self.styles.number(f'"{code}" {self.number_format}')

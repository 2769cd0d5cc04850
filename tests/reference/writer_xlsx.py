"""The reference XLSX writer: xlsxwriter in constant_memory mode, typed cells, one or more sheets.

The sheet layout, column widths, header colour and document constants are production's
(ybb_engine.ooxml), read at call time so that a test's monkeypatched
`ooxml.MAX_ROWS_PER_SHEET` applies to both paths.
"""
from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import xlsxwriter

from ybb_engine import ooxml
from ybb_engine.cells import Partition
from ybb_engine.formatting import CURRENCY_CODE, DEFAULT_CURRENCY_FORMAT, ColumnFormat, column_formats
from ybb_engine.safety import EXCEL_MAX_NUMBER, LARGE_INTEGER, empty_warnings, is_formula_like
from ybb_engine.spec import ExportSpec

WORKBOOK_OPTIONS = {
    "constant_memory": True,
    "strings_to_formulas": False,
    "strings_to_urls": False,
    "strings_to_numbers": False,
    "nan_inf_to_errors": False,
}
HEADER_STYLE = {"bold": True, "bg_color": f"#{ooxml.HEADER_COLOR}", "border": 1, "valign": "top"}


def write_xlsx(part: Partition, spec: ExportSpec, out_path: Path) -> tuple[list[str], dict[str, int]]:
    options = spec.options
    warnings = empty_warnings()
    columns = spec.columns
    formats = column_formats(columns, options)
    fields = part.fields
    workbook = xlsxwriter.Workbook(
        str(out_path), {**WORKBOOK_OPTIONS, "use_zip64": len(part) * max(len(columns), 1) > ooxml.ZIP64_CELLS}
    )
    workbook.set_properties({
        "title": spec.title,
        "author": ooxml.AUTHOR,
        "created": datetime.now(timezone.utc).replace(tzinfo=None),
    })
    styles = _Styles(workbook)
    currency_index = [fields.index(c.currency_field) if c.currency_field else None for c in columns]
    widths = [c.width or ooxml.auto_width(c.header, part.rows, i, f, options.null_display) for i, (c, f) in
              enumerate(zip(columns, formats))]
    cells = [_CellWriter(f, styles, warnings, options.null_display, currency_index[i]) for i, f in enumerate(formats)]

    groups = _sheet_groups(part, spec)
    layout = ooxml.sheet_layout([(base, len(rows)) for base, rows in groups])
    names = [name for name, _ in layout]
    sheets = iter(layout)
    limit = ooxml.MAX_ROWS_PER_SHEET
    for base, rows in groups:
        for start in range(0, max(len(rows), 1), limit):
            name, _ = next(sheets)
            sheet = workbook.add_worksheet(name)
            _write_sheet(sheet, columns, widths, styles, cells, rows[start:start + limit])
    workbook.close()
    return names, warnings


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


def _sheet_groups(part: Partition, spec: ExportSpec) -> list[tuple[str, list[tuple]]]:
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
        if not isinstance(code, str) or not CURRENCY_CODE.fullmatch(code):
            return self.number_style
        return self.styles.number(f'"{code}" {self.number_format}')

"""CSV writer: RFC 4180 quoting through the csv module; formula-like texts get a leading apostrophe.

`encode_header` and `encode_rows` make the bytes of the header and of any run of rows, so
the partitioned pipeline renders chunks in parallel and the merge concatenates them.
"""
from __future__ import annotations

import codecs
import csv
import io
from collections.abc import Iterable
from datetime import date

from .formatting import column_formats
from .safety import empty_warnings, is_formula_like, neutralise_for_csv


def _writer(handle, spec):
    csv_options = spec.options.csv
    return csv.writer(
        handle,
        delimiter=csv_options.delimiter,
        quotechar=csv_options.quotechar,
        lineterminator=csv_options.line_terminator,
        quoting=csv.QUOTE_MINIMAL,
        doublequote=True,
    )


def _cell(text: str, warnings: dict) -> str:
    if is_formula_like(text):
        warnings["formula_neutralised"] += 1
        return neutralise_for_csv(text)
    return text


def encode_header(spec) -> tuple[bytes, dict[str, int]]:
    """The byte-order mark (utf-8-sig) and the header line (unless csv.header is false)."""
    warnings = empty_warnings()
    out = codecs.BOM_UTF8 if spec.options.csv.encoding == "utf-8-sig" else b""
    if spec.options.csv.header:
        buffer = io.StringIO()
        _writer(buffer, spec).writerow([_cell(c.header, warnings) for c in spec.columns])
        out += buffer.getvalue().encode("utf-8")
    return out, warnings


def encode_rows(rows: Iterable[tuple], spec) -> tuple[bytes, dict[str, int]]:
    options = spec.options
    warnings = empty_warnings()
    formats = column_formats(spec.columns, options)
    null_text = options.null_display or ""
    # null_display is text from the request: guarded like any text cell, counted per cell.
    null_is_formula = is_formula_like(null_text)
    null_cell = neutralise_for_csv(null_text) if null_is_formula else null_text
    width = len(spec.columns)

    def lines():
        for row in rows:
            out = []
            for value, fmt in zip(row[:width], formats, strict=False):
                if value is None:
                    warnings["formula_neutralised"] += null_is_formula
                    out.append(null_cell)
                    continue
                text = fmt.text(value)
                # Real numbers (a negative amount) are not formulas; texts are checked, and so are
                # formatted dates, whose format (options.date_format, a column's format) may hold
                # literal text such as "=HYPERLINK(...)".
                is_text = isinstance(value, (str, date)) or fmt.label(value) is not None
                out.append(_cell(text, warnings) if is_text else text)
            yield out

    buffer = io.StringIO()
    _writer(buffer, spec).writerows(lines())
    return buffer.getvalue().encode("utf-8"), warnings

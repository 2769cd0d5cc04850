"""CSV writer: RFC 4180 quoting through the csv module; formula-like texts get a leading apostrophe."""
from __future__ import annotations

import csv
from pathlib import Path
from typing import Iterator

from .formatting import column_formats
from .safety import empty_warnings, is_formula_like, neutralise_for_csv


def write_csv(part, spec, out_path: Path) -> tuple[list[str], dict[str, int]]:
    options = spec.options
    csv_options = options.csv
    warnings = empty_warnings()
    formats = column_formats(spec.columns, options)
    null_text = options.null_display or ""
    width = len(spec.columns)

    def cell(text: str) -> str:
        if is_formula_like(text):
            warnings["formula_neutralised"] += 1
            return neutralise_for_csv(text)
        return text

    def lines() -> Iterator[list[str]]:
        if csv_options.header:
            yield [cell(c.header) for c in spec.columns]
        for row in part.rows:
            out = []
            for value, fmt in zip(row[:width], formats):
                if value is None:
                    out.append(null_text)
                    continue
                text = fmt.text(value)
                # Real numbers (a negative amount) are not formulas; only texts are checked.
                is_text = isinstance(value, str) or fmt.label(value) is not None
                out.append(cell(text) if is_text else text)
            yield out

    with open(out_path, "w", encoding=csv_options.encoding, newline="") as handle:
        writer = csv.writer(
            handle,
            delimiter=csv_options.delimiter,
            quotechar=csv_options.quotechar,
            lineterminator=csv_options.line_terminator,
            quoting=csv.QUOTE_MINIMAL,
            doublequote=True,
        )
        writer.writerows(lines())
    return [], warnings

"""JSON (one array) and NDJSON (one object a line) writers, through orjson.

Raw view (default): keys are field names, values typed (dates ISO 8601, null as null).
Formatted view (options.json.formatted): keys are headers, value maps, date formats and
null_display applied, as in the spreadsheet.
"""
from __future__ import annotations

from datetime import date, datetime
from typing import Any

import orjson

from .formatting import column_formats
from .safety import empty_warnings

# orjson serialises integers of at most 64 bits.
_MIN_INT, _MAX_INT = -(2**63), 2**64 - 1


def encode_rows(rows, spec) -> tuple[bytes, dict[str, int]]:
    """JSON: the objects joined by ",\n" (the merge adds the brackets); NDJSON: one line each."""
    options = spec.options
    warnings = empty_warnings()
    formatted = options.json.formatted
    formats = column_formats(spec.columns, options)
    keys = [c.header if formatted else c.field for c in spec.columns]
    width = len(keys)

    def raw(value: Any) -> Any:
        if isinstance(value, int) and not isinstance(value, bool) and not _MIN_INT <= value <= _MAX_INT:
            warnings["large_integers_as_text"] += 1
            return str(value)
        if isinstance(value, date) and not isinstance(value, datetime):
            return value.isoformat()
        return value

    def shown(value: Any, fmt) -> Any:
        if value is None:
            return options.null_display
        label = fmt.label(value)
        if label is not None:
            return label
        if isinstance(value, date):
            return fmt.text(value)
        return raw(value)

    def encode(row: tuple) -> bytes:
        if formatted:
            obj = {k: shown(v, f) for k, v, f in zip(keys, row[:width], formats, strict=False)}
        else:
            obj = {k: raw(v) for k, v in zip(keys, row[:width], strict=False)}
        return orjson.dumps(obj)

    encoded = [encode(row) for row in rows]
    if spec.format == "ndjson":
        return b"".join(line + b"\n" for line in encoded), warnings
    return b",\n".join(encoded), warnings

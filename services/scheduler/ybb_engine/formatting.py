"""Display text of typed values: Excel-style date formats, value maps, numbers.

Date formats use Excel's syntax ("yyyy-mm-dd hh:mm") so that one option drives both the
XLSX number format and the text written to CSV and formatted JSON.
"""
from __future__ import annotations

import functools
import re
from collections.abc import Callable
from datetime import date, datetime
from typing import Any, overload

from .templates import Column
from .values import map_key

DEFAULT_DATE_FORMAT = "yyyy-mm-dd"
DEFAULT_DATETIME_FORMAT = "yyyy-mm-dd hh:mm:ss"
DEFAULT_CURRENCY_FORMAT = "#,##0.00"
# A currency_field value that is an ISO 4217-like code prefixes the number format: "EUR" #,##0.00.
CURRENCY_CODE = re.compile(r"[A-Z]{3}")

_MONTHS = ["January", "February", "March", "April", "May", "June", "July",
           "August", "September", "October", "November", "December"]
_DAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]
_TOKEN = re.compile(r'"[^"]*"|\\.|\[[^\]]*\]|am/pm|a/p|y+|m+|d+|h+|s+|\.0+|.', re.IGNORECASE | re.DOTALL)


@functools.lru_cache(maxsize=256)
def date_renderer(fmt: str) -> Callable[[date], str]:
    """Render dates and datetimes with an Excel date format ("dd/mm/yyyy hh:mm AM/PM").
    Cached: every column of every export asks for one."""
    tokens = [t for t in _TOKEN.findall(fmt) if not t.startswith("[")]
    twelve_hour = any(t.lower() in ("am/pm", "a/p") for t in tokens)
    parts: list[Callable[[datetime], str]] = []
    for index, token in enumerate(tokens):
        parts.append(_part(token, tokens, index, twelve_hour))

    def render(value: date) -> str:
        if not isinstance(value, datetime):
            value = datetime(value.year, value.month, value.day)
        return "".join(part(value) for part in parts)

    return render


def _part(token: str, tokens: list[str], index: int, twelve_hour: bool) -> Callable[[datetime], str]:
    # The lambdas close over values that are fixed once chosen (literal, full, digits, pad).
    lower = token.lower()
    if token.startswith('"'):
        literal = token[1:-1]
        return lambda _v: literal
    if token.startswith("\\"):
        literal = token[1:]
        return lambda _v: literal
    kind, size = lower[0], len(lower)
    if lower in ("am/pm", "a/p"):
        full = lower == "am/pm"
        return lambda v: ("AM" if v.hour < 12 else "PM") if full else ("A" if v.hour < 12 else "P")
    if lower.startswith(".0"):
        digits = size - 1
        return lambda v: "." + f"{v.microsecond:06d}"[:digits]
    if kind == "y":
        return (lambda v: f"{v.year % 100:02d}") if size <= 2 else (lambda v: f"{v.year:04d}")
    if kind == "d":
        if size >= 4:
            return lambda v: _DAYS[v.weekday()]
        if size == 3:
            return lambda v: _DAYS[v.weekday()][:3]
        pad = size == 2
        return lambda v: f"{v.day:02d}" if pad else str(v.day)
    if kind == "h":
        def hour(v: datetime, pad: bool = size >= 2) -> str:
            h = (v.hour % 12 or 12) if twelve_hour else v.hour
            return f"{h:02d}" if pad else str(h)
        return hour
    if kind == "s":
        pad = size >= 2
        return lambda v: f"{v.second:02d}" if pad else str(v.second)
    if kind == "m":
        if size <= 2 and _is_minute(tokens, index):
            pad = size == 2
            return lambda v: f"{v.minute:02d}" if pad else str(v.minute)
        if size == 1:
            return lambda v: str(v.month)
        if size == 2:
            return lambda v: f"{v.month:02d}"
        if size == 3:
            return lambda v: _MONTHS[v.month - 1][:3]
        if size == 4:
            return lambda v: _MONTHS[v.month - 1]
        return lambda v: _MONTHS[v.month - 1][0]
    literal = token
    return lambda _v: literal


def _is_minute(tokens: list[str], index: int) -> bool:
    """Excel reads "m"/"mm" as minutes right after an hour or right before a second."""
    def neighbour(step: int) -> str:
        i = index + step
        while 0 <= i < len(tokens):
            kind = tokens[i][:1].lower()
            if kind in "ymdhs" and tokens[i][:1].isalpha():
                return kind
            i += step
        return ""
    return neighbour(-1) == "h" or neighbour(1) == "s"


def number_text(value: int | float) -> str:
    """Plain text of a number: integral floats without ".0", others in shortest round-trip form."""
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    return repr(value) if isinstance(value, float) else str(value)


class ColumnFormat:
    """Everything needed to show the values of one column; built once per export."""

    def __init__(self, column: Column, date_format: str | None, datetime_format: str | None):
        self.column = column
        self.value_map = column.value_map or {}
        self.date_format = date_format or (column.format if column.type == "date" else None) or DEFAULT_DATE_FORMAT
        self.datetime_format = (
            datetime_format or (column.format if column.type == "datetime" else None) or DEFAULT_DATETIME_FORMAT
        )
        self._date = date_renderer(self.date_format)
        self._datetime = date_renderer(self.datetime_format)

    def label(self, value: Any) -> str | None:
        """The value-map label of `value`, or None."""
        if not self.value_map:
            return None
        return self.value_map.get(map_key(value))

    @overload
    def text(self, value: None) -> None: ...
    @overload
    def text(self, value: Any) -> str: ...

    def text(self, value: Any) -> str | None:
        """The display text of a non-null value (value maps applied, dates formatted)."""
        if value is None:
            return None
        label = self.label(value)
        if label is not None:
            return label
        if isinstance(value, str):
            return value
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, datetime):
            return self._datetime(value)
        if isinstance(value, date):
            return self._date(value)
        return number_text(value)


def column_formats(columns: list[Column], options) -> list[ColumnFormat]:
    return [ColumnFormat(c, options.date_format, options.datetime_format) for c in columns]

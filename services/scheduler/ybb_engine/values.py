"""Parsing raw record values (as PHP apps send them) into typed Python values."""
from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, tzinfo
from decimal import Decimal, InvalidOperation
from typing import Any, Literal, overload

import orjson

COLUMN_TYPES = ("string", "integer", "number", "currency", "date", "datetime", "boolean", "enum")
NUMERIC_TYPES = ("integer", "number", "currency")

_NUMERIC = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?")
_INTEGER = re.compile(r"[+-]?\d+")
_NON_FINITE = {"nan", "+nan", "-nan", "inf", "+inf", "-inf", "infinity", "+infinity", "-infinity"}
_TIMESTAMP = re.compile(r"-?\d{9,}(\.\d+)?")
_ZERO_DATE = re.compile(r"0000-00-00([ T]00:00:00(\.0+)?)?")
# Unix timestamps at or beyond this are taken as milliseconds (JavaScript's Date.now()).
_MILLISECONDS_FROM = 10**11
# An integer parsed from a text has at most this many digits: the range of Excel's and float's
# exponents (1.8e308). Longer digit strings, and exponent forms past it ("1e300000"), are refused
# before any conversion, which would take time quadratic in the digits (2 s for "1e300000").
MAX_INTEGER_DIGITS = 308
_INTEGER_BOUND = 10**MAX_INTEGER_DIGITS
_TRUE = {"1", "true", "yes", "y", "t", "on"}
_FALSE = {"0", "false", "no", "n", "f", "off"}


class Blank(Exception):
    """The value becomes null; `warning` names the counter to increment."""

    def __init__(self, warning: str):
        super().__init__(warning)
        self.warning = warning


@dataclass(frozen=True)
class TimeContext:
    display: tzinfo = UTC   # datetimes are shown in this zone
    assume: tzinfo = UTC    # naive input datetimes are in this zone


Parser = Callable[[Any], Any]


def map_key(value: Any) -> str:
    """The key of `value` in a value map: str(value), with booleans as "true"/"false"."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def as_text(value: Any) -> str:
    """Text of a raw value, used for string columns and for coerced values."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    if isinstance(value, (list, tuple, dict)):
        return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS, default=str).decode()
    return str(value)


def parse_string(value: Any) -> str:
    if isinstance(value, float) and not math.isfinite(value):
        raise Blank("non_finite_blanked")
    return as_text(value)


def _number_from_text(text: str, integer: bool) -> int | float:
    text = text.strip()
    if text.lower() in _NON_FINITE:
        raise Blank("non_finite_blanked")
    if _INTEGER.fullmatch(text):
        if len(text.lstrip("+-").lstrip("0")) <= MAX_INTEGER_DIGITS:
            return int(text)
        if integer:
            raise ValueError(f"{text[:40]!r} has more than {MAX_INTEGER_DIGITS} digits")
        # A number column reads it as a float, which keeps 17 digits (or overflows: blanked below).
    elif not _NUMERIC.fullmatch(text):
        raise ValueError(f"{text[:40]!r} is not a number")
    elif integer:
        try:
            number = Decimal(text)
        except InvalidOperation:
            raise ValueError(f"{text[:40]!r} is not an integer") from None
        if number.is_zero():
            return 0
        # adjusted(): the exponent of the first digit, known without expanding "1e300000".
        if number.adjusted() >= MAX_INTEGER_DIGITS:
            raise ValueError(f"{text[:40]!r} has more than {MAX_INTEGER_DIGITS} digits")
        integral = number.to_integral_value()
        if number != integral:
            raise ValueError(f"{text[:40]!r} is not an integer")
        return int(integral)
    result = float(text)
    if not math.isfinite(result):
        raise Blank("non_finite_blanked")
    return result


@overload
def _parse_number(value: Any, integer: Literal[True]) -> int: ...
@overload
def _parse_number(value: Any, integer: Literal[False]) -> int | float: ...


def _parse_number(value: Any, integer: bool) -> int | float:
    if isinstance(value, bool):
        raise ValueError("a boolean is not a number")
    if isinstance(value, int):
        if integer and not -_INTEGER_BOUND < value < _INTEGER_BOUND:
            raise ValueError(f"an integer of more than {MAX_INTEGER_DIGITS} digits")
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            raise Blank("non_finite_blanked")
        if integer:
            if not value.is_integer():
                raise ValueError(f"{value!r} is not an integer")
            if not -_INTEGER_BOUND < value < _INTEGER_BOUND:
                raise ValueError(f"{value!r} has more than {MAX_INTEGER_DIGITS} digits")
            return int(value)
        return value
    if isinstance(value, Decimal):
        return _number_from_text(str(value), integer)
    if isinstance(value, str):
        return _number_from_text(value, integer)
    raise ValueError(f"a {type(value).__name__} is not a number")


def parse_integer(value: Any) -> int:
    return _parse_number(value, integer=True)


def parse_number(value: Any) -> int | float:
    return _parse_number(value, integer=False)


def parse_boolean(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, (int, float)) and value in (0, 1):
        return bool(value)
    if isinstance(value, str):
        text = value.strip().lower()
        if text in _TRUE:
            return True
        if text in _FALSE:
            return False
    raise ValueError(f"{as_text(value)[:40]!r} is not a boolean")


def parse_enum(value: Any) -> int | str:
    if isinstance(value, bool):
        return map_key(value)
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            raise Blank("non_finite_blanked")
        return int(value) if value.is_integer() else map_key(value)
    if isinstance(value, str):
        # "2" and 2 are the same status code; "007" stays a text.
        if len(value) <= MAX_INTEGER_DIGITS and _INTEGER.fullmatch(value) and str(int(value)) == value:
            return int(value)
        return value
    raise ValueError(f"a {type(value).__name__} is not an enum value")


def _from_timestamp(number: float, zone: tzinfo) -> datetime:
    if abs(number) >= _MILLISECONDS_FROM:
        number = number / 1000
    try:
        return datetime.fromtimestamp(number, UTC).astimezone(zone)
    except (OverflowError, OSError, ValueError):
        raise ValueError(f"{number!r} is not a valid timestamp") from None


def _to_datetime(value: Any, ctx: TimeContext) -> datetime | date:
    """An aware datetime in the display zone, or a plain date when the input had no time."""
    if isinstance(value, datetime):
        parsed: datetime | date = value
    elif isinstance(value, date):
        return value
    elif isinstance(value, bool):
        raise ValueError("a boolean is not a date")
    elif isinstance(value, (int, float)):
        if isinstance(value, float) and not math.isfinite(value):
            raise Blank("non_finite_blanked")
        return _from_timestamp(value, ctx.display)
    elif isinstance(value, str):
        text = value.strip()
        if _ZERO_DATE.fullmatch(text):
            raise Blank("zero_dates_blanked")
        if _TIMESTAMP.fullmatch(text):
            return _from_timestamp(float(text), ctx.display)
        parsed = _iso(text)
    else:
        raise ValueError(f"a {type(value).__name__} is not a date")
    if isinstance(parsed, datetime):
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=ctx.assume)
        return parsed.astimezone(ctx.display)
    return parsed


def _iso(text: str) -> datetime | date:
    try:
        if len(text) <= 10 and "T" not in text and " " not in text:
            return date.fromisoformat(text)
        return datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(f"{text[:40]!r} is not a date") from None


def make_parser(type_: str, ctx: TimeContext) -> Parser:
    """The parser of a column type. It raises ValueError for a bad value and Blank for a null-ed one."""
    if type_ == "date":
        def parse_date(value: Any) -> date:
            parsed = _to_datetime(value, ctx)
            return parsed.date() if isinstance(parsed, datetime) else parsed
        return parse_date
    if type_ == "datetime":
        def parse_datetime(value: Any) -> datetime:
            parsed = _to_datetime(value, ctx)
            if not isinstance(parsed, datetime):
                parsed = datetime(parsed.year, parsed.month, parsed.day, tzinfo=ctx.assume).astimezone(ctx.display)
            return parsed
        return parse_datetime
    return {
        "string": parse_string,
        "integer": parse_integer,
        "number": parse_number,
        "currency": parse_number,
        "boolean": parse_boolean,
        "enum": parse_enum,
    }[type_]

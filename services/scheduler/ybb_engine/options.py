"""The `options` object of an export request: formatting and policies."""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from datetime import UTC, tzinfo
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from .errors import EngineError
from .safety import has_forbidden_chars
from .templates import FIELD_NAME
from .values import TimeContext

MAX_TEXT_OPTION = 100


@dataclass(frozen=True)
class CsvOptions:
    delimiter: str = ","
    quotechar: str = '"'
    line_terminator: str = "\r\n"   # RFC 4180
    encoding: str = "utf-8"          # "utf-8-sig" adds the BOM Excel needs to detect UTF-8
    header: bool = True


@dataclass(frozen=True)
class JsonOptions:
    formatted: bool = False


@dataclass(frozen=True)
class Options:
    null_display: str | None = None
    date_format: str | None = None
    datetime_format: str | None = None
    timezone: str = "UTC"
    assume_timezone: str = "UTC"
    on_invalid: str = "reject"
    on_overflow: str = "truncate"
    split_by: str | None = None
    sheet_name: str | None = None
    title: str | None = None
    csv: CsvOptions = field(default_factory=CsvOptions)
    json: JsonOptions = field(default_factory=JsonOptions)

    def to_dict(self) -> dict:
        return asdict(self)

    def time_context(self) -> TimeContext:
        return TimeContext(display=zone(self.timezone), assume=zone(self.assume_timezone))


def zone(name: str) -> tzinfo:
    if name.upper() == "UTC":
        return UTC
    return ZoneInfo(name)


def parse_options(data: Any) -> Options:
    """Validate the `options` object; every problem is reported at once as "invalid_option"."""
    if data is None:
        return Options()
    if not isinstance(data, Mapping):
        raise EngineError("invalid_option", "options must be an object.", errors={"options": "must be an object"})
    errors: dict[str, str] = {}
    values: dict[str, Any] = {}
    for key, value in data.items():
        check = _CHECKS.get(key)
        if check is None:
            errors[str(key)] = "unknown option"
            continue
        try:
            values[key] = check(value)
        except ValueError as exc:
            errors[key] = str(exc)
        except EngineError as exc:
            nested = exc.errors if isinstance(exc.errors, dict) else {}  # the checks raise with a dict
            errors.update({f"{key}.{k}": v for k, v in nested.items()})
    if errors:
        keys = ", ".join(errors)
        raise EngineError("invalid_option", f"Invalid option(s): {keys}.", errors=errors)
    return Options(**values)


def _text(value: Any, allow_none: bool = True) -> str | None:
    if value is None and allow_none:
        return None
    if not isinstance(value, str) or len(value) > MAX_TEXT_OPTION or has_forbidden_chars(value):
        raise ValueError(f"must be a text of at most {MAX_TEXT_OPTION} characters")
    return value


def _nonempty_text(value: Any) -> str | None:
    value = _text(value)
    if value is not None and not value.strip():
        raise ValueError("must not be empty")
    return value


def _choice(*choices: str):
    def check(value: Any) -> str:
        if value not in choices:
            raise ValueError(f"must be one of {', '.join(choices)}")
        return value
    return check


def _zone_name(value: Any) -> str:
    if not isinstance(value, str) or not value or len(value) > 64:
        raise ValueError("must be an IANA time zone name such as 'Asia/Jakarta'")
    try:
        zone(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {value!r}") from None
    return value


def _field_name(value: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not FIELD_NAME.fullmatch(value):
        raise ValueError("must be a field name")
    return value


def _bool(value: Any) -> bool:
    if not isinstance(value, bool):
        raise ValueError("must be true or false")
    return value


def _single_char(value: Any) -> str:
    if not isinstance(value, str) or len(value) != 1 or value in "\r\n" or has_forbidden_chars(value):
        raise ValueError("must be one character, not a line break")
    return value


def _csv(value: Any) -> CsvOptions:
    parsed = _nested(value, {
        "delimiter": _single_char,
        "quotechar": _single_char,
        "line_terminator": _choice("\r\n", "\n"),
        "encoding": _choice("utf-8", "utf-8-sig"),
        "header": _bool,
    })
    result = CsvOptions(**parsed)
    if result.delimiter == result.quotechar:
        raise EngineError("invalid_option", "", errors={"quotechar": "must differ from the delimiter"})
    return result


def _json(value: Any) -> JsonOptions:
    return JsonOptions(**_nested(value, {"formatted": _bool}))


def _nested(value: Any, checks: dict) -> dict:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise ValueError("must be an object")
    errors, result = {}, {}
    for key, item in value.items():
        if key not in checks:
            errors[str(key)] = "unknown option"
            continue
        try:
            result[key] = checks[key](item)
        except ValueError as exc:
            errors[key] = str(exc)
    if errors:
        raise EngineError("invalid_option", "", errors=errors)
    return result


_CHECKS = {
    "null_display": _text,
    "date_format": _nonempty_text,
    "datetime_format": _nonempty_text,
    "timezone": _zone_name,
    "assume_timezone": _zone_name,
    "on_invalid": _choice("reject", "coerce"),
    "on_overflow": _choice("truncate", "reject"),
    "split_by": _field_name,
    "sheet_name": _nonempty_text,
    "title": _nonempty_text,
    "csv": _csv,
    "json": _json,
}

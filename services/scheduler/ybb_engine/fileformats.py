"""What the API needs of each export format: its MIME type, file extension and a safe file name."""
from __future__ import annotations

from typing import Any

from .errors import EngineError
from .safety import sanitize_filename as _sanitize
from .spec import FORMATS

__all__ = ["FORMATS", "content_type", "file_extension", "sanitize_filename"]

_CONTENT_TYPES = {
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "csv": "text/csv; charset=utf-8",
    "json": "application/json",
    "ndjson": "application/x-ndjson",
}


def content_type(fmt: str) -> str:
    """The Content-Type of a download in `fmt`; EngineError("invalid_format") for an unknown format."""
    return _CONTENT_TYPES[_check_format(fmt)]


def file_extension(fmt: str) -> str:
    return _check_format(fmt)


def sanitize_filename(name: str | None, fmt: str, default: str = "export") -> str:
    """A whitelist-only file name for `name` ending in the format's extension (safety.sanitize_filename)."""
    return _sanitize(name, file_extension(fmt), default)


def _check_format(fmt: Any) -> str:
    if fmt not in FORMATS:
        raise EngineError("invalid_format", f"format must be one of {', '.join(FORMATS)}.")
    return fmt

"""The safety rules applied to every cell and name (see docs/safety.md)."""
from __future__ import annotations

import re
import unicodedata

# Excel's hard limit for the text of one cell.
MAX_CELL_CHARS = 32_767
TRUNCATION_MARKER = "…[truncated]"
# Excel stores numbers as IEEE doubles: integers past 15 significant digits lose digits.
LARGE_INTEGER = 10**15
# The largest number an Excel cell holds; past it (up to float's 1.8e308) Excel shows an error.
EXCEL_MAX_NUMBER = 9.99999999999999e307

# Characters XML 1.0 forbids: C0 controls except tab/LF/CR, lone surrogates, U+FFFE and U+FFFF.
# In a Python str every surrogate code point is a lone one (pairs are decoded to one character).
_FORBIDDEN = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "\n")

WARNING_KEYS = (
    "formula_neutralised",
    "control_chars_removed",
    "truncated_cells",
    "coerced_values",
    "large_integers_as_text",
    "large_numbers_as_text",
    "non_finite_blanked",
    "zero_dates_blanked",
    "duplicates_removed",
)


def empty_warnings() -> dict[str, int]:
    return dict.fromkeys(WARNING_KEYS, 0)


def add_warnings(total: dict[str, int], more: dict[str, int]) -> dict[str, int]:
    for key, count in more.items():
        total[key] = total.get(key, 0) + count
    return total


def has_forbidden_chars(text: str) -> bool:
    return _FORBIDDEN.search(text) is not None


def remove_forbidden_chars(text: str) -> str:
    return _FORBIDDEN.sub("", text)


def is_formula_like(text: str) -> bool:
    return text.startswith(FORMULA_START)


def truncate(text: str, limit: int = MAX_CELL_CHARS) -> str:
    """Cut `text` to `limit` characters, the last ones being the truncation marker."""
    return text[: limit - len(TRUNCATION_MARKER)] + TRUNCATION_MARKER


def neutralise_for_csv(text: str) -> str:
    """Prefix a formula-like text with an apostrophe so spreadsheets show it as text."""
    text = "'" + text
    if len(text) > MAX_CELL_CHARS:
        text = truncate(text)
    return text


_SHEET_FORBIDDEN = re.compile(r"[\[\]:*?/\\]")
MAX_SHEET_NAME = 31


def sheet_name(name: str, taken: set[str], default: str = "Sheet") -> str:
    """A valid, unique Excel sheet name; `taken` holds the casefolded names already used and is updated."""
    clean = _SHEET_FORBIDDEN.sub(" ", remove_forbidden_chars(name))
    clean = " ".join(clean.split()).strip("'")[:MAX_SHEET_NAME].strip() or default
    candidate, number = clean, 1
    # "History" is reserved by Excel.
    while candidate.casefold() in taken or candidate.casefold() == "history":
        number += 1
        suffix = f" ({number})"
        candidate = clean[: MAX_SHEET_NAME - len(suffix)].rstrip() + suffix
    taken.add(candidate.casefold())
    return candidate


_FILENAME_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")
_WINDOWS_RESERVED = {"CON", "PRN", "AUX", "NUL", *(f"COM{i}" for i in range(1, 10)), *(f"LPT{i}" for i in range(1, 10))}
MAX_FILENAME = 150


def sanitize_filename(name: str | None, extension: str, default: str = "export") -> str:
    """A whitelist-only file name ending in `.extension`: ASCII letters, digits, '.', '_' and '-'."""
    stem = _clean_stem(name or "")
    if stem.lower().endswith("." + extension):
        stem = stem[: -len(extension) - 1].rstrip("._-")
    if not stem:
        stem = _clean_stem(default) or "export"
    if stem.split(".")[0].upper() in _WINDOWS_RESERVED:
        stem = "_" + stem
    stem = stem[: MAX_FILENAME - len(extension) - 1].rstrip("._-") or "export"
    return f"{stem}.{extension}"


def _clean_stem(name: str) -> str:
    # Keep only the last path component, so "../../etc/passwd" cannot point anywhere else.
    name = re.split(r"[/\\]", name)[-1]
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode("ascii")
    stem = _FILENAME_UNSAFE.sub("_", ascii_name.replace(" ", "_"))
    stem = re.sub(r"\.{2,}", ".", re.sub(r"_{2,}", "_", stem))
    return stem.strip("._-")

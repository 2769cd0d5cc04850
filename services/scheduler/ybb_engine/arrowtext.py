"""Checks over all the strings of an Arrow string array at once.

A regex kernel pays about 100 ns per string before it reads a byte; these look at the
array's concatenated UTF-8 data instead (one numpy or `bytes.find` pass, no copy but the
last), and fall back to the per-string kernel only when that pass cannot decide.
"""
from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

# XML 1.0 forbids these in a document: C0 controls but tab, newline and carriage return, and
# the non-characters U+FFFE and U+FFFF (lone surrogates never reach an Arrow string).
XML_FORBIDDEN_RE2 = "[\\x00-\\x08\\x0b\\x0c\\x0e-\\x1f\\x{FFFE}\\x{FFFF}]"
_CONTROL = np.zeros(256, dtype=bool)
_CONTROL[[b for b in range(0x20) if b not in (0x09, 0x0A, 0x0D)]] = True
_NONCHARACTER_LEAD = 0xEF  # U+FFFE and U+FFFF are EF BF BE and EF BF BF in UTF-8


def _bounds(strings: pa.Array) -> np.ndarray:
    """Where each value starts in the data buffer, and where the last ends (len + 1 offsets)."""
    return np.frombuffer(strings.buffers()[1], dtype=np.int32)[strings.offset:strings.offset + len(strings) + 1]


def utf8_data(strings: pa.Array) -> memoryview:
    """The concatenated UTF-8 of a `pa.string()` array's values (nulls add nothing): a view of
    its data buffer, no copy."""
    data = strings.buffers()[2] if len(strings) else None
    if data is None:  # no values, or every value null or empty
        return memoryview(b"")
    bounds = _bounds(strings)
    return memoryview(data)[int(bounds[0]):int(bounds[-1])]


def has_xml_forbidden_chars(strings: pa.Array) -> bool:
    data = np.frombuffer(utf8_data(strings), dtype=np.uint8)
    if not len(data):
        return False
    if data.min() < 0x20 and _CONTROL[data].any():
        return True
    if data.max() >= _NONCHARACTER_LEAD:  # CJK forms, emoji...: let the exact regex decide
        return bool(pc.any(pc.match_substring_regex(strings, XML_FORBIDDEN_RE2)).as_py())
    return False


def contains_any(strings: pa.Array, needles: tuple[bytes, ...]) -> bool:
    """Whether any value contains any of the ASCII `needles` (an ASCII byte never occurs
    inside a multi-byte UTF-8 character, so a match is a real one)."""
    data = bytes(utf8_data(strings))
    return any(needle in data for needle in needles)


def longest_at_most(strings: pa.Array, limit: int) -> bool:
    """Whether no value has more than `limit` characters."""
    if not len(strings):
        return True
    if int(np.diff(_bounds(strings)).max()) <= limit:  # bytes >= characters
        return True
    return (pc.max(pc.utf8_length(strings)).as_py() or 0) <= limit

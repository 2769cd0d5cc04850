"""Whole-buffer string checks agree with the per-string answers, slices and nulls included."""
from __future__ import annotations

import pyarrow as pa
import pytest
from hypothesis import given, settings, strategies as st

from ybb_engine.arrowtext import contains_any, has_xml_forbidden_chars, longest_at_most, utf8_data
from ybb_engine.safety import has_forbidden_chars

texts = st.lists(st.one_of(st.none(), st.text(st.characters(exclude_categories=("Cs",)), max_size=12)), max_size=20)


def _sliced(values: list, start: int) -> pa.Array:
    """The values as a slice of a longer array, so that offsets do not start at zero."""
    return pa.array(["padding \x01", *values, "& tail \uffff"], pa.string()).slice(1 + start, len(values) - start)


@settings(max_examples=300, deadline=None)
@given(texts, st.integers(0, 3))
def test_agrees_with_the_per_string_checks(values: list, start: int) -> None:
    start = min(start, len(values))
    strings = _sliced(values, start)
    kept = [v for v in values[start:] if v is not None]
    assert bytes(utf8_data(strings)) == "".join(kept).encode()
    assert has_xml_forbidden_chars(strings) == any(has_forbidden_chars(v) for v in kept)
    assert contains_any(strings, (b"&", b"_x")) == any("&" in v or "_x" in v for v in kept)
    assert longest_at_most(strings, 5) == all(len(v) <= 5 for v in kept)


@pytest.mark.parametrize("text, forbidden", [
    ("tab\tnewline\ncr\r", False), ("bell\x07", True), ("vt\x0b", True), ("\x1f", True),
    ("\ufffe", True), ("\uffff", True), ("\uffef fullwidth", False), ("emoji \U0001F600", False),
])
def test_forbidden_characters(text: str, forbidden: bool) -> None:
    assert has_xml_forbidden_chars(pa.array([None, "plain", text], pa.string())) is forbidden


def test_length_is_counted_in_characters_not_bytes() -> None:
    assert longest_at_most(pa.array(["é" * 5], pa.string()), 5)  # 10 bytes, 5 characters
    assert not longest_at_most(pa.array(["é" * 6], pa.string()), 5)


def test_empty_and_all_null_arrays() -> None:
    for strings in (pa.array([], pa.string()), pa.array([None, None], pa.string()), pa.array(["", None], pa.string())):
        assert bytes(utf8_data(strings)) == b""
        assert not has_xml_forbidden_chars(strings) and not contains_any(strings, (b"&",))
        assert longest_at_most(strings, 0)

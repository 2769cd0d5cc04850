"""ybb_api.streaming (issue 17): a body parsed while it is read gives what a whole-body parse
gave, for valid and broken bodies alike, whatever the blocks it arrives in."""
from __future__ import annotations

import io
import json
import sys
import uuid
from pathlib import Path
from typing import Any

import flask
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st
from werkzeug.exceptions import HTTPException

from ybb_api import streaming
from ybb_api.blueprint import _loads
from ybb_engine.errors import EngineError
from ybb_engine.partitions import StagedRecords, read_partition, write_partitions


def _records_of(staged: StagedRecords) -> list:
    return [r for p in staged.finish().partitions for r in read_partition(p.path)]


def _norm(value: Any) -> str:
    """For comparing: NaN equals NaN, the key order counts; deep values too."""
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(max(limit, 20_000))
    try:
        return json.dumps(value, allow_nan=True)
    finally:
        sys.setrecursionlimit(limit)


def _round_trip(records: list, directory: Path) -> list:
    """The records as the partitions hold them (NaN becomes null, as it always did)."""
    return [r for p in write_partitions(records, directory, 4) for r in read_partition(p.path)]


def outcome_whole(body: bytes, directory: Path) -> tuple:
    """What the API made of a create body before: one parse of the whole body."""
    try:
        value = _loads(body)
    except (json.JSONDecodeError, UnicodeDecodeError):
        return ("400",)
    except HTTPException as exc:
        return (str(exc.code),)
    if isinstance(value, dict) and isinstance(value.get("records"), list):
        records = value["records"]
        bad = next((i for i, r in enumerate(records) if not isinstance(r, dict)), None)
        if bad is not None:
            return ("not an object", bad)
        try:
            value = {**value, "records": _round_trip(records, directory)}
        except EngineError as exc:
            return (exc.code,)
    return ("ok", _norm(value))


def outcome_streamed(body: bytes, directory: Path) -> tuple:
    made: list[StagedRecords] = []

    def stage() -> StagedRecords:
        made.append(StagedRecords(directory / uuid.uuid4().hex, 4, 10**6, sample_rows=3))
        return made[-1]

    try:
        value = streaming.parse_export_body(io.BytesIO(body), stage)
    except (json.JSONDecodeError, UnicodeDecodeError):
        assert not any(s.directory.exists() for s in made), "a refused body left partitions"
        return ("400",)
    except HTTPException as exc:
        assert not any(s.directory.exists() for s in made)
        return (str(exc.code),)
    except EngineError as exc:
        assert not any(s.directory.exists() for s in made)
        return (exc.code,)
    assert sum(s.directory.exists() for s in made) <= 1  # a repeated records key discards the first
    if isinstance(value, dict) and isinstance(value.get("records"), StagedRecords):
        staged = value["records"]
        if staged.not_object is not None:
            return ("not an object", staged.not_object)
        records = _records_of(staged)
        assert staged.rows == len(records) and len(staged.sample) == min(3, len(records))
        value = {**value, "records": records}
    return ("ok", _norm(value))


@pytest.fixture
def small_blocks(monkeypatch):
    """Blocks of a few bytes and groups of a few records: every boundary gets crossed."""
    def use(block: int, rows: int = 2, group_bytes: int = 1 << 22) -> None:
        monkeypatch.setattr(streaming, "BLOCK", block)
        monkeypatch.setattr(streaming, "GROUP_ROWS", rows)
        monkeypatch.setattr(streaming, "GROUP_BYTES", group_bytes)
    return use


BODIES = [
    b'{"template": "participants/standard", "records": [{"a": 1}, {"b": "x"}, {"c": [1, {"d": null}]}]}',
    b'{"records": [{"a": "q\\"uo]te}\\\\"}, {"b": "\\u00e9\\ud83d\\ude00"}], "format": "csv"}',
    b'  {"records":[],"format":"csv"}  \n',
    b'{"records": [ ] }',
    b'{"records": null, "upload": true}',
    b'{"records": "nope"}',
    b'{"records": {"a": 1}}',
    b'{"records": [{"a": 1}], "records": [{"b": 2}, {"c": 3}]}',
    b'{"records": [{"a": 1}], "records": null}',
    b'{"rec\\u006frds": [{"a": 1}]}',
    b'{"records": [{"a": NaN}, {"b": -Infinity}, {"c": 1e999}, {"d": 123456789012345678901234567890}]}',
    b'{"records": [{"a": "\\ud800"}, {"b": "\xed\xa0\x80"}]}',
    b'{"records": [{}, 5, {}]}',
    b'{"records": [{}, 5, {]}',
    b'{"records": [{}, [], "x", null]}',
    b'{}',
    b'[{"a": 1}]',
    b'"records"',
    b'',
    b'   ',
    b'\xef\xbb\xbf{"records": [{"a": 1}]}',
    '{"records": [{"a": 1}]}'.encode("utf-16"),
    '{"records": [{"a": 1}]}'.encode("utf-16-le"),
    b'{"records": [{"n": "\xff\xfe"}]}',
    b'{"records": [{"a": 1},]}',
    b'{"records": [,{"a": 1}]}',
    b'{"records": [{"a": 1} {"b": 2}]}',
    b'{"records": [{"a": 1}], }',
    b'{"records": [{"a": 1}]} x',
    b'{"records": [{"a": 1}]}{}',
    b'{"records": [{"a": 1}]',
    b'{"records": [{"a": "unterminated}]}',
    b'{"records" [{"a": 1}]}',
    b'{records: [{"a": 1}]}',
    b'{"a": 1 "records": []}',
    b'{"records": [{"a": tru}]}',
    b'{"records": [{"a": 01}]}',
    b'{"records": [{"a": 1}\x0c]}',
    b'{"records": [{"a": "\t"}]}',
    b'{"records": [{"a": 1}]]}',
    b'{"records": [{"a": 1}}]}',
    b'{"x": [1, 2, {"y": [3]}], "records": [{"a": 1}], "z": "}]"}',
    # Where a guessed cut lands wrong: `}` followed by `,` or `]` in strings, nested records, after the array.
    b'{"records": [{"a": "},{"}, {"b": "}]"}, {"c": "x},"}], "options": {"a": {"b": 1}, "c": {"d": 2}}}',
    b'{"records": [{"a": {"b": {"c": 1}, "d": 2}, "e": [{"f": 1}, {"g": 2}]}, {"h": {}}]}',
    b'{"records": [{"a": [{"b": 1}, {"c": 2}]}, {"d": [{}]}], "filters": [{"field": "a"}, {"field": "b"}]}',
    b'{"records": [{"a": 1}, {"b": 2}, 3, {"c": "}]"}]}',
    b'{"records": [{"a": 1}, {"b": 2}, {"c": NaN}, {"d": 4}]}',
    b'{"records": [{"a": 1}, {"b": 2}, {"c": "\xff"}, {"d": 4}]}',
    b'{"records": [{"a": 1}, {"b": 2}]], "x": {"y": 1}}',
    b'{"records": [{"a": 1}, {"b": 2} ], "records": [{"c": {"d": 1}}, {"e": 2}]}',
    b'{"records": [{"a": 1}],[{"b": 2}]}',  # a guessed cut past the array must not parse
    b'{"records": [{"a": 1}],[{"b": 2}], "x": 1}',
    b'{"records": [{"a": 1}]],[[{"b": 2}]}',
    b'{"records": [{"a": 1}], [], "x": 1}',
]


@pytest.mark.parametrize(("block", "group_bytes"), [(1, 1 << 19), (3, 10), (64, 1), (64, 25), (1 << 18, 1 << 19)])
@pytest.mark.parametrize("body", BODIES)
def test_a_streamed_body_gives_what_the_whole_body_gave(tmp_path: Path, small_blocks, body: bytes, block: int,
                                                        group_bytes: int) -> None:
    small_blocks(block, group_bytes=group_bytes)
    assert outcome_streamed(body, tmp_path / "new") == outcome_whole(body, tmp_path / "old")


def _nested(levels: int) -> bytes:
    """A body whose deepest value is at `levels` levels from the root (the object is the first)."""
    inner = levels - 3  # the object, the records array, the record
    return b'{"records": [{"a": ' + b"[" * inner + b"]" * inner + b"}]}"


@pytest.mark.parametrize("levels", [200, 300, 1023, 1024, 1025, 1100])
def test_the_nesting_limit_is_the_same(tmp_path: Path, small_blocks, levels: int) -> None:
    """1,024 levels from the root, as orjson counts them; records deeper than the partitions
    can be written with (orjson writes 254 levels, the stdlib as many as the stack takes) are
    a 400, not the 500 they were."""
    small_blocks(100)
    body = _nested(levels)
    streamed = outcome_streamed(body, tmp_path / "new")
    assert streamed == outcome_whole(body, tmp_path / "old")
    assert streamed[0] == ("ok" if levels <= 300 else "invalid_json" if levels <= 1024 else "400")
    other_key = b'{"records": [], "filters": ' + b"[" * (levels - 1) + b"]" * (levels - 1) + b"}"
    streamed = outcome_streamed(other_key, tmp_path / "new2")
    assert streamed == outcome_whole(other_key, tmp_path / "old2")
    assert streamed[0] == ("ok" if levels <= 1024 else "400")


@pytest.mark.parametrize("levels", [1023, 1024, 1025])
def test_a_batch_array_has_the_same_nesting_limit(app, levels: int, tmp_path: Path) -> None:
    """The batch is the array itself: its records may be one level deeper than a create's."""
    inner = levels - 2
    body = b"[{" + b'"a": ' + b"[" * inner + b"]" * inner + b"}]"
    try:
        _loads(body)
        whole = "ok"
    except HTTPException:
        whole = "400"
    with app.test_request_context("/", method="POST", data=body, content_type="application/json"):
        try:
            streaming.read_records(flask.request, lambda: StagedRecords(tmp_path / str(levels), 4, 10**6))
            streamed = "ok"
        except HTTPException as exc:
            streamed = str(exc.code)
        except EngineError:  # parsed, but too deep for the partition files (orjson writes 254 levels)
            streamed = "ok"
    assert streamed == whole == ("ok" if levels <= 1024 else "400")


def test_many_records_arrive_in_groups_and_partitions(tmp_path: Path, small_blocks) -> None:
    small_blocks(1000, rows=7, group_bytes=300)
    records = [{"n": i, "text": "x" * (i % 50), "nested": {"list": [i, i + 1]}} for i in range(500)]
    body = json.dumps({"format": "csv", "records": records, "filename": "f"}, indent=2).encode()
    assert outcome_streamed(body, tmp_path / "new") == outcome_whole(body, tmp_path / "old")


def test_a_broken_body_reports_the_line_of_the_error(small_blocks, tmp_path: Path) -> None:
    small_blocks(16, rows=2)
    records = ",\n".join(json.dumps({"n": i}) for i in range(20))
    body = f'{{"records": [\n{records},\n{{"n": tru}}]}}'.encode()
    with pytest.raises(json.JSONDecodeError) as raised:
        streaming.parse_export_body(io.BytesIO(body), lambda: StagedRecords(tmp_path / "s", 4, 10**6))
    assert raised.value.lineno == 22
    whole = pytest.raises(json.JSONDecodeError, json.loads, body).value
    assert raised.value.pos == whole.pos


# -- property: random bodies, valid and broken ------------------------------------------------

_scalars = st.one_of(st.none(), st.booleans(), st.integers(-(2**70), 2**70), st.floats(allow_nan=False),
                     st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=8),
                     st.sampled_from(['"}]', "\\", '"', "[{", "\u2028", "é€😀"]))
_values = st.recursive(_scalars, lambda inner: st.one_of(st.lists(inner, max_size=3),
                                                         st.dictionaries(st.text(max_size=4), inner, max_size=3)),
                       max_leaves=8)
_records = st.lists(st.one_of(st.dictionaries(st.text(max_size=5), _values, max_size=4), _scalars), max_size=12)


@st.composite
def bodies(draw: Any) -> bytes:
    body = {"records": draw(_records)}
    for key in draw(st.lists(st.sampled_from(["template", "format", "filters", "x", "records"]), max_size=3)):
        body[key] = draw(_values)
    items = list(body.items())
    draw(st.randoms()).shuffle(items)
    text = json.dumps(dict(items), ensure_ascii=draw(st.booleans()),
                      indent=draw(st.sampled_from([None, 0, 2])),
                      separators=draw(st.sampled_from([(",", ":"), (", ", ": "), (" ,\r\n", " :\t")])))
    data = text.encode("utf-8", "surrogatepass")
    mutation = draw(st.sampled_from(["none", "none", "truncate", "insert", "delete", "replace"]))
    if mutation != "none" and data:
        at = draw(st.integers(0, len(data) - 1))
        byte = draw(st.sampled_from([b",", b"]", b"[", b"{", b"}", b'"', b"\\", b":", b" ", b"x", b"\xff", b"1",
                                     b"],[", b"}],", b"},{", b'"}', b",[]"]))
        data = {"truncate": data[:at], "insert": data[:at] + byte + data[at:], "delete": data[:at] + data[at + 1:],
                "replace": data[:at] + byte + data[at + 1:]}[mutation]
    return data


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=bodies(), block=st.integers(1, 40), rows=st.integers(1, 4),
       group_bytes=st.one_of(st.integers(1, 80), st.just(1 << 19)))
def test_random_bodies_streamed_or_whole_agree(tmp_path: Path, body: bytes, block: int, rows: int,
                                               group_bytes: int) -> None:
    """Small groups: the guessed cuts land everywhere (in strings, in nested records, past the array)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(streaming, "BLOCK", block)
        patch.setattr(streaming, "GROUP_ROWS", rows)
        patch.setattr(streaming, "GROUP_BYTES", group_bytes)
        run = tmp_path / uuid.uuid4().hex
        assert outcome_streamed(body, run / "new") == outcome_whole(body, run / "old"), body

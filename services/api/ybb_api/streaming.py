"""Request bodies of records, parsed while they are read (issue 17).

A create request (`POST /api/v1/exports`, a JSON object) and an upload batch (`POST
/api/v1/exports/<id>/records`, a JSON array or NDJSON) carry up to 100 MB of records. Parsed
whole, such a body and its Python objects took an API worker from ~160 MiB to ~500 MiB, and
the worker kept much of that afterwards. Here the body is read in blocks of BLOCK bytes; the
records are parsed GROUP_ROWS at a time and handed to the engine's `StagedRecords`, which
appends them to partition files as they come (ybb_engine.partitions). At any moment a worker
holds one block, one group of records and its serialisation, whatever the body's size.

What finds the records' boundaries is a small scanner (`_Body`): it tells strings, structure
and the rest apart with a few regular expressions, and checks only what lies between the
records (the commas, the object's keys and colons). The records themselves, and every other
value of the object, are parsed by the same functions as before (orjson, then the standard
library for what orjson refuses: NaN, lone surrogates), each group as one JSON array made of
the body's own bytes. So a body is accepted, or refused with the same 400 invalid_json, as
when it was parsed whole: a group's `[` + bytes + `]` is valid JSON exactly when that part of
the body is, and the scanner checks the rest. The nesting limit is orjson's 1,024 levels,
counted from the body's root as before.

Bodies the scanner leaves to the old way (read whole, parsed whole): a create body that is not
a JSON object, a batch that is not an array, and bodies that start with a byte order mark or
look like UTF-16/32 (which the standard library's parser takes). A create body's other keys
may come before or after `records`; they are small and parsed one by one. When `records`
occurs twice the last one counts, as with a whole-body parse.

The old compat route (/api/ybb/export/<type>, `data`) still reads its body whole: its
translation works on the records in memory (see docs/performance.md).
"""
from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any, NoReturn

import flask
import orjson
from webargs.flaskparser import is_json_request

from ybb_engine.partitions import StagedRecords

from . import jobs
from .blueprint import NDJSON_TYPES, JsonParser, _loads, _too_deep
from .errors import abort

BLOCK = 1 << 18          # bytes read from the body at a time
GROUP_BYTES = 1 << 19    # records parsed by one orjson call, and handed on together: about this many bytes
GROUP_ROWS = 1000        # or at most this many, where the scanner finds them one by one
GUESSES = 4              # cuts tried before the scanner takes over for a group
MAX_DEPTH = 1024         # orjson's limit, counted from the body's root

_WS = re.compile(rb"[ \t\n\r]*+")
# Inside an object or array: anything but brackets and quotes, and whole strings.
_SKIP = re.compile(rb'(?:[^"{}\[\]]++|"(?:[^"\\]++|\\.)*+")*+', re.S)
_STRING_REST = re.compile(rb'(?:[^"\\]++|\\.)*+', re.S)
_SCALAR = re.compile(rb"[^ \t\n\r,\]}]*+")    # a number, true, false, null, NaN...: up to a delimiter
_EOL = re.compile(rb"[\r\n]")                  # NDJSON lines, as bytes.splitlines() cuts them
_QUOTE, _COLON, _COMMA = ord('"'), ord(":"), ord(",")
_OPEN = frozenset(b"{[")
_LBRACE, _RBRACE, _LBRACKET, _RBRACKET = ord("{"), ord("}"), ord("["), ord("]")
_AFTER_RECORD = frozenset(b",]")


class _Body:
    """The body, read in blocks: `buf` holds what has been read and not dropped yet. Positions
    are indexes into `buf`; `drop` forgets what lies before one (and returns its new index, 0)."""

    def __init__(self, stream: Any) -> None:
        self.stream = stream
        self.buf = bytearray()
        self.base = 0       # offset of buf[0] in the body
        self.line = 1       # line of buf[0]
        self.eof = False

    def more(self) -> bool:
        if self.eof:
            return False
        block = self.stream.read(BLOCK)
        if not block:
            self.eof = True
            return False
        self.buf += block
        return True

    def at(self, pos: int) -> int | None:
        """The byte at `pos`, reading as far as needed; None past the end of the body."""
        while pos >= len(self.buf):
            if not self.more():
                return None
        return self.buf[pos]

    def rest(self) -> bytes:
        while self.more():
            pass
        return bytes(self.buf)

    def drop(self, pos: int) -> int:
        self.line += self.buf.count(b"\n", 0, pos)
        del self.buf[:pos]  # cheap: CPython moves the bytearray's start
        self.base += pos
        return 0

    def skip_ws(self, pos: int) -> int:
        while True:
            pos = _WS.match(self.buf, pos).end()  # type: ignore[union-attr]  # it always matches
            if pos < len(self.buf) or not self.more():
                return pos

    def broken(self, pos: int, message: str) -> NoReturn:
        raise self.error(message, pos)

    def error(self, message: str, pos: int) -> json.JSONDecodeError:
        """A JSONDecodeError at `pos`, with its offset and line in the body."""
        error = json.JSONDecodeError(message, " ", 0)  # not "": webargs takes an empty doc for no body
        error.pos = self.base + pos
        error.lineno = self.line + self.buf.count(b"\n", 0, max(pos, 0))
        error.args = (f"{message}: line {error.lineno} (char {error.pos})",)
        return error

    # -- finding the end of a value ------------------------------------------------------------

    def value_end(self, pos: int, depth: int) -> int:
        """Where the JSON value at `pos` ends; `depth` levels of arrays and objects are around it."""
        first = self.at(pos)
        if first is None:
            self.broken(pos, "Expecting value")
        if first == _QUOTE:
            return self.string_end(pos)
        if first in _OPEN:
            return self._structure_end(pos, depth)
        end = pos
        while True:
            end = _SCALAR.match(self.buf, end).end()  # type: ignore[union-attr]
            if end < len(self.buf) or not self.more():
                break
        if end == pos:
            self.broken(pos, "Expecting value")
        return end

    def string_end(self, pos: int) -> int:
        end = pos + 1
        while True:
            end = _STRING_REST.match(self.buf, end).end()  # type: ignore[union-attr]
            if end < len(self.buf) and self.buf[end] == _QUOTE:
                return end + 1
            if not self.more():  # cut by the end of the body (or of what was read: read on)
                self.broken(pos, "Unterminated string starting at")

    def _structure_end(self, pos: int, depth: int) -> int:
        buf, level, end = self.buf, 0, pos
        while True:
            end = _SKIP.match(buf, end).end()  # type: ignore[union-attr]
            if end >= len(buf):
                if not self.more():
                    self.broken(pos, "Unterminated array or object starting at")
                continue
            byte = buf[end]
            if byte == _QUOTE:  # a string that what was read so far cuts
                end = self.string_end(end)
                continue
            if byte in _OPEN:
                level += 1
                if depth + level > MAX_DEPTH:
                    _too_deep()
            else:
                level -= 1
                if level == 0:
                    return end + 1
            end += 1

    # -- records ---------------------------------------------------------------------------------

    def records_array(self, pos: int, depth: int, sink: StagedRecords) -> int:
        """The array of records at `pos` (its `[`, inside `depth` levels: 0 when it is the body),
        parsed a group at a time into `sink`; returns the position after its `]`."""
        pos = self.skip_ws(pos + 1)
        if self.at(pos) == _RBRACKET:
            return pos + 1
        while True:
            self.drop(pos)
            end, records = self._guessed_group(depth) or self._scanned_group(depth)
            sink.add(records)
            pos = self.skip_ws(end)
            byte = self.at(pos)
            if byte == _RBRACKET:
                return pos + 1
            if byte != _COMMA:
                self.broken(pos, "Expecting ',' delimiter")
            pos = self.skip_ws(pos + 1)

    def _guessed_group(self, depth: int) -> tuple[int, list[Any]] | None:
        """The records from buf[0] up to a `}` followed by `,` or `]` near GROUP_BYTES, found
        with rfind and parsed in one orjson call: the fast way, GUESSES tries. A guess that
        parses is right: `[` + a prefix of the array's content + `]` is valid JSON only when
        the prefix ends where a value of the array does (outside any string or nested value).
        (Inside `depth` more brackets, each must hold exactly one value: `[[{...}],[{...}]]` is
        valid, but its cut lies past the records' array.)
        None when no guess parses (the cut was inside a string or a record, or the records
        need the standard library, or are not objects, or the JSON is broken)."""
        while len(self.buf) < GROUP_BYTES and self.more():
            pass
        cut = min(len(self.buf), GROUP_BYTES)
        for _ in range(GUESSES):
            cut = self._record_end_before(cut)
            if cut <= 0:
                return None
            try:
                value = orjson.loads(self._chunk(0, cut, depth))
            except orjson.JSONDecodeError:
                value = None
            for _ in range(depth):  # one value in each added bracket, or the cut went past the array
                value = value[0] if isinstance(value, list) and len(value) == 1 else None
            if isinstance(value, list) and value:
                return cut, value
            cut -= 1
        return None

    def _record_end_before(self, limit: int) -> int:
        """The position after the last `}` before `limit` that a `,` or `]` follows; -1 if none."""
        buf, end = self.buf, limit
        while (end := buf.rfind(b"}", 0, end)) >= 0:
            after = _WS.match(buf, end + 1).end()  # type: ignore[union-attr]
            if after < len(buf) and buf[after] in _AFTER_RECORD:
                return end + 1
        return -1

    def _scanned_group(self, depth: int) -> tuple[int, list[Any]]:
        """The records from buf[0], found one by one by the scanner (up to GROUP_ROWS, or
        GROUP_BYTES of them), parsed in one call: the exact way, which also reports errors."""
        pos = count = 0
        while True:
            end = self.value_end(pos, depth + 1)
            count += 1
            if count >= GROUP_ROWS or end >= GROUP_BYTES:
                break
            pos = self.skip_ws(end)
            if self.at(pos) != _COMMA:
                break  # the array's end, or an error the caller reports
            pos = self.skip_ws(pos + 1)
        return end, self._parse(end, depth)

    def _chunk(self, start: int, end: int, depth: int) -> bytearray:
        """buf[start:end] inside depth + 1 brackets: orjson then counts the levels as in the body."""
        chunk = bytearray(b"[" * (depth + 1))
        with memoryview(self.buf) as view:
            chunk += view[start:end]
        chunk += b"]" * (depth + 1)
        return chunk

    def _parse(self, end: int, depth: int) -> list[Any]:
        """The records of buf[:end] (values and the commas between them), as a JSON array."""
        try:
            value = orjson.loads(self._chunk(0, end, depth))
        except orjson.JSONDecodeError as exc:
            if "depth" in str(exc):
                _too_deep()
            chunk = self._chunk(0, end, 0)
            try:
                return json.loads(chunk)
            except RecursionError:
                _too_deep()
            except json.JSONDecodeError as exc:  # where it is in the body, not in the chunk
                raise self.error(exc.msg, exc.pos - 1) from None
            except UnicodeDecodeError as exc:
                exc.start += self.base - 1
                exc.end += self.base - 1
                raise
        for _ in range(depth):
            value = value[0]
        return value

    def ndjson(self, sink: StagedRecords) -> None:
        """One record per line (blank lines skipped), each parsed on its own as before."""
        pos = searched = 0
        group: list[Any] = []
        while True:
            found = _EOL.search(self.buf, searched)
            if found is None:
                searched = len(self.buf)
                if self.more():
                    continue
                end = len(self.buf)  # the last line, without a line break
            else:
                end = found.start()
            line = bytes(self.buf[pos:end])
            if line.strip():
                group.append(_loads(line))
            if found is None:
                break
            pos = searched = end + 1
            if len(group) >= GROUP_ROWS:
                sink.add(group)
                group = []
                pos = searched = self.drop(pos)
        if group:
            sink.add(group)

    def first(self, opening: int) -> int | None:
        """The position of the body's first byte but whitespace when it is `opening`; None when
        it is not, or when the body starts with a byte order mark or the NULs of UTF-16/32
        (which the standard library's parser decodes): those are parsed whole."""
        while len(self.buf) < 4 and self.more():
            pass
        head = bytes(self.buf[:4])
        if head.startswith((b"\xef\xbb\xbf", b"\xff\xfe", b"\xfe\xff")) or b"\x00" in head:
            return None
        pos = self.skip_ws(0)
        return pos if self.at(pos) == opening else None


# -- the create request ---------------------------------------------------------------------------

def parse_export_body(stream: Any, stage: Callable[[], StagedRecords]) -> Any:
    """The body of a create request. A `records` array becomes StagedRecords (from `stage()`),
    already written as partitions; everything else is as a whole-body parse gives it. Broken
    JSON raises json.JSONDecodeError or UnicodeDecodeError, as the whole-body parse did."""
    body = _Body(stream)
    pos = body.first(_LBRACE)
    if pos is None:
        return _loads(body.rest())
    result: dict[str, Any] = {}
    staged: StagedRecords | None = None
    try:
        pos = body.skip_ws(pos + 1)
        if body.at(pos) == _RBRACE:
            pos += 1
        else:
            while True:
                if body.at(pos) != _QUOTE:
                    body.broken(pos, "Expecting property name enclosed in double quotes")
                end = body.string_end(pos)
                key = _loads(bytes(body.buf[pos:end]))
                pos = body.skip_ws(end)
                if body.at(pos) != _COLON:
                    body.broken(pos, "Expecting ':' delimiter")
                pos = body.skip_ws(pos + 1)
                if key == "records" and staged is not None:  # given twice: the last one counts
                    staged.discard()
                    staged = None
                if key == "records" and body.at(pos) == _LBRACKET:
                    staged = stage()
                    pos = body.records_array(pos, 1, staged)
                    result[key] = staged.finish()
                else:
                    end = body.value_end(pos, 1)
                    result[key] = _loads(bytes(body.buf[pos:end]))
                    pos = end
                pos = body.skip_ws(body.drop(pos))
                byte = body.at(pos)
                if byte == _RBRACE:
                    pos += 1
                    break
                if byte != _COMMA:
                    body.broken(pos, "Expecting ',' delimiter")
                pos = body.skip_ws(pos + 1)
        pos = body.skip_ws(pos)
        if body.at(pos) is not None:
            body.broken(pos, "Extra data")
    except BaseException:
        if staged is not None:
            staged.discard()
        raise
    return result


class StreamingJsonParser(JsonParser):
    """The exports blueprint's parser: the create request's `records` are written as
    partitions while the body is read (its only JSON body; other routes read none)."""

    def _raw_load_json(self, req: flask.Request) -> Any:
        if not is_json_request(req):
            return super()._raw_load_json(req)  # 415 for a body that is not JSON
        return parse_export_body(req.stream, _stage_for_create)


def _stage_for_create() -> StagedRecords:
    return _remember(jobs.service().stage_records())


# -- upload batches -------------------------------------------------------------------------------

def read_records(request: flask.Request, stage: Callable[[], StagedRecords]) -> StagedRecords:
    """A batch of records, a JSON array of objects or NDJSON (one object per line), written as
    partitions into `stage()` while it is read; the errors of a whole-body parse."""
    if request.mimetype in NDJSON_TYPES:
        ndjson = True
    elif request.is_json:
        ndjson = False
    else:
        abort(415, message="Send records as application/json (an array) or application/x-ndjson.",
              error_code="unsupported_media_type")
    staged = _remember(stage())
    body = _Body(request.stream)
    try:
        if ndjson:
            body.ndjson(staged)
        elif (pos := body.first(_LBRACKET)) is not None:
            pos = body.skip_ws(body.records_array(pos, 0, staged))
            if body.at(pos) is not None:
                body.broken(pos, "Extra data")
        else:
            records = _loads(body.rest())
            if not isinstance(records, list):
                abort(422, message="The body must be an array of record objects.", error_code="validation_error")
            staged.add(records)
    except json.JSONDecodeError as exc:
        abort(400, message=f"The body is not valid JSON: {exc.msg} (line {exc.lineno}).", error_code="invalid_json")
    except UnicodeDecodeError as exc:
        abort(400, message=f"The body is not UTF-8 (byte {exc.start}).", error_code="invalid_json")
    if staged.not_object is not None:
        index = staged.not_object
        abort(422, message=f"Record {index} is not an object.", error_code="validation_error",
              errors={"records": {str(index): ["Not an object."]}})
    return staged.finish()


# -- clean-up ---------------------------------------------------------------------------------------

def _remember(staged: StagedRecords) -> StagedRecords:
    flask.g.setdefault("ybb_staged_records", []).append(staged)
    return staged


def discard_staged(_exc: BaseException | None = None) -> None:
    """Teardown: remove the partitions of this request that no job took (the request was
    refused, or answered from the cache or an earlier job). Taken ones are left alone."""
    for staged in flask.g.pop("ybb_staged_records", []):
        staged.discard()


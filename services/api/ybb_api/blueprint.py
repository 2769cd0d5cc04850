"""A flask-smorest Blueprint whose JSON parser uses orjson and answers non-JSON bodies with 415."""
from __future__ import annotations

import json
from typing import Any, NoReturn

import flask
import flask_smorest
import orjson
from webargs import core
from webargs.flaskparser import FlaskParser, is_json_request

from .errors import abort


class JsonParser(FlaskParser):
    def _raw_load_json(self, req: flask.Request) -> Any:
        body = req.get_data(cache=True)
        if not is_json_request(req):
            if body:
                abort(415, message="Send the body as JSON (Content-Type: application/json).",
                      error_code="unsupported_media_type")
            return core.missing
        return _loads(body)


class Blueprint(flask_smorest.Blueprint):
    ARGUMENTS_PARSER = JsonParser()


NDJSON_TYPES = {"application/x-ndjson", "application/ndjson", "application/jsonlines"}


def read_records_body(request: flask.Request) -> list[dict]:
    """A batch of records: a JSON array of objects, or NDJSON (one object per line)."""
    body = request.get_data(cache=False)
    try:
        if request.mimetype in NDJSON_TYPES:
            records = [_loads(line) for line in body.splitlines() if line.strip()]
        elif request.is_json:
            records = _loads(body)
        else:
            abort(415, message="Send records as application/json (an array) or application/x-ndjson.",
                  error_code="unsupported_media_type")
    except json.JSONDecodeError as exc:
        abort(400, message=f"The body is not valid JSON: {exc.msg} (line {exc.lineno}).", error_code="invalid_json")
    except UnicodeDecodeError as exc:
        abort(400, message=f"The body is not UTF-8 (byte {exc.start}).", error_code="invalid_json")
    if not isinstance(records, list):
        abort(422, message="The body must be an array of record objects.", error_code="validation_error")
    for index, record in enumerate(records):
        if not isinstance(record, dict):
            abort(422, message=f"Record {index} is not an object.", error_code="validation_error",
                  errors={"records": {str(index): ["Not an object."]}})
    return records


def _loads(data: bytes) -> Any:
    # orjson refuses lone surrogates and NaN; the stdlib accepts both and the engine makes
    # them safe, so only bodies that both refuse are broken JSON.
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        if "depth" in str(exc):
            _too_deep()
    try:
        return json.loads(data)
    except RecursionError:
        _too_deep()


def _too_deep() -> NoReturn:
    # A record is an object of scalars (or shallow lists/objects, written as JSON text): orjson's
    # 1,024 levels are far beyond any real one, and the stdlib would recurse past Python's limit.
    abort(400, message="The body is nested too deeply to be records.", error_code="invalid_json")

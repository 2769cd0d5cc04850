"""A flask-smorest Blueprint whose JSON parser uses orjson and answers non-JSON bodies with 415."""
from __future__ import annotations

import json
from typing import Any

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
        try:
            return orjson.loads(body)
        except orjson.JSONDecodeError:
            # orjson refuses lone surrogates and NaN; the stdlib accepts both and the
            # engine makes them safe, so only bodies that both refuse are broken JSON.
            return json.loads(body)


class Blueprint(flask_smorest.Blueprint):
    ARGUMENTS_PARSER = JsonParser()

"""One error shape for every 4xx/5xx: {code, status, message, errors, request_id}.

`code` is a stable machine-readable string (documented in docs/errors.md), `status` the
HTTP status. Views raise with `abort(status, message=..., error_code=..., errors=...)`.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any, NoReturn

import marshmallow as ma
from flask_smorest import Api, abort as _smorest_abort
from werkzeug.exceptions import HTTPException

from ybb_engine.errors import EngineError

from .request_id import current_request_id

__all__ = ["YbbApi", "abort", "ErrorSchema", "error_body"]

abort: Callable[..., NoReturn] = _smorest_abort  # flask-smorest's abort, typed: it always raises


class ErrorSchema(ma.Schema):
    code = ma.fields.String(metadata={"description": "Machine-readable error code"})
    status = ma.fields.Integer(metadata={"description": "HTTP status"})
    message = ma.fields.String(metadata={"description": "What went wrong, for humans"})
    errors = ma.fields.Raw(metadata={"description": "Details: per-field or per-row problems"})
    request_id = ma.fields.String(metadata={"description": "Quote it when reporting a problem"})


def _default_code(error: HTTPException) -> str:
    if error.code == 500:
        return "internal_error"
    return (error.name or "error").lower().replace(" ", "_").replace("-", "_")


def error_body(status: int, code: str, message: str, errors: Any = None) -> dict[str, Any]:
    return {"code": code, "status": status, "message": message, "errors": errors or {},
            "request_id": current_request_id()}


class YbbApi(Api):
    ERROR_SCHEMA = ErrorSchema

    def _register_error_handlers(self) -> None:
        super()._register_error_handlers()
        self._app.register_error_handler(EngineError, self.handle_engine_error)

    def handle_http_exception(self, error: HTTPException):
        data = getattr(error, "data", None) or {}
        errors = data.get("errors", data.get("messages"))
        code = data.get("error_code") or _default_code(error)
        if error.code == 400 and errors == {"json": ["Invalid JSON body."]}:
            code, message = "invalid_json", "The request body is not valid JSON."
        elif error.code == 422 and "message" not in data:
            code, message = "validation_error", "The request did not pass validation; see errors."
        elif error.code == 500:
            message = "Internal error. Quote the request_id when reporting it."
        else:
            message = data.get("message") or error.description or error.name
        body = error_body(error.code or 500, code, message, errors)
        return body, error.code, data.get("headers", {})

    def handle_engine_error(self, error: EngineError):
        return error_body(error.status, error.code, error.message, error.errors), error.status, error.headers


"""Every response carries X-Request-Id: the caller's (or Nginx's), else a new one."""
from __future__ import annotations

import re
import uuid

from flask import Flask, Response, g, has_request_context, request

HEADER = "X-Request-Id"
_VALID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")


def current_request_id() -> str | None:
    if not has_request_context():
        return None
    if "request_id" not in g:
        given = request.headers.get(HEADER, "")
        g.request_id = given if _VALID.match(given) else uuid.uuid4().hex
    return g.request_id


def init_request_id(app: Flask) -> None:
    @app.before_request
    def assign_request_id() -> None:
        current_request_id()

    @app.after_request
    def add_request_id(response: Response) -> Response:
        response.headers[HEADER] = current_request_id()
        return response

"""Answering with an export's file: Nginx streams it (X-Accel-Redirect), or Flask does."""
from __future__ import annotations

from typing import Any
from urllib.parse import quote

from flask import Response, current_app, send_file

from ybb_engine.export import content_type

from . import jobs


def content_disposition(filename: str) -> str:
    """RFC 6266: an ASCII fallback plus the exact UTF-8 name."""
    fallback = filename.encode("ascii", "replace").decode().replace('"', "").replace("?", "_")
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(filename, safe='')}"


def file_response(job: dict[str, Any]) -> Response:
    """The file of a succeeded export. Behind Nginx (USE_X_ACCEL) Nginx streams it, with Range support."""
    path = jobs.file_path(job)
    mimetype = content_type(job["format"])
    if current_app.config["USE_X_ACCEL"]:
        relative = path.relative_to(current_app.config["DATA_DIR"]).as_posix()
        response = Response(status=200, mimetype=mimetype)
        response.headers["X-Accel-Redirect"] = f"{current_app.config['X_ACCEL_PREFIX']}/{quote(relative)}"
    else:
        response = send_file(path, mimetype=mimetype, conditional=True)
    response.headers["Content-Disposition"] = content_disposition(job["filename"])
    return response

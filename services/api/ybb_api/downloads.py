"""Answering with an export's file: Nginx streams it (X-Accel-Redirect), or Flask does."""
from __future__ import annotations

from urllib.parse import quote

from flask import Response, current_app, send_file

from ybb_engine.service import ExportFile


def content_disposition(filename: str) -> str:
    """RFC 6266: an ASCII fallback plus the exact UTF-8 name."""
    fallback = filename.encode("ascii", "replace").decode().replace('"', "").replace("?", "_")
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(filename, safe='')}"


def file_response(file: ExportFile) -> Response:
    """The file of a succeeded export. Behind Nginx (USE_X_ACCEL) Nginx streams it, with Range support."""
    if current_app.config["USE_X_ACCEL"]:
        response = Response(status=200, mimetype=file.content_type)
        response.headers["X-Accel-Redirect"] = f"{current_app.config['X_ACCEL_PREFIX']}/{quote(file.relative_path)}"
    else:
        response = send_file(file.path, mimetype=file.content_type, conditional=True)
    response.headers["Content-Disposition"] = content_disposition(file.filename)
    return response

"""Answering with an export's file: Nginx streams it (X-Accel-Redirect), or Flask does; and,
for the old API's /download/zip, the file inside a ZIP archive streamed as it is written."""
from __future__ import annotations

import io
import re
import time
import zipfile
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

from flask import Response, current_app, send_file

from ybb_engine.service import ExportFile

_PLAIN_NAME = re.compile(r"[A-Za-z0-9._-]+")
ZIP_CHUNK = 1 << 20


def content_disposition(filename: str) -> str:
    """RFC 6266: `filename="…"` first, so that naive parsers (PHP's explode or a regex on
    filename=) find the name; the exact UTF-8 name follows only when it differs from that."""
    fallback = filename.encode("ascii", "replace").decode().replace('"', "").replace("?", "_")
    if fallback == filename and _PLAIN_NAME.fullmatch(filename):
        return f'attachment; filename="{filename}"'
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(filename, safe='')}"


def file_response(file: ExportFile) -> Response:
    """The file of a succeeded export. Behind Nginx (USE_X_ACCEL) Nginx streams it, with Range support."""
    if current_app.config["USE_X_ACCEL"]:
        response = Response(status=200)
        response.headers["X-Accel-Redirect"] = f"{current_app.config['X_ACCEL_PREFIX']}/{quote(file.relative_path)}"
    else:
        response = send_file(file.path, conditional=True)
    # The exact type ("text/csv; charset=utf-8"): Flask's `mimetype` would add a second charset.
    response.headers["Content-Type"] = file.content_type
    response.headers["Content-Disposition"] = content_disposition(file.filename)
    return response


class _Sink(io.RawIOBase):
    """What zipfile writes, kept until the response generator takes it (not seekable: zipfile
    then writes sizes after each member, so the archive streams without a temporary file)."""

    def __init__(self) -> None:
        super().__init__()
        self._parts: list[bytes] = []

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        self._parts.append(bytes(data))
        return len(data)

    def take(self) -> bytes:
        data = b"".join(self._parts)
        self._parts.clear()
        return data


def zip_response(file: ExportFile, zip_name: str) -> Response:
    """A ZIP archive holding the export's file under its name, streamed (Deflate)."""

    def archive() -> Iterator[bytes]:
        sink = _Sink()
        member = zipfile.ZipInfo(file.filename, date_time=time.gmtime(file.path.stat().st_mtime)[:6])
        member.compress_type = zipfile.ZIP_DEFLATED
        with zipfile.ZipFile(sink, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=1) as zf:
            with zf.open(member, "w", force_zip64=True) as target, open(file.path, "rb") as source:
                while chunk := source.read(ZIP_CHUNK):
                    target.write(chunk)
                    if data := sink.take():
                        yield data
        yield sink.take()

    response = Response(archive(), content_type="application/zip")
    response.headers["Content-Disposition"] = content_disposition(zip_name)
    return response

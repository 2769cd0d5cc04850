"""A local Sentry: accepts envelopes at /api/<project>/envelope/ on 127.0.0.1 and keeps them.

The SDK compresses bodies (brotli when the package is installed, else gzip); the
receiver undoes it, so tests can search the raw bytes for data that must not be there.
"""
from __future__ import annotations

import gzip
import json
import re
import threading
import zlib
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable

from support import wait_for

_ENVELOPE_PATH = re.compile(r"^/api/(\d+)/envelope/?(\?.*)?$")


def decompress(body: bytes, encoding: str) -> bytes:
    encoding = encoding.strip().lower()
    if encoding == "gzip":
        return gzip.decompress(body)
    if encoding == "deflate":
        return zlib.decompress(body)
    if encoding == "br":
        import brotli  # only when the SDK found it, so it is installed

        return brotli.decompress(body)
    return body


@dataclass
class Envelope:
    project: str
    raw: bytes  # decompressed
    header: dict[str, Any]
    items: list[tuple[dict[str, Any], bytes]]

    def payloads(self, item_type: str) -> list[dict[str, Any]]:
        return [json.loads(payload) for header, payload in self.items if header.get("type") == item_type]


def parse_envelope(project: str, raw: bytes) -> Envelope:
    header_line, _, rest = raw.partition(b"\n")
    items = []
    while rest.strip():
        item_line, _, rest = rest.partition(b"\n")
        item_header = json.loads(item_line)
        if "length" in item_header:
            payload, rest = rest[: item_header["length"]], rest[item_header["length"] + 1:]
        else:
            payload, _, rest = rest.partition(b"\n")
        items.append((item_header, payload))
    return Envelope(project, raw, json.loads(header_line), items)


class SentryReceiver:
    def __init__(self) -> None:
        self.envelopes: list[Envelope] = []
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                match = _ENVELOPE_PATH.match(self.path)
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                if not match:
                    self.send_response(404)
                    self.end_headers()
                    return
                raw = decompress(body, self.headers.get("Content-Encoding", ""))
                with receiver._lock:
                    receiver.envelopes.append(parse_envelope(match.group(1), raw))
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(b"{}")

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def dsn(self) -> str:
        return f"http://public@127.0.0.1:{self.server.server_address[1]}/1"

    def start(self) -> "SentryReceiver":
        self._thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def all_envelopes(self) -> list[Envelope]:
        with self._lock:
            return list(self.envelopes)

    def events(self) -> list[dict[str, Any]]:
        return [event for envelope in self.all_envelopes() for event in envelope.payloads("event")]

    def wait_for_event(self, predicate: Callable[[dict[str, Any]], bool], timeout: float = 30) -> dict[str, Any]:
        def seen() -> str:
            events = [(e.get("tags"), (e.get("exception") or {}).get("values", [{}])[-1].get("type"))
                      for e in self.events()]
            return f"no matching Sentry event; received: {events}"

        return wait_for(lambda: next((e for e in self.events() if predicate(e)), None), timeout=timeout,
                        interval=0.1, message=seen)

    def raw_bytes(self) -> bytes:
        return b"\n".join(envelope.raw for envelope in self.all_envelopes())

"""Big uploads at a lower CPU priority.

Parsing and storing 50,000 records costs the API about 0.7 s of CPU (parsed while the body
is read, ybb_api.streaming: the memory stays flat, the CPU does not go away). A request whose
body is at least BULK_MIN_BYTES (or of unknown length) is therefore handled in a thread
running at nice BULK_NICE, so that small synchronous exports, status polls and template
reads handled meanwhile, in this process or another, get the CPU first. The request is
otherwise unchanged: the same app, in the same order, answers it.
"""
from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from ybb_engine.priority import lower_thread_priority


class BulkRequests:
    """WSGI middleware: hands requests with big bodies to a pool of low-priority threads."""

    def __init__(self, app: Callable, min_bytes: int, niceness: int, threads: int = 4) -> None:
        self.app = app
        self.min_bytes = min_bytes
        self.niceness = niceness
        self.threads = threads
        self._lock = threading.Lock()
        self._pool: ThreadPoolExecutor | None = None
        self._pool_pid = 0

    def is_bulk(self, environ: dict[str, Any]) -> bool:
        length = environ.get("CONTENT_LENGTH")
        if length:
            return length.isdigit() and int(length) >= self.min_bytes
        return "chunked" in environ.get("HTTP_TRANSFER_ENCODING", "").lower()

    def _executor(self) -> ThreadPoolExecutor:
        with self._lock:  # one pool per process: Gunicorn forks after the app is made when it preloads
            if self._pool is None or self._pool_pid != os.getpid():
                self._pool = ThreadPoolExecutor(self.threads, thread_name_prefix="ybb-bulk",
                                                initializer=lower_thread_priority, initargs=(self.niceness,))
                self._pool_pid = os.getpid()
            return self._pool

    def __call__(self, environ: dict[str, Any], start_response: Callable) -> Iterable[bytes]:
        if self.niceness <= 0 or not self.is_bulk(environ):
            return self.app(environ, start_response)
        return self._executor().submit(self.app, environ, start_response).result()

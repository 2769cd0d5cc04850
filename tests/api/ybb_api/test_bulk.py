"""Requests with big bodies run in a low-priority thread; the others where they arrived."""
from __future__ import annotations

import io
import os
import sys
import threading

import pytest
from werkzeug.test import Client, create_environ
from werkzeug.wrappers import Response

from ybb_api.bulk import BulkRequests


def _where(environ, start_response):
    """A WSGI app that answers with the thread that ran it and that thread's nice value."""
    nice = os.getpriority(os.PRIO_PROCESS, threading.get_native_id()) if sys.platform == "linux" else 0
    body = environ["wsgi.input"].read()
    return Response(f"{threading.current_thread().name} {nice} {len(body)}")(environ, start_response)


@pytest.fixture
def client() -> Client:
    return Client(BulkRequests(_where, min_bytes=1000, niceness=12))


def test_a_big_body_runs_in_a_bulk_thread_at_the_lower_priority(client: Client) -> None:
    name, nice, length = client.post("/", data=b"x" * 1000).get_data(as_text=True).split()
    assert name.startswith("ybb-bulk") and length == "1000"
    if sys.platform == "linux":
        assert int(nice) >= 12


def test_a_small_body_runs_in_the_calling_thread(client: Client) -> None:
    name, _, length = client.post("/", data=b"x" * 999).get_data(as_text=True).split()
    assert name == threading.current_thread().name and length == "999"


def test_a_body_of_unknown_length_counts_as_big() -> None:
    middleware = BulkRequests(_where, min_bytes=1000, niceness=12)
    environ = create_environ("/", method="POST", input_stream=io.BytesIO(b"x" * 10),
                             headers={"Transfer-Encoding": "chunked"})
    environ.pop("CONTENT_LENGTH", None)
    assert middleware.is_bulk(environ)
    body = b"".join(middleware(environ, lambda status, headers: None)).decode()
    assert body.startswith("ybb-bulk")


def test_niceness_zero_turns_it_off() -> None:
    client = Client(BulkRequests(_where, min_bytes=1, niceness=0))
    assert client.post("/", data=b"x" * 10).get_data(as_text=True).split()[0] == threading.current_thread().name

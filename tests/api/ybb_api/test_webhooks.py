"""Webhooks against a real local HTTP receiver: signature, retries, SSRF refusal."""
from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Iterator

import pytest

from support import wait_for
from ybb_engine import webhooks

COLUMNS = [{"field": "name", "header": "Name", "type": "string"}]


class Receiver:
    def __init__(self, failures: int) -> None:
        self.failures = failures
        self.calls: list[tuple[dict, bytes]] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.calls.append((dict(self.headers), body))
                self.send_response(500 if len(receiver.calls) <= receiver.failures else 204)
                self.end_headers()

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    receiver = Receiver(failures=2)
    yield receiver
    receiver.server.shutdown()


def _secret(keys, tenant: str) -> str:
    entries = json.loads(keys.path.read_text())["keys"]
    return next(e["webhook_secret"] for e in entries if e["tenant"] == tenant)


def test_signed_webhook_is_retried_until_delivered(client, keys, app, receiver) -> None:
    vars(app.extensions["ybb_service"].settings).update(WEBHOOK_ALLOWLIST=["127.0.0.1"], WEBHOOK_BACKOFF=0.05)
    job = client.post("/api/v1/exports", headers={"X-API-Key": keys.a},
                      json={"columns": COLUMNS, "records": [{"name": "a"}], "callback_url": receiver.url}).json
    wait_for(lambda: len(receiver.calls) == 3, timeout=20, message="the webhook was not delivered on its third try")
    headers, body = receiver.calls[-1]
    payload = json.loads(body)
    assert payload["event"] == "export.succeeded" and payload["job"]["id"] == job["id"]
    assert payload["job"]["rows"] == 1
    assert webhooks.verify(_secret(keys, "tenant-a"), body, headers["X-YBB-Signature"])
    assert not webhooks.verify(_secret(keys, "tenant-b"), body, headers["X-YBB-Signature"])
    assert not webhooks.verify(_secret(keys, "tenant-a"), body + b" ", headers["X-YBB-Signature"])
    wait_for(lambda: (client.get(f"/api/v1/exports/{job['id']}", headers={"X-API-Key": keys.a})
                      .json["webhook_status"] or "").startswith("delivered"), timeout=20,
             message="the job's webhook_status is not delivered")


def test_failed_export_fires_a_failure_webhook(client, keys, app, receiver) -> None:
    receiver.failures = 0
    vars(app.extensions["ybb_service"].settings).update(WEBHOOK_ALLOWLIST=["127.0.0.0/8"], WEBHOOK_BACKOFF=0.05)
    cols = [{"field": "n", "header": "N", "type": "integer"}]
    client.post("/api/v1/exports", headers={"X-API-Key": keys.a},
                json={"columns": cols, "records": [{"n": "x"}], "callback_url": receiver.url, "mode": "async"})
    wait_for(lambda: len(receiver.calls) == 1, timeout=20, message="no failure webhook arrived")
    payload = json.loads(receiver.calls[0][1])
    assert payload["event"] == "export.failed"
    assert payload["job"]["error"]["code"] == "invalid_records"


def test_gives_up_after_four_attempts(receiver) -> None:
    receiver.failures = 10
    status = webhooks.deliver(receiver.url, {"x": 1}, "s", ["127.0.0.1"], attempts=4, backoff=0.01)
    assert len(receiver.calls) == 4
    assert status == "failed after 4 attempts: HTTP 500"


@pytest.mark.parametrize("url", ["http://127.0.0.1:9/hook", "http://10.1.2.3/hook", "http://169.254.169.254/latest",
                                 "http://[::1]/hook", "http://localhost/hook", "ftp://example.org/x"])
def test_private_addresses_are_refused(client, keys, url) -> None:
    response = client.post("/api/v1/exports", headers={"X-API-Key": keys.a},
                           json={"columns": COLUMNS, "records": [], "callback_url": url})
    assert response.status_code == 422
    assert response.json["code"] in {"callback_url_refused", "validation_error"}


def test_signature_tolerance_rejects_replays() -> None:
    body = b'{"event":"export.succeeded"}'
    header = webhooks.signature("secret", body, 1_000)
    assert webhooks.verify("secret", body, header, now=1_100)
    assert not webhooks.verify("secret", body, header, now=1_000 + 301)
    assert not webhooks.verify("secret", body, "t=abc,v1=00")

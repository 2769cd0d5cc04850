"""Webhooks against a real local HTTP receiver: signature, retries, SSRF refusal."""
from __future__ import annotations

import json
import os
import pickle
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Iterator

import pytest

from support import wait_for
from ybb_api.keys import create_key
from ybb_engine import pipeline, webhooks

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
                                 "http://[::1]/hook", "http://localhost/hook", "ftp://example.org/x",
                                 "http://example.org:99999/hook", "http://[64:ff9b::a9fe:a9fe]/latest",
                                 "http://[2002:a9fe:a9fe::1]/latest", "http://192.0.0.9/hook"])
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


def _key_without_secret(keys) -> str:
    """A tenant-a key whose keys-file entry has no webhook_secret."""
    plaintext = create_key(keys.path, "tenant-a", key_id="k_nosecret")
    data = json.loads(keys.path.read_text())
    for entry in data["keys"]:
        if entry["id"] == "k_nosecret":
            del entry["webhook_secret"]
    keys.path.write_text(json.dumps(data))
    os.utime(keys.path, ns=(time.time_ns(), time.time_ns() + 1_000_000))  # the KeyRing re-reads it
    return plaintext


def test_a_key_without_a_webhook_secret_cannot_have_callbacks(client, keys, app, receiver) -> None:
    vars(app.extensions["ybb_service"].settings).update(WEBHOOK_ALLOWLIST=["127.0.0.1"])
    key = _key_without_secret(keys)
    response = client.post("/api/v1/exports", headers={"X-API-Key": key},
                           json={"columns": COLUMNS, "records": [{"name": "a"}], "callback_url": receiver.url})
    assert response.status_code == 422 and response.json["code"] == "webhook_secret_missing"
    # Without a callback the key works; an upload with a callback can't be committed with it either.
    assert client.post("/api/v1/exports", headers={"X-API-Key": key},
                       json={"columns": COLUMNS, "records": [{"name": "a"}]}).status_code == 201
    upload = client.post("/api/v1/exports", headers={"X-API-Key": keys.a},
                         json={"columns": COLUMNS, "upload": True, "callback_url": receiver.url}).json
    response = client.post(f"/api/v1/exports/{upload['id']}/commit", headers={"X-API-Key": key})
    assert response.status_code == 422 and response.json["code"] == "webhook_secret_missing"
    assert receiver.calls == []


def test_the_webhook_secret_is_no_task_argument(client, keys, app, receiver, monkeypatch) -> None:
    """Dask keeps task arguments in the scheduler and prints them in "Compute Failed" log lines:
    the notify task gets the key's id, and the worker looks the secret up in the keys file."""
    receiver.failures = 0
    vars(app.extensions["ybb_service"].settings).update(WEBHOOK_ALLOWLIST=["127.0.0.1"], WEBHOOK_BACKOFF=0.05)
    submitted: list[tuple] = []
    real_submit = pipeline.submit_export

    def recording_submit(client_, ref, partitions, notification=None):
        submitted.append((ref, partitions, notification))
        return real_submit(client_, ref, partitions, notification)

    monkeypatch.setattr(pipeline, "submit_export", recording_submit)
    secret = _secret(keys, "tenant-a")
    job = client.post("/api/v1/exports", headers={"X-API-Key": keys.a},
                      json={"columns": COLUMNS, "records": [{"name": "a"}], "callback_url": receiver.url}).json
    (ref, partitions, notification), = submitted
    assert secret.encode() not in pickle.dumps((ref, partitions, notification))
    assert secret not in repr(notification)
    key_id = next(e["id"] for e in json.loads(keys.path.read_text())["keys"] if e["webhook_secret"] == secret)
    assert notification.key_id == key_id and notification.keys_file == str(keys.path)
    wait_for(lambda: len(receiver.calls) == 1, timeout=20, message="the webhook was not delivered")
    headers, body = receiver.calls[0]
    assert json.loads(body)["job"]["id"] == job["id"]
    assert webhooks.verify(secret, body, headers["X-YBB-Signature"])


def test_a_rebinding_host_gets_no_webhook_and_the_job_says_refused(client, keys, app, receiver, monkeypatch) -> None:
    """Public when the export is created, loopback when the webhook is delivered."""
    receiver.failures = 0
    real = socket.getaddrinfo
    answers = iter(["93.184.215.14"])

    def getaddrinfo(host, port, *args, **kwargs):
        if host != "rebind.example":
            return real(host, port, *args, **kwargs)
        return [(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP, "", (next(answers, "127.0.0.1"), int(port)))]

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    vars(app.extensions["ybb_service"].settings).update(WEBHOOK_BACKOFF=0.05)
    url = f"http://rebind.example:{receiver.server.server_port}/hook"
    job = client.post("/api/v1/exports", headers={"X-API-Key": keys.a},
                      json={"columns": COLUMNS, "records": [{"name": "a"}], "callback_url": url}).json
    status = wait_for(lambda: client.get(f"/api/v1/exports/{job['id']}", headers={"X-API-Key": keys.a})
                      .json["webhook_status"], timeout=20, message="no webhook outcome on the job")
    assert status == "refused"
    assert receiver.calls == []

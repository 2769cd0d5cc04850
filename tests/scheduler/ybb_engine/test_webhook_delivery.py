"""Webhook delivery without Flask, against real local HTTP receivers: the address policy
(DNS rebinding, NAT64, 6to4), retries (urllib3's Retry: 4xx final, Retry-After, jitter), the
coarse outcome stored on the job, and the webhook secret looked up by the API key's id."""
from __future__ import annotations

import json
import os
import socket
import ssl
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from urllib3.util.retry import RequestHistory

from support import free_port
from ybb_engine import webhooks
from ybb_engine.errors import EngineError

PUBLIC = "93.184.215.14"  # a global address; nothing ever connects to it here
LOOPBACK = ["127.0.0.1"]


# A self-signed certificate for hooks.example (test only; valid until 2126).
CERTIFICATE = """-----BEGIN CERTIFICATE-----
MIIBojCCAUegAwIBAgIUbkNSrcsBg23/Uke+htF20fdgFpgwCgYIKoZIzj0EAwIw
GDEWMBQGA1UEAwwNaG9va3MuZXhhbXBsZTAgFw0yNjEyMDExMjMyMTNaGA8yMTI2
MTEwNzEyMzIxM1owGDEWMBQGA1UEAwwNaG9va3MuZXhhbXBsZTBZMBMGByqGSM49
AgEGCCqGSM49AwEHA0IABPsYPu3DaiVQ3iAFepIcyk24vXHdTtsdG8Qj0dVPHpM7
GETqw/G4F3NlE19NFXWDf/OCbiNYIWrvT4FYffy9BHajbTBrMB0GA1UdDgQWBBSM
lN3l70JT14KZwimAh4K1/Ujg7TAfBgNVHSMEGDAWgBSMlN3l70JT14KZwimAh4K1
/Ujg7TAPBgNVHRMBAf8EBTADAQH/MBgGA1UdEQQRMA+CDWhvb2tzLmV4YW1wbGUw
CgYIKoZIzj0EAwIDSQAwRgIhAKA5VB1VNoFI78dv4QQ1hH0OYjFLvBKVgNr9cT7n
wjq/AiEAk40KJc+zqbmV5sLniuGJtrBXoRmxpyOkyc/ygRlXGFU=
-----END CERTIFICATE-----
"""
PRIVATE_KEY = """-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgXfhoVIIAAoEHa2Hg
umzzpVPJT9sJ6SsFPtiEPhSGgOqhRANCAAT7GD7tw2olUN4gBXqSHMpNuL1x3U7b
HRvEI9HVTx6TOxhE6sPxuBdzZRNfTRV1g3/zgm4jWCFq70+BWH38vQR2
-----END PRIVATE KEY-----
"""


class Receiver:
    """Answers each POST with the next of `answers` ((status, headers)), then with the last one;
    over TLS with `tls` (an SSLContext), noting the SNI names it was asked for."""

    def __init__(self, *answers: tuple[int, dict[str, str]], tls: ssl.SSLContext | None = None) -> None:
        self.answers = list(answers) or [(204, {})]
        self.calls: list[tuple[float, dict[str, str], bytes]] = []
        self.sni: list[str | None] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.calls.append((time.monotonic(), dict(self.headers), body))
                status, headers = receiver.answers[min(len(receiver.calls), len(receiver.answers)) - 1]
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        if tls is not None:
            tls.sni_callback = lambda sock, name, context: receiver.sni.append(name)  # type: ignore[assignment]
            self.server.socket = tls.wrap_socket(self.server.socket, server_side=True)
        self.port = self.server.server_port
        self.url = f"http://127.0.0.1:{self.port}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@pytest.fixture
def receivers() -> Iterator[list[Receiver]]:
    made: list[Receiver] = []
    yield made
    for receiver in made:
        receiver.server.shutdown()
        receiver.server.server_close()


@pytest.fixture
def receiver_of(receivers):
    def make(*answers: tuple[int, dict[str, str]], tls: ssl.SSLContext | None = None) -> Receiver:
        receiver = Receiver(*answers, tls=tls)
        receivers.append(receiver)
        return receiver
    return make


def _answer(address: str, port) -> list:
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    return [(family, socket.SOCK_STREAM, socket.IPPROTO_TCP, "", (address, int(port or 0)))]


@pytest.fixture
def rebinding_resolver(monkeypatch) -> list[str]:
    """A resolver the attacker controls: `rebind.example` (and, to catch a second look-up of
    the checked address, PUBLIC itself) answers PUBLIC the first time, then 127.0.0.1."""
    real = socket.getaddrinfo
    lookups: list[str] = []

    def getaddrinfo(host, port, *args, **kwargs):
        if host in ("rebind.example", PUBLIC):
            lookups.append(host)
            return _answer(PUBLIC if len(lookups) == 1 else "127.0.0.1", port)
        return real(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    return lookups


# -- DNS rebinding and the address policy ------------------------------------------------------------

def test_a_rebinding_resolver_does_not_get_the_post_to_loopback(receiver_of, rebinding_resolver) -> None:
    """Resolved once (public), checked, then the connection must go to that address: a second
    answer of 127.0.0.1 (here even for the address itself) must not reach the receiver there."""
    receiver = receiver_of()
    status = webhooks.deliver(f"http://rebind.example:{receiver.port}/hook", {"x": 1}, "s", attempts=2,
                              backoff=0.01, timeout=2)
    time.sleep(0.2)
    assert receiver.calls == []
    assert status == "refused"
    assert rebinding_resolver[0] == "rebind.example"
    assert "rebind.example" not in rebinding_resolver[1:]  # the host name is resolved once per delivery


@pytest.fixture
def hooks_example(monkeypatch) -> None:
    """hooks.example and other.example resolve to 127.0.0.1."""
    real = socket.getaddrinfo
    monkeypatch.setattr(socket, "getaddrinfo", lambda host, port, *a, **k: (
        _answer("127.0.0.1", port) if host in ("hooks.example", "other.example") else real(host, port, *a, **k)))


def test_the_post_goes_to_the_checked_address_with_the_host_name(receiver_of, hooks_example) -> None:
    receiver = receiver_of()
    status = webhooks.deliver(f"http://user:p%40ss@hooks.example:{receiver.port}/hook?job=1", {"x": 1}, "s",
                              ["hooks.example"], attempts=1)
    assert status == "delivered (HTTP 204, attempt 1)"
    (_, headers, _), = receiver.calls
    assert headers["Host"] == f"hooks.example:{receiver.port}"
    assert headers["Authorization"] == "Basic dXNlcjpwQHNz"  # user:p@ss, as requests sent it


def test_https_verifies_the_certificate_for_the_host_name_not_the_address(tmp_path: Path, receiver_of, hooks_example,
                                                                          monkeypatch) -> None:
    (tmp_path / "cert.pem").write_text(CERTIFICATE)
    (tmp_path / "key.pem").write_text(PRIVATE_KEY)
    tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    tls.load_cert_chain(tmp_path / "cert.pem", tmp_path / "key.pem")
    receiver = receiver_of(tls=tls)
    monkeypatch.setattr(webhooks.certifi, "where", lambda: str(tmp_path / "cert.pem"))  # trust the test certificate
    allow = ["hooks.example", "other.example"]
    assert webhooks.deliver(f"https://hooks.example:{receiver.port}/hook", {"x": 1}, "s", allow,
                            attempts=1) == "delivered (HTTP 204, attempt 1)"
    assert receiver.sni == ["hooks.example"] and len(receiver.calls) == 1
    # The same server and address under a name its certificate does not carry: nothing is sent.
    assert webhooks.deliver(f"https://other.example:{receiver.port}/hook", {"x": 1}, "s", allow,
                            attempts=1) == "failed after 1 attempt"
    assert len(receiver.calls) == 1


def test_every_address_of_a_host_is_checked(monkeypatch) -> None:
    real = socket.getaddrinfo
    monkeypatch.setattr(socket, "getaddrinfo", lambda host, port, *a, **k: (
        _answer(PUBLIC, port) + _answer("10.0.0.5", port) if host == "mixed.example" else real(host, port, *a, **k)))
    with pytest.raises(EngineError) as raised:
        webhooks.check_callback_url("https://mixed.example/hook")
    assert raised.value.code == "callback_url_refused"
    assert "10.0.0.5" not in raised.value.message  # the caller learns nothing about internal addresses
    assert webhooks.check_callback_url("https://mixed.example/hook", ["10.0.0.0/24"]).addresses == (PUBLIC, "10.0.0.5")


@pytest.mark.parametrize("address", [
    "64:ff9b::7f00:1",        # NAT64 of 127.0.0.1
    "64:ff9b::a00:5",         # NAT64 of 10.0.0.5
    "64:ff9b:1::a00:5",       # local-use NAT64
    "2002:7f00:1::1",         # 6to4 of 127.0.0.1
    "2002:808:808::1",        # 6to4, even of a public IPv4 address
    "192.0.0.9",              # 192.0.0.0/24, which Python counts as global
    "192.0.0.170",
    "::ffff:127.0.0.1",       # IPv4-mapped
    "::7f00:1",               # IPv4-compatible
    "127.0.0.1", "10.1.2.3", "169.254.169.254", "100.64.0.1", "::1", "fe80::1", "fc00::1", "0.0.0.0", "224.0.0.1",
])
def test_translated_tunnelled_and_private_addresses_are_refused(address: str) -> None:
    host = f"[{address}]" if ":" in address else address
    with pytest.raises(EngineError) as raised:
        webhooks.check_callback_url(f"http://{host}/hook")
    assert raised.value.code == "callback_url_refused"


def test_the_allowlist_allows_a_refused_range() -> None:
    assert webhooks.check_callback_url("http://192.0.0.9/hook", ["192.0.0.0/24"]).addresses == ("192.0.0.9",)
    assert webhooks.check_callback_url("http://[64:ff9b::a00:5]/", ["64:ff9b::/96"]).port == 80
    assert webhooks.check_callback_url("https://8.8.8.8/x?a=b").target == "/x?a=b"


@pytest.mark.parametrize("url", ["http://example.org:99999/hook", "http://example.org:0/hook", "http://[::1/hook",
                                 "ftp://example.org/x", "http:///nohost"])
def test_malformed_urls_are_refused_not_crashed_on(url: str) -> None:
    with pytest.raises(EngineError) as raised:
        webhooks.check_callback_url(url)
    assert raised.value.code == "callback_url_refused"


# -- retries ------------------------------------------------------------------------------------------

def test_a_4xx_answer_is_final(receiver_of) -> None:
    receiver = receiver_of((400, {}))
    status = webhooks.deliver(receiver.url, {"x": 1}, "s", LOOPBACK, attempts=4, backoff=0.01)
    assert len(receiver.calls) == 1
    assert status == "failed after 1 attempt: HTTP 400"


@pytest.mark.parametrize("code", [408, 429, 500, 502])
def test_timeouts_rate_limits_and_5xx_are_retried(receiver_of, code: int) -> None:
    receiver = receiver_of((code, {}), (204, {}))
    status = webhooks.deliver(receiver.url, {"x": 1}, "s", LOOPBACK, attempts=4, backoff=0.01)
    assert len(receiver.calls) == 2
    assert status == "delivered (HTTP 204, attempt 2)"


def test_retry_after_is_honoured(receiver_of) -> None:
    receiver = receiver_of((503, {"Retry-After": "1"}), (204, {}))
    status = webhooks.deliver(receiver.url, {"x": 1}, "s", LOOPBACK, attempts=3, backoff=0.01)
    assert status == "delivered (HTTP 204, attempt 2)"
    waited = receiver.calls[1][0] - receiver.calls[0][0]
    assert 0.9 <= waited < 3, waited


def test_a_malformed_retry_after_falls_back_to_the_backoff(receiver_of) -> None:
    receiver = receiver_of((503, {"Retry-After": "soon, maybe"}), (204, {}))
    assert webhooks.deliver(receiver.url, {"x": 1}, "s", LOOPBACK, attempts=2, backoff=0.01).startswith("delivered")


def test_retry_after_is_capped_and_backoff_doubles_with_jitter() -> None:
    policy = webhooks.retry_policy(attempts=4, backoff=2.0)
    assert policy.parse_retry_after("86400") == webhooks.RETRY_AFTER_MAX
    assert policy.get_backoff_time() == 0  # before the first attempt
    for failures, base in ((1, 2.0), (2, 4.0), (3, 8.0)):
        history = (RequestHistory("POST", "/hook", None, 500, None),) * failures
        waits = {policy.new(history=history).get_backoff_time() for _ in range(50)}
        assert all(base <= wait <= base + 2.0 * webhooks.JITTER for wait in waits), (failures, waits)
        assert len(waits) > 1  # jitter: retries of many jobs don't arrive together


def test_each_attempt_is_signed_when_it_is_sent(receiver_of) -> None:
    receiver = receiver_of((503, {"Retry-After": "1"}), (204, {}))
    webhooks.deliver(receiver.url, {"x": 1}, "secret", LOOPBACK, attempts=2, backoff=0.01)
    (_, first, body), (_, second, _) = receiver.calls
    assert first["X-YBB-Signature"] != second["X-YBB-Signature"]
    assert webhooks.verify("secret", body, second["X-YBB-Signature"])


# -- the outcome on the job is coarse ------------------------------------------------------------------

def test_connection_failures_are_not_described_to_the_caller() -> None:
    closed = free_port()
    status = webhooks.deliver(f"http://127.0.0.1:{closed}/hook", {"x": 1}, "s", LOOPBACK, attempts=2, backoff=0.01)
    assert status == "failed after 2 attempts"


def test_a_refusal_does_not_name_the_address() -> None:
    assert webhooks.deliver("http://10.1.2.3/hook", {"x": 1}, "s", attempts=2, backoff=0.01) == "refused"


# -- the webhook secret, by the API key's id ---------------------------------------------------------------

def _write_keys(path: Path, *entries: dict) -> None:
    path.write_text(json.dumps({"keys": list(entries)}))


def test_the_secret_is_looked_up_by_key_id_and_reread_when_the_file_changes(tmp_path: Path) -> None:
    keys = tmp_path / "keys.json"
    _write_keys(keys, {"id": "k1", "tenant": "a", "sha256": "x", "scopes": [], "webhook_secret": "one"},
                {"id": "k2", "tenant": "b", "sha256": "y", "scopes": []})
    assert webhooks.secret_for(str(keys), "k1") == "one"
    assert webhooks.secret_for(str(keys), "k2") == ""  # no secret: nothing to sign with
    assert webhooks.secret_for(str(keys), "nope") == ""
    assert webhooks.secret_for(None, "k1") == "" and webhooks.secret_for(str(tmp_path / "missing"), "k1") == ""
    _write_keys(keys, {"id": "k1", "tenant": "a", "sha256": "x", "scopes": [], "webhook_secret": "rotated"})
    os.utime(keys, ns=(time.time_ns(), time.time_ns() + 1_000_000))
    assert webhooks.secret_for(str(keys), "k1") == "rotated"

"""Hostile clients at the edge (issue 13, items 13 and 14), against the real Nginx.

- A Host header that is not one of the configured server names gets a JSON 421 in the
  service's error shape, on HTTPS (whatever the SNI) and on HTTP (no redirect to that
  host); the configured names work.
- Signed download links do not reach the Nginx access log with their signature.
"""
from __future__ import annotations

import json
import socket
import ssl
import urllib.parse

import pytest
import requests

from support import wait_for

pytestmark = pytest.mark.e2e

ERROR_KEYS = {"code", "status", "message", "errors", "request_id"}


def _assert_json_error(response: requests.Response, status: int, code: str) -> None:
    assert response.status_code == status, response.text
    assert response.headers["Content-Type"].startswith("application/json")
    body = response.json()
    assert set(body) == ERROR_KEYS, body
    assert body["status"] == status and body["code"] == code and body["errors"] == {}
    assert body["request_id"] == response.headers["X-Request-Id"]
    assert response.headers["X-Content-Type-Options"] == "nosniff"


def _raw_https(stack, request: bytes, sni: str | None) -> tuple[int, bytes]:
    """One HTTP/1.1 exchange over TLS with the given SNI; (status, body)."""
    context = ssl.create_default_context(cafile=str(stack.config.cert))
    context.check_hostname = False
    with socket.create_connection(("127.0.0.1", stack.config.https_port), timeout=10) as raw:
        with context.wrap_socket(raw, server_hostname=sni) as tls:
            tls.sendall(request)
            answer = b""
            while chunk := tls.recv(65536):
                answer += chunk
    head, _, body = answer.partition(b"\r\n\r\n")
    return int(head.split(b" ", 2)[1]), body


@pytest.mark.parametrize("host", ["attacker.example", "127.0.0.2", "localhost.attacker.example"])
def test_an_unknown_host_gets_a_json_421(stack, api, host) -> None:
    response = api.get(f"{stack.config.base_url}/health", headers={"Host": host})
    _assert_json_error(response, 421, "unknown_host")
    # not even with a valid key: the API never sees the request
    response = api.get(f"{stack.config.base_url}/api/v1/exports", headers={"Host": host})
    _assert_json_error(response, 421, "unknown_host")


def test_the_configured_names_work(stack, api) -> None:
    assert api.get(f"{stack.config.base_url}/health").status_code == 200  # Host: 127.0.0.1:<port>
    assert api.get(f"{stack.config.base_url}/health", headers={"Host": "localhost"}).status_code == 200
    assert api.get(f"{stack.config.base_url}/health", headers={"Host": "LOCALHOST."}).status_code == 200


def test_a_known_sni_does_not_carry_an_unknown_host(stack) -> None:
    status, body = _raw_https(stack, b"GET /health HTTP/1.1\r\nHost: attacker.example\r\nConnection: close\r\n\r\n",
                              sni="localhost")
    assert status == 421 and json.loads(body)["code"] == "unknown_host"
    status, _ = _raw_https(stack, b"GET /health HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n",
                           sni="localhost")
    assert status == 200


def test_errors_before_the_host_is_known_are_json(stack) -> None:
    """No Host header, a malformed request line: Nginx answers from the default server."""
    for request in (b"GET /health HTTP/1.1\r\nConnection: close\r\n\r\n", b"GET  HTTP/1.1\r\n\r\n"):
        status, body = _raw_https(stack, request, sni=None)
        assert status == 400 and set(json.loads(body)) == ERROR_KEYS, body
    status, body = _raw_https(stack, b"GET /" + b"a" * 9000 + b" HTTP/1.1\r\nHost: localhost\r\n\r\n", sni=None)
    assert status == 414 and json.loads(body)["code"] == "uri_too_long"


def test_http_does_not_redirect_to_an_unknown_host(stack) -> None:
    http = requests.Session()
    http.trust_env = False
    plain = f"http://127.0.0.1:{stack.config.http_port}/health"
    response = http.get(plain, headers={"Host": "attacker.example"}, allow_redirects=False)
    _assert_json_error(response, 421, "unknown_host")
    assert "Location" not in response.headers
    response = http.get(plain, allow_redirects=False)
    assert response.status_code in (301, 308)
    assert response.headers["Location"] == f"https://127.0.0.1:{stack.config.https_port}/health"


def test_signed_link_signatures_stay_out_of_the_access_log(stack, api) -> None:
    job = api.post(f"{stack.config.base_url}/api/v1/exports",
                   json={"columns": [{"field": "a", "header": "A", "type": "string"}], "records": [{"a": "x"}],
                         "filename": "signed-link-log"}).json()
    link = job["download_url"]
    signature = urllib.parse.parse_qs(urllib.parse.urlsplit(link).query)["signature"][0]
    path = f"/api/v1/exports/{job['id']}/file"
    anonymous = requests.Session()
    anonymous.trust_env, anonymous.verify = False, str(stack.config.cert)
    assert anonymous.get(link).status_code == 200
    assert anonymous.get(link, headers={"Range": "bytes=0-1"}).status_code == 206
    anonymous.get(link.replace("signature=", "Signature="))  # not a signed link to the API; redacted all the same

    log = stack.config.var / "log" / "nginx-access.log"

    def downloads() -> list[dict]:
        lines = [json.loads(line) for line in log.read_text().split("\n") if line.strip()]
        return [line for line in lines if line["uri"].startswith(path) and line["method"] == "GET"]

    logged = wait_for(lambda: len(downloads()) >= 3 and downloads(), timeout=10,
                      message="the downloads are not in the access log")
    assert all(line["uri"] == f"{path}?[signature redacted]" for line in logged), logged
    assert signature not in log.read_text()

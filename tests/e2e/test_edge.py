"""The edge, against the real Nginx in front of the real Gunicorn (issue: The edge).

Bursts come from other loopback addresses (127.0.0.2 and up: Linux routes 127/8 to lo),
so the per-IP limits they trip do not slow the other end-to-end tests.
"""
from __future__ import annotations

import http.client
import json
import re
import socket
import ssl
import subprocess
import sys
import urllib.parse

import pytest
import requests

from devstack import ROOT
from support import wait_for

pytestmark = pytest.mark.e2e

SECURITY_HEADERS = {
    "Strict-Transport-Security": "max-age=63072000; includeSubDomains",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
}
STRICT_CSP = "default-src 'none'"


def _tls_context(stack) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=str(stack.config.cert))


def _connection(stack, source: str) -> http.client.HTTPSConnection:
    return http.client.HTTPSConnection("127.0.0.1", stack.config.https_port, context=_tls_context(stack),
                                       source_address=(source, 0), timeout=30)


def _get(connection: http.client.HTTPSConnection, path: str, headers: dict | None = None) -> tuple[int, dict, bytes]:
    connection.request("GET", path, headers=headers or {})
    response = connection.getresponse()
    return response.status, dict(response.getheaders()), response.read()


def _assert_security_headers(headers, csp: str = STRICT_CSP) -> None:
    lowered = {k.lower(): v for k, v in headers.items()}
    for name, value in SECURITY_HEADERS.items():
        assert lowered.get(name.lower()) == value, name
    assert lowered["content-security-policy"].startswith(csp)
    assert lowered.get("server") == "nginx"  # server_tokens off: no version
    assert lowered.get("x-request-id")


def _openssl(stack, *args: str) -> subprocess.CompletedProcess:
    command = ["openssl", "s_client", "-connect", f"127.0.0.1:{stack.config.https_port}", "-servername", "localhost",
               "-CAfile", str(stack.config.cert), *args]
    return subprocess.run(command, input="", capture_output=True, text=True, timeout=30)


@pytest.mark.parametrize("version", ["-tls1", "-tls1_1"])
def test_old_tls_is_refused(stack, version: str) -> None:
    # SECLEVEL=0 makes the client willing to speak the old protocol, so only the server can refuse.
    result = _openssl(stack, version, "-cipher", "DEFAULT@SECLEVEL=0")
    assert result.returncode != 0
    assert re.search(r"Cipher\s*(:|is)\s*(0000|\(NONE\))", result.stdout), result.stdout


@pytest.mark.parametrize("version, name", [("-tls1_2", "TLSv1.2"), ("-tls1_3", "TLSv1.3")])
def test_modern_tls_is_accepted(stack, version: str, name: str) -> None:
    result = _openssl(stack, version)
    assert result.returncode == 0, result.stderr
    assert re.search(rf"(Protocol\s*:\s*|New, ){re.escape(name)}\b", result.stdout)
    assert "Verify return code: 0 (ok)" in result.stdout


def test_weak_cipher_is_refused(stack) -> None:
    assert _openssl(stack, "-tls1_2", "-cipher", "AES128-SHA:@SECLEVEL=0").returncode != 0


def test_headers_on_200_and_404(stack, api) -> None:
    ok = api.get(f"{stack.config.base_url}/health")
    assert ok.status_code == 200
    _assert_security_headers(ok.headers)
    missing = api.get(f"{stack.config.base_url}/api/v1/exports/does-not-exist")
    assert missing.status_code == 404 and missing.json()["code"] == "not_found"
    _assert_security_headers(missing.headers)
    nginx_own = api.get(f"{stack.config.base_url}/_protected_files/anything")
    assert nginx_own.status_code == 404
    assert nginx_own.headers["Content-Type"] == "application/json"
    assert nginx_own.json()["request_id"] == nginx_own.headers["X-Request-Id"]


def test_body_over_100mb_is_a_json_413_with_headers(stack) -> None:
    with socket.create_connection(("127.0.0.1", stack.config.https_port), source_address=("127.0.0.6", 0)) as raw:
        with _tls_context(stack).wrap_socket(raw, server_hostname="localhost") as tls:
            tls.sendall(b"POST /api/v1/exports HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
                        b"X-Request-Id: big-body-1\r\nContent-Length: %d\r\n\r\n" % (101 * 1024 * 1024) + b"[" * 65536)
            response = http.client.HTTPResponse(tls)
            response.begin()
            body = json.loads(response.read())
    assert response.status == 413
    assert body == {**body, "code": "payload_too_large", "status": 413, "request_id": "big-body-1"}
    _assert_security_headers(dict(response.getheaders()))


def test_burst_meets_429_with_retry_after_and_no_5xx(stack) -> None:
    connection = _connection(stack, "127.0.0.2")
    statuses, limited = [], None
    for _ in range(120):
        status, headers, body = _get(connection, "/health")
        statuses.append(status)
        if status == 429 and limited is None:
            limited = (headers, json.loads(body))
    assert set(statuses) == {200, 429}
    assert statuses.count(200) >= 40  # the burst allowance is served
    headers, body = limited
    assert headers["Retry-After"] == "1"
    assert body["code"] == "rate_limited" and body["request_id"] == headers["X-Request-Id"]
    _assert_security_headers(headers)


def test_one_key_from_several_ips_is_limited_per_key(stack) -> None:
    connections = [_connection(stack, "127.0.0.4"), _connection(stack, "127.0.0.5")]
    statuses = [_get(connections[i % 2], "/api/v1/templates", {"X-API-Key": "ybb_shared_key_under_test"})[0]
                for i in range(76)]
    assert 429 in statuses  # each IP stayed within its own burst; the key did not
    assert set(statuses) <= {401, 429}


def test_eleventh_concurrent_connection_gets_429(stack) -> None:
    held = []
    try:
        for _ in range(10):  # request headers sent, body withheld: each holds a connection slot
            raw = socket.create_connection(("127.0.0.1", stack.config.https_port), source_address=("127.0.0.3", 0))
            tls = _tls_context(stack).wrap_socket(raw, server_hostname="localhost")
            tls.sendall(b"POST /api/v1/exports HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
                        b"Content-Length: 1000\r\n\r\n[")
            held.append(tls)

        def eleventh() -> tuple[int, dict, bytes] | None:
            """One more connection, closed after its answer: a 429 once Nginx counts the ten."""
            connection = _connection(stack, "127.0.0.3")
            try:
                answer = _get(connection, "/health")
            finally:
                connection.close()
            return answer if answer[0] == 429 else None

        status, headers, body = wait_for(eleventh, timeout=10, interval=0.1,
                                         message="the eleventh connection was served")
        assert headers["Retry-After"] == "1" and json.loads(body)["code"] == "rate_limited"
    finally:
        for tls in held:
            tls.close()


def test_dask_dashboard_needs_the_password_and_its_websocket_works(stack) -> None:
    base = stack.config.base_url
    password = (stack.config.var / "dask-dashboard-password").read_text()
    session = requests.Session()
    session.trust_env, session.verify = False, str(stack.config.cert)
    denied = session.get(f"{base}/dask/status")
    assert denied.status_code == 401 and denied.json()["code"] == "unauthorized"
    assert denied.headers["WWW-Authenticate"].startswith("Basic")
    assert session.get(f"{base}/dask/status", auth=("ybb", "wrong")).status_code == 401
    redirect = session.get(f"{base}/dask/", allow_redirects=False)
    assert redirect.status_code == 302 and redirect.headers["Location"].endswith("/dask/status")
    page = session.get(f"{base}/dask/status", auth=("ybb", password))
    assert page.status_code == 200 and "bokeh" in page.text.lower()
    assert "unsafe-eval" in page.headers["Content-Security-Policy"]  # the relaxed policy, only here
    token = re.search(r'"token":"([^"]+)"', page.text).group(1)
    script = (ROOT / "tests" / "e2e" / "websocket_probe.py")
    result = subprocess.run([sys.executable, str(script), f"wss://127.0.0.1:{stack.config.https_port}/dask/status/ws",
                             str(stack.config.cert), "ybb", password, token],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["msgtype"] == "ACK"


def test_tenants_are_isolated_through_nginx(stack, api) -> None:
    base = stack.config.base_url
    other = subprocess.run([sys.executable, "scripts/devstack.py", "key", "tenant-b"], cwd=ROOT, check=True,
                           capture_output=True, text=True, env={**__import__("os").environ,
                                                                "YBB_VAR_DIR": str(stack.config.var)}).stdout.strip()
    job = api.post(f"{base}/api/v1/exports", json={"columns": [{"field": "a", "header": "A", "type": "string"}],
                                                   "records": [{"a": "secret"}]}).json()
    b = requests.Session()
    b.trust_env, b.verify = False, str(stack.config.cert)
    b.headers["X-API-Key"] = other
    assert b.get(f"{base}/api/v1/exports/{job['id']}").status_code == 404
    assert b.get(f"{base}/api/v1/exports/{job['id']}/file").status_code == 404
    assert b.delete(f"{base}/api/v1/exports/{job['id']}").status_code == 404
    assert job["id"] not in {j["id"] for j in b.get(f"{base}/api/v1/exports").json()}


def test_signed_link_downloads_without_a_key_through_x_accel(stack, api) -> None:
    job = api.post(f"{stack.config.base_url}/api/v1/exports",
                   json={"columns": [{"field": "a", "header": "A", "type": "string"}], "records": [{"a": "x"}]}).json()
    anonymous = requests.Session()
    anonymous.trust_env, anonymous.verify = False, str(stack.config.cert)
    download = anonymous.get(job["download_url"])
    assert download.status_code == 200 and download.content[:2] == b"PK"
    assert len(download.content) == job["file_size"]
    query = urllib.parse.parse_qs(urllib.parse.urlsplit(job["download_url"]).query)
    tampered = job["download_url"].replace(query["signature"][0], "f" * 64)
    assert anonymous.get(tampered).status_code == 403


def test_json_is_gzipped(stack, api) -> None:
    response = api.get(f"{stack.config.base_url}/api/v1/openapi.json", headers={"Accept-Encoding": "gzip"})
    assert response.headers["Content-Encoding"] == "gzip"
    assert response.json()["info"]["title"] == "YBB Data Management Service"

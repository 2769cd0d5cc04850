"""How an old PHP app reaches the /api/ybb routes: over http:// (308 to HTTPS, so a POST stays a
POST), the /health check it compares with 'healthy', the download headers its naive parsers
read, and the key: required on the shared stack, not needed from a COMPAT_KEYLESS_IPS address."""
from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
import requests
from oldclient import OldClient, dev_key

from devstack import Stack

pytestmark = pytest.mark.e2e

HERE = Path(__file__).parent
PARTICIPANTS = [{"id": 1, "full_name": "Ayu Lestari", "email": "ayu@example.org", "form_status": 2}]


def _session(stack: Stack) -> requests.Session:
    session = requests.Session()
    session.trust_env = False
    session.verify = str(stack.config.cert)
    return session


def test_http_answers_308_to_https_for_any_method(stack: Stack) -> None:
    http = f"http://127.0.0.1:{stack.config.http_port}"
    for method in ("GET", "POST"):
        response = requests.request(method, f"{http}/api/ybb/export/participants?x=1", allow_redirects=False,
                                    json={"data": PARTICIPANTS})
        assert response.status_code == 308
        assert response.headers["Location"] == \
            f"https://127.0.0.1:{stack.config.https_port}/api/ybb/export/participants?x=1"


def _php_client(client: OldClient) -> dict:
    php = shutil.which("php")
    if php is None:
        pytest.fail("php is not installed: run the tests with `make test` (scripts/ensure_php.sh installs it)")
    result = subprocess.run([php, str(HERE / "old_php_client.php"), client.http_base_url, str(client.stack.config.cert),
                             client.key or ""], capture_output=True, text=True, timeout=300,
                            env={"PATH": "/usr/bin:/bin"})
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_an_old_php_app_over_http(old_client: OldClient) -> None:
    """curl with CURLOPT_FOLLOWLOCATION, file_get_contents, json_decode: the old apps' own calls."""
    seen = _php_client(old_client)
    assert seen["health_is_healthy"] is True
    export = seen["export"]
    assert export["code"] == 200 and export["redirects"] == 1 and export["status"] == "success", export
    assert export["single_file"] is True and export["record_count"] == "2"
    assert export["file_name"] == "Japan_Youth_Summit_2025_Participants_26-07-2025.xlsx"
    assert export["download_url"] == f"/api/ybb/export/{export['export_id']}/download"
    assert export["processing_time"] is not None and export["expires_at"]
    assert seen["status"] == "success"
    download = seen["download"]
    assert download["code"] == 200 and download["is_xlsx"] and download["bytes"] == export["file_size"]
    assert download["content_type"] == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    assert download["filename_by_regex"] == download["filename_by_explode"] == export["file_name"]


def test_health_keeps_the_new_fields(stack: Stack) -> None:
    with _session(stack) as session:
        health = session.get(f"{stack.config.base_url}/health").json()
    assert health["status"] == "healthy" and health["version"] == "1.0.0"
    assert {"service", "timestamp", "request_id"} <= set(health)


def test_the_shared_stack_requires_a_key(stack: Stack) -> None:
    base = stack.config.base_url
    with _session(stack) as session:
        for response in (session.post(f"{base}/api/ybb/export/participants", json={"data": PARTICIPANTS}),
                         session.get(f"{base}/api/ybb/templates"),
                         session.get(f"{base}/api/ybb/status-mappings")):
            assert response.status_code == 401
            body = response.json()
            assert body["status"] == "error" and body["code"] == "unauthorized"


def test_keyless_callers_from_an_allowed_address(keyless_stack: Stack) -> None:
    base = keyless_stack.config.base_url
    with _session(keyless_stack) as session:
        created = session.post(f"{base}/api/ybb/export/participants", json={"data": PARTICIPANTS})
        assert created.status_code == 200, created.text
        export_id = created.json()["data"]["export_id"]
        # A key, when sent, is checked: a wrong one is refused from the allowed address too.
        wrong = session.get(f"{base}/api/ybb/export/{export_id}/status", headers={"X-API-Key": "ybb_wrong"})
        assert wrong.status_code == 401 and wrong.json()["status"] == "error"
        # Only the old routes are keyless.
        assert session.get(f"{base}/api/v1/exports/{export_id}").status_code == 401
        # Keyless exports belong to COMPAT_TENANT: an admin key sees them, another tenant's key does not.
        admin = session.get(f"{base}/api/ybb/export/{export_id}/status", headers={"X-API-Key": dev_key(keyless_stack)})
        assert admin.status_code == 200 and admin.json()["status"] == "success"
        assert session.get(f"{base}/api/v1/exports/{export_id}",
                           headers={"X-API-Key": dev_key(keyless_stack)}).json()["state"] == "succeeded"

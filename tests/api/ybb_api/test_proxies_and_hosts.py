"""Links come from PUBLIC_URL, not the Host header; X-Forwarded-* only from the trusted proxy (issue 13, 14-15)."""
from __future__ import annotations

from ybb_api import create_app
from ybb_api.config import TestingConfig

COLUMNS = [{"field": "name", "header": "Name", "type": "string"}]
BODY = {"columns": COLUMNS, "records": [{"name": "a"}]}


def _app(tmp_path, keys, cluster, **settings):  # noqa: ANN001, ANN202
    return create_app(TestingConfig(DATA_DIR=str(tmp_path / "data"), API_KEYS_FILE=str(keys.path),
                                    DASK_SCHEDULER_ADDRESS=cluster.scheduler_address, **settings))


def test_links_use_public_url_whatever_the_host_header(tmp_path, keys, cluster) -> None:
    client = _app(tmp_path, keys, cluster, PUBLIC_URL="https://exports.example.org/").test_client()
    response = client.post("/api/v1/exports", json=BODY, headers={"X-API-Key": keys.a, "Host": "attacker.example"})
    assert response.status_code == 201
    assert response.headers["Location"].startswith("https://exports.example.org/api/v1/exports/")
    assert response.json["download_url"].startswith("https://exports.example.org/api/v1/exports/")
    assert "attacker" not in response.get_data(as_text=True)


def test_forwarded_headers_count_only_from_the_trusted_proxy(tmp_path, keys, cluster) -> None:
    app = _app(tmp_path, keys, cluster, FORWARDED_ALLOW_IPS="127.0.0.1", COMPAT_KEYLESS_IPS=["10.1.2.3"])
    client = app.test_client()
    old = {"data": [{"id": 1, "full_name": "A", "email": "a@example.org"}]}
    spoofed = {"X-Forwarded-For": "10.1.2.3", "X-Forwarded-Host": "attacker.example"}
    direct = client.post("/api/ybb/export/participants", json=old, headers=spoofed,
                         environ_base={"REMOTE_ADDR": "198.51.100.7"})
    assert direct.status_code == 401, "a direct client must not pass as a keyless address"
    via_nginx = client.post("/api/ybb/export/participants", json=old, headers=spoofed,
                            environ_base={"REMOTE_ADDR": "127.0.0.1"})
    assert via_nginx.status_code == 200, via_nginx.json
    listed = client.post("/api/v1/exports", json=BODY, headers={"X-API-Key": keys.a, **spoofed},
                         environ_base={"REMOTE_ADDR": "198.51.100.7"})
    assert "attacker" not in listed.headers["Location"]

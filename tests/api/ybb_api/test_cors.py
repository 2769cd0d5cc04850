from __future__ import annotations

from ybb_api import create_app
from ybb_api.config import TestingConfig


def test_cors_is_off_by_default(client) -> None:
    response = client.get("/health", headers={"Origin": "https://evil.example"})
    assert "Access-Control-Allow-Origin" not in response.headers


def test_cors_allows_only_configured_origins(tmp_path, keys, cluster) -> None:
    app = create_app(TestingConfig(DATA_DIR=str(tmp_path), API_KEYS_FILE=str(keys.path),
                                   DASK_SCHEDULER_ADDRESS=cluster.scheduler_address,
                                   CORS_ORIGINS=["https://apps.ybb.example"]))
    client = app.test_client()
    preflight = client.options("/api/v1/exports", headers={
        "Origin": "https://apps.ybb.example", "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "X-API-Key, Content-Type"})
    assert preflight.headers["Access-Control-Allow-Origin"] == "https://apps.ybb.example"
    assert "x-api-key" in preflight.headers["Access-Control-Allow-Headers"].lower()
    other = client.get("/health", headers={"Origin": "https://evil.example"})
    assert "Access-Control-Allow-Origin" not in other.headers

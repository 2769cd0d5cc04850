from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urlsplit

from ybb_api import create_app
from ybb_api.config import TestingConfig
from support import free_port


def test_health_is_public_and_versioned(client) -> None:
    response = client.get("/health")
    assert response.status_code == 200
    # "healthy", as the old service answered (its PHP checks compare it), and the version.
    assert response.json["status"] == "healthy" and response.json["version"] == "1.0.0"


def test_ready_counts_workers(client) -> None:
    body = client.get("/health/ready").json
    assert body["status"] == "ready"
    assert body["checks"]["cluster"]["workers"] == 2
    assert body["checks"]["storage"]["ok"] is True


def test_not_ready_without_scheduler(tmp_path, keys) -> None:
    app = create_app(TestingConfig(DATA_DIR=str(tmp_path), API_KEYS_FILE=str(keys.path),
                                   DASK_SCHEDULER_ADDRESS=f"tcp://127.0.0.1:{free_port()}", DASK_CONNECT_TIMEOUT=1))
    response = app.test_client().get("/health/ready")
    assert response.status_code == 503
    assert response.json["checks"]["cluster"]["ok"] is False
    assert response.json["checks"]["storage"]["ok"] is True


def test_export_without_scheduler_is_503_but_small_sync_exports_still_work(tmp_path, keys) -> None:
    app = create_app(TestingConfig(DATA_DIR=str(tmp_path), API_KEYS_FILE=str(keys.path),
                                   DASK_SCHEDULER_ADDRESS=f"tcp://127.0.0.1:{free_port()}", DASK_CONNECT_TIMEOUT=1))
    body = {"template": "participants/summary", "records": [{"full_name": "A"}]}
    response = app.test_client().post("/api/v1/exports", headers={"X-API-Key": keys.a}, json={**body, "mode": "async"})
    assert response.status_code == 503 and response.json["code"] == "cluster_unavailable"
    assert response.headers["Retry-After"] == "30"
    inline = app.test_client().post("/api/v1/exports", headers={"X-API-Key": keys.a}, json=body)
    assert inline.status_code == 201 and inline.json["state"] == "succeeded" and inline.json["rows"] == 1


def test_openapi_document_lists_every_route(client) -> None:
    spec = client.get("/api/v1/openapi.json").json
    assert spec["info"]["title"] == "YBB Data Management Service"
    for path in ("/api/v1/exports", "/api/v1/exports/{job_id}", "/api/v1/exports/{job_id}/file",
                 "/api/v1/templates", "/api/v1/templates/{type_}/{name}", "/health", "/health/ready"):
        assert path in spec["paths"], path
    post = spec["paths"]["/api/v1/exports"]["post"]
    assert post["summary"] == "Create an export from JSON records"
    assert {"201", "202", "422"} <= set(post["responses"])
    assert "ApiKeyHeader" in spec["components"]["securitySchemes"]


def test_docs_page(client) -> None:
    response = client.get("/docs")
    assert response.status_code == 200 and b"swagger" in response.data.lower()


class _Assets(HTMLParser):
    """The URLs a page loads: script src, link href, img src."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[tuple[str, str]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        wanted = {"script": "src", "link": "href", "img": "src"}.get(tag)
        for name, value in attrs:
            if name == wanted and value:
                self.urls.append((tag, value))


ASSET_TYPES = {".css": {"text/css"}, ".js": {"text/javascript", "application/javascript"}}


def test_docs_page_loads_swagger_ui_from_the_service_itself(client) -> None:
    """No CDN: /docs works on a host without internet access (the files are swagger-ui-bundle's)."""
    page = client.get("/docs").get_data(as_text=True)
    parser = _Assets()
    parser.feed(page)
    assert {tag for tag, _ in parser.urls} == {"script", "link"} and len(parser.urls) == 3, parser.urls
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", page, re.IGNORECASE)
    for _, url in parser.urls:
        parts = urlsplit(url)
        assert not parts.scheme and not parts.netloc and url.startswith("/docs/static/"), url
        asset = client.get(url)
        assert asset.status_code == 200 and len(asset.data) > 10_000, url
        assert asset.mimetype in ASSET_TYPES[Path(parts.path).suffix], (url, asset.mimetype)
        asset.close()
    assert "validatorUrl" in page  # off: no badge image from validator.swagger.io
    assert client.get("/docs/static/no-such-file.js").status_code == 404
    assert client.get("/docs/static/../../../config.py").status_code == 404


def test_templates_list_and_one(client, keys) -> None:
    listing = client.get("/api/v1/templates", headers={"X-API-Key": keys.a}).json
    assert {(t["type"], t["name"]) for t in listing} >= {("participants", "standard"), ("payments", "detailed")}
    one = client.get("/api/v1/templates/participants/standard", headers={"X-API-Key": keys.a}).json
    assert [c["field"] for c in one["columns"]][:3] == ["id", "full_name", "email"]
    missing = client.get("/api/v1/templates/participants/nope", headers={"X-API-Key": keys.a})
    assert missing.status_code == 404 and missing.json["code"] == "unknown_template"

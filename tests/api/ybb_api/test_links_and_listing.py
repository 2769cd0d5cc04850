"""Signed download links, listing with pagination, the result cache, lost jobs."""
from __future__ import annotations

from jobfactory import make_job

import time
import pytest
from urllib.parse import parse_qs, urlsplit

import orjson

COLUMNS = [{"field": "name", "header": "Name", "type": "string"}]


def _export(client, key: str, rows: int = 2, **extra) -> dict:
    body = {"columns": COLUMNS, "records": [{"name": f"n{i}"} for i in range(rows)], **extra}
    response = client.post("/api/v1/exports", json=body, headers={"X-API-Key": key})
    assert response.status_code == 201, response.json
    return response.json


def _path(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.path}?{parts.query}"


def test_signed_link_works_without_a_key(client, keys) -> None:
    job = _export(client, keys.a)
    response = client.get(_path(job["download_url"]))
    assert response.status_code == 200 and response.data[:2] == b"PK"


def test_tampered_or_expired_link_is_403(client, keys, app) -> None:
    job = _export(client, keys.a)
    url = _path(job["download_url"])
    query = parse_qs(urlsplit(job["download_url"]).query)
    tampered = url.replace(query["signature"][0], "0" * 64)
    assert client.get(tampered).status_code == 403
    later = url.replace(f"expires={query['expires'][0]}", f"expires={int(query['expires'][0]) + 10}")
    assert client.get(later).json["code"] == "invalid_signature"
    from ybb_api import signing

    past = int(time.time()) - 1
    expired = f"/api/v1/exports/{job['id']}/file?expires={past}&signature={signing.sign(job['id'], past, app.config['SECRET_KEY'])}"
    assert client.get(expired).status_code == 403


def test_links_survive_a_secret_rotation(client, keys, app) -> None:
    job = _export(client, keys.a)
    app.config["SECRET_KEYS_PREVIOUS"] = [app.config["SECRET_KEY"]]
    app.config["SECRET_KEY"] = "a-brand-new-secret"
    assert client.get(_path(job["download_url"])).status_code == 200
    app.config["SECRET_KEYS_PREVIOUS"] = []
    assert client.get(_path(job["download_url"])).status_code == 403


def test_link_never_outlives_the_file(client, keys, app) -> None:
    app.config["DOWNLOAD_URL_TTL"] = 10 * 24 * 3600
    job = _export(client, keys.a)
    expires = int(parse_qs(urlsplit(job["download_url"]).query)["expires"][0])
    assert expires <= time.time() + app.config["RETENTION_HOURS"] * 3600 + 1


def test_listing_shows_only_the_callers_jobs_and_paginates(client, keys) -> None:
    mine = [_export(client, keys.a, rows=i + 1)["id"] for i in range(3)]
    theirs = _export(client, keys.b)["id"]
    page = client.get("/api/v1/exports?page=1&page_size=2", headers={"X-API-Key": keys.a})
    assert page.status_code == 200
    assert [j["id"] for j in page.json] == mine[::-1][:2]
    assert orjson.loads(page.headers["X-Pagination"])["total"] == 3
    second = client.get("/api/v1/exports?page=2&page_size=2", headers={"X-API-Key": keys.a}).json
    assert [j["id"] for j in second] == [mine[0]]
    everything = client.get("/api/v1/exports?page_size=50", headers={"X-API-Key": keys.admin}).json
    assert {*mine, theirs} <= {j["id"] for j in everything}


def test_identical_request_returns_the_cached_file(client, keys) -> None:
    first = _export(client, keys.a, rows=4)
    again = _export(client, keys.a, rows=4)
    assert again["id"] == first["id"]
    other_tenant = _export(client, keys.b, rows=4)
    assert other_tenant["id"] != first["id"]
    different = _export(client, keys.a, rows=5)
    assert different["id"] != first["id"]


def test_job_lost_by_the_scheduler_is_failed(client, keys, app) -> None:
    app.extensions["ybb_service"].store.create(make_job(id="ghost1", tenant="tenant-a", state="running",
                                                        created_at=time.time() - 3600))
    job = client.get("/api/v1/exports/ghost1", headers={"X-API-Key": keys.a}).json
    assert job["state"] == "failed" and job["error"]["code"] == "scheduler_lost"


def test_a_non_ascii_signature_is_403_not_500(client, keys) -> None:
    job = _export(client, keys.a)
    query = parse_qs(urlsplit(job["download_url"]).query)
    forged = f"/api/v1/exports/{job['id']}/file?expires={query['expires'][0]}&signature=%C3%A9%C3%A9"
    response = client.get(forged)
    assert response.status_code == 403 and response.json["code"] == "invalid_signature"


@pytest.mark.parametrize("page", ["1" * 25, "0", "-3"])
def test_an_absurd_page_number_is_a_4xx(client, keys, page: str) -> None:
    response = client.get(f"/api/v1/exports?page={page}", headers={"X-API-Key": keys.a})
    assert 400 <= response.status_code < 500 and response.json["request_id"], response.json

"""Source exports through the v1 API on the bare app: POST /api/v1/exports with `source`,
GET /api/v1/sources, and the errors in the one shape."""
from __future__ import annotations

import io

import openpyxl
import pytest
import sqlalchemy as sa
from support import wait_for

from ybb_engine.sources import connections


def auth(key: str) -> dict:
    return {"X-API-Key": key}


@pytest.fixture
def ybb(ybb_source):
    return ybb_source


def _finished(client, key: str, job_id: str) -> dict | None:
    job = client.get(f"/api/v1/exports/{job_id}", headers=auth(key)).json
    return job if job["state"] in ("succeeded", "failed") else None


def test_sources_are_listed_with_their_parameters(client, keys) -> None:
    assert client.get("/api/v1/sources").status_code == 401
    response = client.get("/api/v1/sources", headers=auth(keys.a))
    assert response.status_code == 200
    by_name = {s["name"]: s for s in response.json}
    assert by_name["ybb/participants"]["template"] == "participants/standard"
    status = next(p for p in by_name["ybb/participants"]["params"] if p["name"] == "status")
    assert status["type"] == "integer" and "go_to_interview" in status["choices"]
    assert "JOIN" not in response.get_data(as_text=True)


def test_a_source_export_is_a_job_with_progress_and_a_file(client, keys, ybb) -> None:
    response = client.post("/api/v1/exports", json={"source": {"name": "ybb/participants",
                                                               "params": {"program_id": 102}},
                                                    "template": "participants/detailed"}, headers=auth(keys.a))
    assert response.status_code == 202, response.json
    assert response.json["rows_total"] > 0 and response.headers["Location"].endswith(response.json["id"])
    job = wait_for(lambda: _finished(client, keys.a, response.json["id"]), timeout=60, message="no end")
    assert job["state"] == "succeeded", job
    with sa.create_engine(ybb.server.admin_url).connect() as connection:
        expected = connection.execute(sa.text(
            "SELECT COUNT(*) FROM participants WHERE program_id = 102 AND is_active = 1 AND is_deleted = 0")).scalar()
    assert job["rows"] == expected
    download = client.get(f"/api/v1/exports/{job['id']}/file", headers=auth(keys.a))
    sheet = openpyxl.load_workbook(io.BytesIO(download.data), read_only=True).worksheets[0]
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0][:3] == ("ID", "Full Name", "Email") and len(rows) == expected + 1
    assert client.get(f"/api/v1/exports/{job['id']}", headers=auth(keys.b)).status_code == 404


@pytest.mark.parametrize(("body", "status", "code"), [
    ({"source": {"name": "ybb/nothing"}}, 422, "unknown_source"),
    ({"source": {"name": "ybb/participants", "params": {"program_id": "x"}}}, 422, "invalid_source_params"),
    ({"source": {"name": "ybb/participants", "params": {"sort_by": "id; DROP TABLE users"}}}, 422,
     "invalid_source_params"),
    ({"source": {"name": "ybb/participants"}, "records": [{"a": 1}]}, 422, "validation_error"),
    ({"source": {"params": {}}}, 422, "validation_error"),
    ({"source": "ybb/participants"}, 422, "validation_error"),
    ({"source": {"name": "ybb/participants"}, "template": "participants/nope"}, 404, "unknown_template"),
])
def test_bad_source_requests_answer_in_the_error_shape(client, keys, ybb, body, status, code) -> None:
    response = client.post("/api/v1/exports", json=body, headers=auth(keys.a))
    assert response.status_code == status, response.json
    assert response.json["code"] == code
    assert set(response.json) >= {"code", "status", "message", "errors", "request_id"}


def test_a_database_that_is_down_is_a_503_in_the_error_shape(client, keys, monkeypatch) -> None:
    connections.dispose_all()
    monkeypatch.setenv("SOURCE_YBB_URL", "mysql+pymysql://reader:pw-not-shown@127.0.0.1:1/ybb")
    response = client.post("/api/v1/exports", json={"source": {"name": "ybb/participants"}}, headers=auth(keys.a))
    assert response.status_code == 503 and response.json["code"] == "source_unavailable"
    assert response.json["request_id"] and "pw-not-shown" not in response.get_data(as_text=True)


def test_an_unconfigured_connection_is_a_503_naming_the_settings(client, keys, monkeypatch) -> None:
    for name in ("SOURCE_YBB_URL", "DB_HOST", "DB_USER"):
        monkeypatch.delenv(name, raising=False)
    response = client.post("/api/v1/exports", json={"source": {"name": "ybb/participants"}}, headers=auth(keys.a))
    assert response.status_code == 503 and response.json["code"] == "source_not_configured"
    assert "DB_HOST" in response.json["message"]


def test_the_openapi_document_describes_sources(client) -> None:
    spec = client.get("/api/v1/openapi.json").json
    assert "/api/v1/sources" in spec["paths"]
    assert "/api/ybb/db/export/{export_type}" in spec["paths"]
    assert "source" in spec["components"]["schemas"]["ExportRequest"]["properties"]

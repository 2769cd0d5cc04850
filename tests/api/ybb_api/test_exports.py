"""The exports resource on the bare app (no Nginx), against an in-process Dask cluster."""
from __future__ import annotations

from jobfactory import make_job

import io
import time

import openpyxl
import pytest

from support import wait_for

COLUMNS = [
    {"field": "name", "header": "Name", "type": "string"},
    {"field": "score", "header": "Score", "type": "number"},
]
RECORDS = [{"name": f"Person {i}", "score": i / 4} for i in range(120)]  # 3 partitions of 50


def auth(key: str) -> dict:
    return {"X-API-Key": key}


def _if_state(job: dict, state: str) -> dict | None:
    """The job if it is in `state` (for wait_for), else None."""
    return job if job["state"] == state else None


@pytest.mark.parametrize("inline_max_rows", [1000, 0], ids=["in-the-api", "on-the-cluster"])
def test_small_export_is_synchronous_and_reads_back(client, keys, app, inline_max_rows: int) -> None:
    app.extensions["ybb_service"].settings.INLINE_MAX_ROWS = inline_max_rows
    response = client.post("/api/v1/exports", json={"columns": COLUMNS, "records": RECORDS}, headers=auth(keys.a))
    assert response.status_code == 201, response.json
    job = response.json
    assert job["state"] == "succeeded" and job["rows"] == 120 and job["rows_total"] == 120
    assert response.headers["Location"].endswith(f"/api/v1/exports/{job['id']}")

    download = client.get(f"/api/v1/exports/{job['id']}/file", headers=auth(keys.a))
    assert download.status_code == 200
    assert download.headers["Content-Disposition"].startswith('attachment; filename="export.xlsx"')
    sheet = openpyxl.load_workbook(io.BytesIO(download.data), read_only=True).worksheets[0]
    rows = [list(r) for r in sheet.iter_rows(values_only=True)]
    assert rows[0] == ["Name", "Score"]
    assert rows[1:] == [[r["name"], r["score"]] for r in RECORDS]


def test_async_mode_answers_202_and_status_reaches_succeeded(client, keys, cluster) -> None:
    response = client.post("/api/v1/exports", json={"columns": COLUMNS, "records": RECORDS, "mode": "async",
                                                    "format": "csv"}, headers=auth(keys.a))
    assert response.status_code == 202
    assert response.json["state"] in {"queued", "running", "succeeded"}
    job_id = response.json["id"]
    status = wait_for(lambda: _if_state(client.get(f"/api/v1/exports/{job_id}", headers=auth(keys.a)).json,
                                        "succeeded"), timeout=20, message="the export did not succeed")
    assert status["progress"] == 100
    text = client.get(f"/api/v1/exports/{job_id}/file", headers=auth(keys.a)).data.decode()
    assert text.splitlines()[0] == "Name,Score"
    assert len(text.splitlines()) == 121


BAD_RECORDS = [{"name": "ok", "score": 1}] * 60 + [{"name": "bad", "score": "not a number"}]


def test_invalid_records_in_a_sync_export_are_a_422_naming_rows_and_fields(client, keys) -> None:
    response = client.post("/api/v1/exports", json={"columns": COLUMNS, "records": BAD_RECORDS},
                           headers=auth(keys.a))
    assert response.status_code == 422
    assert response.json["code"] == "invalid_records"
    assert response.json["errors"][0]["row"] == 60 and response.json["errors"][0]["field"] == "score"


def test_invalid_records_in_an_async_export_fail_the_job(client, keys) -> None:
    response = client.post("/api/v1/exports", json={"columns": COLUMNS, "records": BAD_RECORDS, "mode": "async"},
                           headers=auth(keys.a))
    job_id = response.json["id"]
    job = wait_for(lambda: _if_state(client.get(f"/api/v1/exports/{job_id}", headers=auth(keys.a)).json, "failed"),
                   timeout=20, message="the export did not fail")
    assert job["error"]["code"] == "invalid_records"
    assert job["error"]["errors"][0] == {**job["error"]["errors"][0], "row": 60, "field": "score"}


def test_idempotency_key_returns_the_same_job(client, keys) -> None:
    body = {"columns": COLUMNS, "records": RECORDS[:3]}
    headers = {**auth(keys.a), "Idempotency-Key": "order-export-7"}
    first = client.post("/api/v1/exports", json=body, headers=headers).json
    second = client.post("/api/v1/exports", json=body, headers=headers).json
    assert first["id"] == second["id"]
    other_tenant = client.post("/api/v1/exports", json=body, headers={**auth(keys.b), "Idempotency-Key": "order-export-7"})
    assert other_tenant.json["id"] != first["id"]


def test_an_idempotency_key_reused_for_another_request_is_a_422(client, keys) -> None:
    headers = {**auth(keys.a), "Idempotency-Key": "order-export-8"}
    first = client.post("/api/v1/exports", json={"columns": COLUMNS, "records": RECORDS[:3]}, headers=headers)
    reused = client.post("/api/v1/exports", json={"columns": COLUMNS, "records": RECORDS[:4]}, headers=headers)
    assert first.status_code == 201
    assert reused.status_code == 422 and reused.json["code"] == "idempotency_key_reused" and reused.json["request_id"]


def test_other_tenant_gets_404_for_status_file_and_cancel(client, keys) -> None:
    job = client.post("/api/v1/exports", json={"columns": COLUMNS, "records": RECORDS[:2]}, headers=auth(keys.a)).json
    for method, path in (("get", ""), ("get", "/file"), ("delete", "")):
        response = getattr(client, method)(f"/api/v1/exports/{job['id']}{path}", headers=auth(keys.b))
        assert response.status_code == 404 and response.json["code"] == "not_found"
    assert client.get(f"/api/v1/exports/{job['id']}", headers=auth(keys.admin)).status_code == 200


def test_read_only_key_cannot_create(client, keys) -> None:
    response = client.post("/api/v1/exports", json={"columns": COLUMNS, "records": []}, headers=auth(keys.read_only))
    assert response.status_code == 403 and response.json["code"] == "forbidden"


@pytest.mark.parametrize("headers", [{}, {"X-API-Key": "wrong"}, {"Authorization": "Bearer wrong"}, {"Authorization": "Basic x"}])
def test_missing_or_wrong_key_is_401(client, headers) -> None:
    response = client.get("/api/v1/templates", headers=headers)
    assert response.status_code == 401
    assert set(response.json) == {"code", "status", "message", "errors", "request_id"}


def test_bearer_token_is_accepted(client, keys) -> None:
    assert client.get("/api/v1/templates", headers={"Authorization": f"Bearer {keys.a}"}).status_code == 200


def test_key_added_to_the_file_works_without_restart(client, keys) -> None:
    from ybb_api.keys import create_key

    new_key = create_key(keys.path, "tenant-c")
    assert client.get("/api/v1/templates", headers=auth(new_key)).status_code == 200


def test_download_before_success_is_409(client, keys, app) -> None:
    app.extensions["ybb_service"].store.create(make_job(id="pending1", tenant="tenant-a", created_at=0,
                                                        expires_at=9e12))
    response = client.get("/api/v1/exports/pending1/file", headers=auth(keys.a))
    assert response.status_code == 409 and response.json["code"] == "not_ready"


def test_expired_download_is_410(client, keys, app) -> None:
    app.extensions["ybb_service"].store.create(make_job(id="old1", tenant="tenant-a", state="expired", created_at=0,
                                                        expires_at=1))
    response = client.get("/api/v1/exports/old1/file", headers=auth(keys.a))
    assert response.status_code == 410 and response.json["code"] == "expired"


def test_cancelled_export_leaves_no_files(client, keys, app, cluster) -> None:
    from pathlib import Path

    records = [{"name": f"Person {i}", "score": i} for i in range(3000)]  # 60 partitions
    job = client.post("/api/v1/exports", json={"columns": COLUMNS, "records": records, "mode": "async"},
                      headers=auth(keys.a)).json
    cancelled = client.delete(f"/api/v1/exports/{job['id']}", headers=auth(keys.a))
    assert cancelled.status_code == 200 and cancelled.json["state"] == "cancelled"
    directory = Path(app.config["DATA_DIR"]) / "jobs" / job["id"]
    # Tasks already running when it was cancelled finish, then clean up. Only this job's tasks:
    # the session's cluster may still hold other tests' (their keys name their job).
    # (list() copies the keys at once: the scheduler runs in another thread.)
    wait_for(lambda: not [k for k in list(cluster.scheduler.tasks) if job["id"] in str(k)] and not directory.exists(),
             timeout=20, message=lambda: f"tasks of the cancelled job remain, or {directory} does")
    time.sleep(0.5)  # deliberately lets time pass: nothing writes there later
    assert not directory.exists()
    assert client.get(f"/api/v1/exports/{job['id']}", headers=auth(keys.a)).json["state"] == "cancelled"
    again = client.delete(f"/api/v1/exports/{job['id']}", headers=auth(keys.a))
    assert again.status_code == 409 and again.json["code"] == "already_finished"

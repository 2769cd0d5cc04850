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


# -- records parsed while the body is read (issue 17) ---------------------------------------------

def _job_folders(app) -> list[str]:
    from pathlib import Path

    jobs_dir = Path(app.config["DATA_DIR"]) / "jobs"
    return sorted(p.name for p in jobs_dir.iterdir()) if jobs_dir.exists() else []


def test_records_before_or_after_the_other_keys_make_the_same_export(client, keys, app) -> None:
    import json

    records = [{"name": f"P{i}", "score": i} for i in range(130)]
    first = json.dumps({"records": records, "columns": COLUMNS, "format": "csv", "filename": "a"}, indent=1)
    last = json.dumps({"filename": "b", "format": "csv", "columns": COLUMNS, "records": records})
    texts = []
    for body in (first, last):
        response = client.post("/api/v1/exports", data=body, content_type="application/json", headers=auth(keys.a))
        assert response.status_code == 201, response.json
        assert response.json["rows"] == 130 and response.json["rows_total"] == 130
        texts.append(client.get(f"/api/v1/exports/{response.json['id']}/file", headers=auth(keys.a)).data)
    assert texts[0] == texts[1] and len(texts[0].splitlines()) == 131


@pytest.mark.parametrize(("body", "status", "code"), [
    ({"template": "participants/nope"}, 404, "unknown_template"),
    ({"columns": COLUMNS, "colour": "red"}, 422, "validation_error"),
    ({"columns": COLUMNS, "filters": [{"field": "shoe_size", "op": "eq", "value": 1}]}, 422, "unknown_field"),
    ({"columns": COLUMNS, "upload": True}, 422, "validation_error"),
    ({"source": {"name": "ybb/participants"}}, 422, "validation_error"),
])
def test_a_refused_create_request_leaves_no_partitions(client, keys, app, body: dict, status: int, code: str) -> None:
    response = client.post("/api/v1/exports", json={**body, "records": RECORDS * 3}, headers=auth(keys.a))
    assert response.status_code == status and response.json["code"] == code, response.json
    assert _job_folders(app) == []


def test_broken_json_or_a_non_object_far_into_the_records_leaves_no_partitions(client, keys, app) -> None:
    import json

    head = json.dumps({"columns": COLUMNS, "records": RECORDS * 20})[:-2]  # 2,400 records: many groups
    broken = client.post("/api/v1/exports", data=head + ', {"name": tru}]}', content_type="application/json",
                         headers=auth(keys.a))
    assert broken.status_code == 400 and broken.json["code"] == "invalid_json"
    not_object = client.post("/api/v1/exports", data=head + ', 7, {"name": "x"}]}', content_type="application/json",
                             headers=auth(keys.a))
    assert not_object.status_code == 422 and "Record 2400 is not an object." in str(not_object.json["errors"])
    # A broken body is a 400 even after a record that is not an object, as with a whole-body parse.
    both = client.post("/api/v1/exports", data=head + ', 7, {"name": tru}]}', content_type="application/json",
                       headers=auth(keys.a))
    assert both.status_code == 400
    app.extensions["ybb_service"].settings.MAX_RECORDS_PER_REQUEST = 1000
    too_many = client.post("/api/v1/exports", data=head + "]}", content_type="application/json",
                           headers=auth(keys.a))
    assert too_many.status_code == 413 and too_many.json["code"] == "too_many_records"
    assert _job_folders(app) == []


def test_a_big_async_export_is_written_as_partitions_while_it_arrives(client, keys, app) -> None:
    from pathlib import Path

    records = [{"name": f"Person {i}", "score": i} for i in range(2_345)]
    response = client.post("/api/v1/exports", json={"columns": COLUMNS, "records": records, "mode": "async",
                                                    "format": "csv"}, headers=auth(keys.a))
    assert response.status_code == 202
    job_id = response.json["id"]
    assert _job_folders(app) == [job_id] and response.json["rows_total"] == 2_345
    job = wait_for(lambda: _if_state(client.get(f"/api/v1/exports/{job_id}", headers=auth(keys.a)).json,
                                     "succeeded"), timeout=30, message="the export did not succeed")
    assert job["rows"] == 2_345
    text = client.get(f"/api/v1/exports/{job_id}/file", headers=auth(keys.a)).data.decode().splitlines()
    assert text[1] == "Person 0,0" and text[-1] == "Person 2344,2344"
    assert not (Path(app.config["DATA_DIR"]) / "jobs" / job_id / "input").exists()


def test_a_retry_of_a_big_body_finds_its_job_and_a_cached_one_leaves_nothing(client, keys, app) -> None:
    records = [{"name": f"Person {i}", "score": i} for i in range(1_500)]
    body = {"columns": COLUMNS, "records": records, "mode": "async", "format": "csv"}
    headers = {**auth(keys.a), "Idempotency-Key": "big-7"}
    first = client.post("/api/v1/exports", json=body, headers=headers)
    again = client.post("/api/v1/exports", json=body, headers=headers)
    assert first.status_code == 202 and again.json["id"] == first.json["id"]
    other = client.post("/api/v1/exports", json={**body, "records": [*records[:-1], {"name": "x", "score": 1}]},
                        headers=headers)
    assert other.status_code == 422 and other.json["code"] == "idempotency_key_reused"
    assert _job_folders(app) == [first.json["id"]]

    small = {"columns": COLUMNS, "records": RECORDS[:5], "format": "csv"}
    made = client.post("/api/v1/exports", json=small, headers=auth(keys.a)).json
    cached = client.post("/api/v1/exports", json=small, headers=auth(keys.a)).json
    assert cached["id"] == made["id"] and len(_job_folders(app)) == 2


def test_a_job_of_the_previous_release_matches_any_retry_of_its_key(client, keys, app) -> None:
    """Its request digest was made from the whole body and cannot be compared: trusted."""
    app.extensions["ybb_service"].store.create(make_job(id="old7", tenant="tenant-a", idempotency_key="k-old",
                                                        request_digest="ab" * 32))
    response = client.post("/api/v1/exports", json={"columns": COLUMNS, "records": RECORDS[:2]},
                           headers={**auth(keys.a), "Idempotency-Key": "k-old"})
    assert response.json["id"] == "old7"


def test_the_openapi_document_still_describes_records(client) -> None:
    schemas = client.get("/api/v1/openapi.json").json["components"]["schemas"]
    request = next(s for name, s in schemas.items() if name.startswith("ExportRequest"))
    assert "records" in request["properties"] and "array of objects" in request["properties"]["records"]["description"]


def test_the_memory_of_a_create_request_does_not_grow_with_its_body(client, keys, app, monkeypatch) -> None:
    """Bodies of ~4 and ~15 MB: the API's Python allocations at their peak are the same, ~11 MiB
    (a group of records, and orjson's working memory while it parses one); parsed whole, they
    were ~15 times the body."""
    import tracemalloc

    import orjson

    service = app.extensions["ybb_service"]
    service.settings.PARTITION_ROWS = 5_000
    monkeypatch.setattr(service, "_client", lambda: None)
    monkeypatch.setattr(service, "_submit", lambda *args: None)  # measure the request, not the export
    record = {f"field_{n}": f"value {n} " * 3 for n in range(20)}
    client.post("/api/v1/exports", json={"columns": COLUMNS, "records": RECORDS[:2]}, headers=auth(keys.a))  # warm
    peaks = []
    for rows in (5_000, 20_000):
        body = orjson.dumps({"columns": [{"field": f"field_{n}"} for n in range(20)], "mode": "async",
                             "records": [{**record, "id": i} for i in range(rows)]})
        stream = io.BytesIO(body)  # made before the measurement: what a socket would hand over
        tracemalloc.start()
        try:
            before = tracemalloc.get_traced_memory()[0]
            response = client.post("/api/v1/exports", input_stream=stream, content_length=len(body),
                                   content_type="application/json", headers=auth(keys.a))
            peaks.append(tracemalloc.get_traced_memory()[1] - before)
        finally:
            tracemalloc.stop()
        assert response.status_code == 202 and response.json["rows_total"] == rows, response.json
    small, big = peaks
    assert big < small + 3 * 2**20 and big < len(body), \
        f"peaks {small / 2**20:.1f} and {big / 2**20:.1f} MiB for bodies of ~4 and {len(body) / 2**20:.1f} MiB"

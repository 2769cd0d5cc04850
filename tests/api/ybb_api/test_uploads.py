"""Batched upload: create empty, append batches (JSON or NDJSON), commit."""
from __future__ import annotations

import io

import orjson
from python_calamine import CalamineWorkbook

from support import wait_for

COLUMNS = [{"field": "n", "header": "N", "type": "integer"}, {"field": "name", "header": "Name", "type": "string"}]


def _ended(job: dict) -> dict | None:
    """The job if it has ended (for wait_for), else None."""
    return job if job["state"] in {"succeeded", "failed"} else None


def test_batches_make_one_file_with_every_row_in_order(client, keys) -> None:
    headers = {"X-API-Key": keys.a}
    created = client.post("/api/v1/exports", json={"columns": COLUMNS, "upload": True, "expected_rows": 230},
                          headers=headers)
    assert created.status_code == 201 and created.json["state"] == "awaiting_records"
    job_id = created.json["id"]
    assert created.json["links"]["commit"].endswith(f"/{job_id}/commit")

    rows = [{"n": i, "name": f"row {i}"} for i in range(230)]
    first = client.post(f"/api/v1/exports/{job_id}/records", json=rows[:120], headers=headers)
    assert first.status_code == 200 and first.json == {"id": job_id, "state": "awaiting_records",
                                                       "rows_total": 120, "batches": 1}
    ndjson = b"\n".join(orjson.dumps(r) for r in rows[120:200]) + b"\n"
    second = client.post(f"/api/v1/exports/{job_id}/records", data=ndjson,
                         headers={**headers, "Content-Type": "application/x-ndjson"})
    assert second.json["rows_total"] == 200
    client.post(f"/api/v1/exports/{job_id}/records", json=rows[200:], headers=headers)

    committed = client.post(f"/api/v1/exports/{job_id}/commit", headers=headers)
    assert committed.status_code == 202
    job = wait_for(lambda: _ended(client.get(f"/api/v1/exports/{job_id}", headers=headers).json), timeout=20,
                   message="the committed upload did not end")
    assert job["state"] == "succeeded" and job["rows"] == 230
    content = client.get(f"/api/v1/exports/{job_id}/file", headers=headers).data
    sheet = CalamineWorkbook.from_filelike(io.BytesIO(content)).get_sheet_by_index(0).to_python()
    assert sheet[1:] == [[r["n"], r["name"]] for r in rows]


def test_row_count_mismatch_and_no_records_after_commit(client, keys) -> None:
    headers = {"X-API-Key": keys.a}
    job_id = client.post("/api/v1/exports", json={"columns": COLUMNS, "upload": True, "expected_rows": 3},
                         headers=headers).json["id"]
    client.post(f"/api/v1/exports/{job_id}/records", json=[{"n": 1, "name": "a"}], headers=headers)
    mismatch = client.post(f"/api/v1/exports/{job_id}/commit", headers=headers)
    assert mismatch.status_code == 422 and mismatch.json["code"] == "row_count_mismatch"
    assert mismatch.json["errors"] == {"expected_rows": 3, "received_rows": 1}
    client.post(f"/api/v1/exports/{job_id}/records", json=[{"n": 2, "name": "b"}, {"n": 3, "name": "c"}],
                headers=headers)
    assert client.post(f"/api/v1/exports/{job_id}/commit", headers=headers).status_code == 202
    late = client.post(f"/api/v1/exports/{job_id}/records", json=[{"n": 4, "name": "d"}], headers=headers)
    assert late.status_code == 409 and late.json["code"] == "not_accepting_records"


def test_upload_needs_columns_and_rejects_bad_batches(client, keys) -> None:
    headers = {"X-API-Key": keys.a}
    assert client.post("/api/v1/exports", json={"upload": True}, headers=headers).status_code == 422
    job_id = client.post("/api/v1/exports", json={"columns": COLUMNS, "upload": True}, headers=headers).json["id"]
    broken = client.post(f"/api/v1/exports/{job_id}/records", data=b"[{",
                         headers={**headers, "Content-Type": "application/json"})
    assert broken.status_code == 400 and broken.json["code"] == "invalid_json"
    not_objects = client.post(f"/api/v1/exports/{job_id}/records", json=[1, 2], headers=headers)
    assert not_objects.status_code == 422
    other_tenant = client.post(f"/api/v1/exports/{job_id}/records", json=[], headers={"X-API-Key": keys.b})
    assert other_tenant.status_code == 404


def test_cancel_an_upload_removes_its_files(client, keys, app) -> None:
    headers = {"X-API-Key": keys.a}
    job_id = client.post("/api/v1/exports", json={"columns": COLUMNS, "upload": True}, headers=headers).json["id"]
    client.post(f"/api/v1/exports/{job_id}/records", json=[{"n": 1, "name": "a"}], headers=headers)
    from pathlib import Path

    directory = Path(app.config["DATA_DIR"]) / "jobs" / job_id
    assert any(directory.rglob("part-*"))
    cancelled = client.delete(f"/api/v1/exports/{job_id}", headers=headers)
    assert cancelled.status_code == 200 and cancelled.json["state"] == "cancelled"
    assert not directory.exists()


def test_a_batch_that_is_not_utf8_is_a_400(client, keys) -> None:
    job = client.post("/api/v1/exports", json={"columns": [{"field": "n", "type": "string"}], "upload": True},
                      headers={"X-API-Key": keys.a}).json
    for content_type in ("application/json", "application/x-ndjson"):
        response = client.post(f"/api/v1/exports/{job['id']}/records", data=b'[{"n": "\xff\xfe"}]',
                               headers={"X-API-Key": keys.a, "Content-Type": content_type})
        assert response.status_code == 400 and response.json["code"] == "invalid_json", response.json


def test_a_batch_that_fails_to_be_stored_leaves_nothing_and_counts_nothing(client, keys, app, monkeypatch) -> None:
    """Disk full in the middle of a batch (issue 13, item 9): 503, no partition of it stays, its
    rows are not counted, and the upload can go on and commit with every row."""
    headers = {"X-API-Key": keys.a}
    job_id = client.post("/api/v1/exports", json={"columns": COLUMNS, "upload": True, "expected_rows": 150},
                         headers=headers).json["id"]
    rows = [{"n": i, "name": f"row {i}"} for i in range(150)]
    assert client.post(f"/api/v1/exports/{job_id}/records", json=rows[:50], headers=headers).status_code == 200

    import ybb_engine.partitions as partitions

    real_dumps, calls = partitions._dumps, []

    def full_disk(records):  # noqa: ANN001, ANN202  the second partition of the batch hits a full disk
        calls.append(len(records))
        if len(calls) == 2:
            raise OSError(28, "No space left on device")
        return real_dumps(records)

    monkeypatch.setattr(partitions, "_dumps", full_disk)
    failed = client.post(f"/api/v1/exports/{job_id}/records", json=rows[50:], headers=headers)
    assert failed.status_code == 503 and failed.json["code"] == "storage_unavailable"
    monkeypatch.setattr(partitions, "_dumps", real_dumps)
    status = client.get(f"/api/v1/exports/{job_id}", headers=headers).json
    assert status["rows_total"] == 50
    mismatch = client.post(f"/api/v1/exports/{job_id}/commit", headers=headers)
    assert mismatch.status_code == 422 and mismatch.json["code"] == "row_count_mismatch"
    input_dir = app.extensions["ybb_service"].layout.input_dir(job_id)
    assert sorted(p.name for p in input_dir.iterdir()) == ["part-00000-0000050.json"]

    assert client.post(f"/api/v1/exports/{job_id}/records", json=rows[50:], headers=headers).status_code == 200
    assert client.post(f"/api/v1/exports/{job_id}/commit", headers=headers).status_code == 202
    job = wait_for(lambda: _ended(client.get(f"/api/v1/exports/{job_id}", headers=headers).json), timeout=20,
                   message="the upload did not end")
    assert job["state"] == "succeeded" and job["rows"] == 150
    book = CalamineWorkbook.from_filelike(io.BytesIO(
        client.get(f"/api/v1/exports/{job_id}/file", headers=headers).data))
    assert [r[0] for r in book.get_sheet_by_index(0).to_python()[1:]] == list(range(150))


def test_a_commit_while_a_batch_is_being_stored_is_refused(client, keys, app) -> None:
    headers = {"X-API-Key": keys.a}
    job_id = client.post("/api/v1/exports", json={"columns": COLUMNS, "upload": True},
                         headers=headers).json["id"]
    store = app.extensions["ybb_service"].store
    assert store.reserve_batch(job_id, 1) == 0  # another worker process is writing a batch now
    refused = client.post(f"/api/v1/exports/{job_id}/commit", headers=headers)
    assert refused.status_code == 409 and refused.json["code"] == "batch_in_flight"
    assert client.get(f"/api/v1/exports/{job_id}", headers=headers).json["state"] == "awaiting_records"
    store.finish_batch(job_id, 0, stored=False)
    assert client.post(f"/api/v1/exports/{job_id}/commit", headers=headers).status_code == 202

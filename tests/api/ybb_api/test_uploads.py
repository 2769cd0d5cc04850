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


# -- batches parsed while they are read (issue 17) -----------------------------------------------

def _upload(client, keys, **fields) -> str:
    return client.post("/api/v1/exports", json={"columns": COLUMNS, "upload": True, **fields},
                       headers={"X-API-Key": keys.a}).json["id"]


def _input_names(app, job_id: str) -> list[str]:
    input_dir = app.extensions["ybb_service"].layout.input_dir(job_id)
    return sorted(p.name for p in input_dir.iterdir()) if input_dir.exists() else []


def test_ndjson_with_crlf_blank_lines_and_no_last_line_break(client, keys, app) -> None:
    headers = {"X-API-Key": keys.a, "Content-Type": "application/x-ndjson"}
    job_id = _upload(client, keys)
    rows = [{"n": i, "name": f"row {i}"} for i in range(120)]
    body = b"\r\n".join(orjson.dumps(r) for r in rows[:60]) + b"\r\n\r\n  \n" + b"\n".join(
        orjson.dumps(r) for r in rows[60:])
    answer = client.post(f"/api/v1/exports/{job_id}/records", data=body, headers=headers)
    assert answer.status_code == 200 and answer.json["rows_total"] == 120, answer.json
    assert _input_names(app, job_id) == ["part-00000-0000050.json", "part-00001-0000050.json",
                                         "part-00002-0000020.json"]


def test_a_batch_broken_far_into_it_stores_nothing_and_says_where(client, keys, app) -> None:
    headers = {"X-API-Key": keys.a}
    job_id = _upload(client, keys)
    good = client.post(f"/api/v1/exports/{job_id}/records", json=[{"n": 1, "name": "a"}], headers=headers)
    assert good.json["rows_total"] == 1
    lines = [orjson.dumps({"n": i, "name": "x" * 200}).decode() for i in range(3_000)]  # ~600 kB: many groups
    body = "[\n" + ",\n".join(lines) + ',\n{"n": tru}]'
    broken = client.post(f"/api/v1/exports/{job_id}/records", data=body,
                         headers={**headers, "Content-Type": "application/json"})
    assert broken.status_code == 400 and broken.json["code"] == "invalid_json"
    assert "(line 3002)" in broken.json["message"], broken.json["message"]
    ndjson = "\n".join(lines) + "\n{broken\n"
    broken = client.post(f"/api/v1/exports/{job_id}/records", data=ndjson,
                         headers={**headers, "Content-Type": "application/x-ndjson"})
    assert broken.status_code == 400 and broken.json["code"] == "invalid_json"
    not_object = client.post(f"/api/v1/exports/{job_id}/records", data="\n".join(lines) + "\n[1]\n",
                             headers={**headers, "Content-Type": "application/x-ndjson"})
    assert not_object.status_code == 422 and not_object.json["errors"] == {"records": {"3000": ["Not an object."]}}
    assert client.get(f"/api/v1/exports/{job_id}", headers=headers).json["rows_total"] == 1
    assert _input_names(app, job_id) == ["part-00000-0000001.json"]  # no batch folder left either


def test_a_batch_that_is_not_an_array_is_a_422(client, keys) -> None:
    job_id = _upload(client, keys)
    for body in (b'{"n": 1}', b"5", b'"x"'):
        answer = client.post(f"/api/v1/exports/{job_id}/records", data=body,
                             headers={"X-API-Key": keys.a, "Content-Type": "application/json"})
        assert answer.status_code == 422 and answer.json["message"] == "The body must be an array of record objects."
    empty = client.post(f"/api/v1/exports/{job_id}/records", data=b"",
                        headers={"X-API-Key": keys.a, "Content-Type": "application/json"})
    assert empty.status_code == 400 and empty.json["code"] == "invalid_json"


def test_a_batch_for_a_job_that_takes_no_more_is_refused_before_its_body_is_read(app, keys) -> None:
    import json

    from werkzeug.test import EnvironBuilder

    client = app.test_client()
    job_id = _upload(client, keys)
    assert client.post(f"/api/v1/exports/{job_id}/commit", headers={"X-API-Key": keys.a}).status_code == 202

    class Exploding:
        def read(self, *args: object) -> bytes:
            raise AssertionError("the body was read")

        readline = read

    environ = EnvironBuilder(path=f"/api/v1/exports/{job_id}/records", method="POST", headers={
        "X-API-Key": keys.a, "Content-Type": "application/json", "Content-Length": "50000000"}).get_environ()
    environ["wsgi.input"] = Exploding()
    statuses: list[str] = []
    body = b"".join(app(environ, lambda status, headers, exc_info=None: statuses.append(status)))
    assert statuses[0].startswith("409") and json.loads(body)["code"] == "not_accepting_records"


def test_the_memory_of_a_batch_does_not_grow_with_its_body(client, keys, app) -> None:
    """As for a create request (test_exports): the same peak for ~4 and ~15 MB."""
    import tracemalloc

    app.extensions["ybb_service"].settings.PARTITION_ROWS = 5_000
    record = {f"field_{n}": f"value {n} " * 3 for n in range(20)}
    job_id = _upload(client, keys)
    peaks, body = [], b""
    for rows, content_type in ((5_000, "application/json"), (20_000, "application/json"),
                               (20_000, "application/x-ndjson")):
        records = [{**record, "id": i} for i in range(rows)]
        if content_type == "application/json":
            body = orjson.dumps(records)
        else:
            body = b"\n".join(orjson.dumps(r) for r in records)
        del records
        stream = io.BytesIO(body)
        tracemalloc.start()
        try:
            before = tracemalloc.get_traced_memory()[0]
            answer = client.post(f"/api/v1/exports/{job_id}/records", input_stream=stream, content_length=len(body),
                                 content_type=content_type, headers={"X-API-Key": keys.a})
            peaks.append(tracemalloc.get_traced_memory()[1] - before)
        finally:
            tracemalloc.stop()
        assert answer.status_code == 200, answer.json
    small, big, ndjson = peaks
    assert big < small + 3 * 2**20 and max(big, ndjson) < len(body), [round(p / 2**20, 1) for p in peaks]

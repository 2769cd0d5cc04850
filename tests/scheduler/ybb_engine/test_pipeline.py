"""The Dask graph of an export on a local cluster: prepare → plan → scatter → render → write."""
from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from distributed import Client
from python_calamine import CalamineWorkbook

from ybb_engine import fastexport, pipeline, samples, tasks
from ybb_engine.export import combine_partitions, prepare_partition, write_export
from ybb_engine.jobstore import SqliteJobStore
from ybb_engine.partitions import write_partitions
from ybb_engine.spec import ExportSpec, build_spec
from ybb_engine.templates import load_templates

REGISTRY = load_templates()


@pytest.fixture
def client(cluster):
    with Client(cluster.scheduler_address, set_as_default=False) as client:
        yield client


def _job(tmp_path: Path, records: list, request: dict, rows_per_partition: int = 70):
    spec = build_spec(request, REGISTRY, records[:100]).to_dict()
    store = SqliteJobStore(tmp_path / "jobs.sqlite3")
    job_id = f"job{time.monotonic_ns()}"
    directory = tmp_path / "jobs" / job_id
    parts = write_partitions(records, directory / "input", rows_per_partition)
    now = time.time()
    store.create({"id": job_id, "tenant": "t", "state": "queued", "format": spec["format"], "filename": "out",
                  "spec": spec, "partitions": len(parts), "rows_total": len(records), "created_at": now,
                  "expires_at": now + 3600})
    return store, job_id, spec, parts, str(directory / f"out.{spec['format']}")


def _reference(records: list, spec: dict, path: Path, rows_per_partition: int = 70):
    export_spec = ExportSpec.from_dict(json.loads(json.dumps(spec)))
    parts = [prepare_partition(records[i:i + rows_per_partition], export_spec, i)
             for i in range(0, len(records), rows_per_partition)]
    return write_export(combine_partitions(parts, export_spec), export_spec, path)


def _sheets(path) -> dict:
    book = CalamineWorkbook.from_path(str(path))
    return {n: book.get_sheet_by_name(n).to_python() for n in book.sheet_names}


@pytest.mark.parametrize("request_", [
    {"template": "participants/standard"},
    {"template": "participants/standard", "sort": ["nationality", "-created_at"], "dedupe": "email"},
    {"template": "participants/detailed", "options": {"split_by": "category"}, "sort": ["full_name"]},
    {"template": "participants/standard", "format": "csv", "sort": ["-id"]},
    {"template": "participants/standard", "format": "json", "dedupe": ["nationality"]},
])
def test_graph_matches_the_reference(client, tmp_path, request_):
    records = samples.participants(450, seed=7)
    store, job_id, spec, parts, out_path = _job(tmp_path, records, request_)
    outcome = pipeline.submit_export(client, store.path, job_id, spec, parts, out_path).result(timeout=120)
    assert outcome["state"] == "succeeded", store.get(job_id)
    job = store.get(job_id)
    reference = _reference(records, spec, tmp_path / f"ref.{spec['format']}")
    assert job["rows"] == reference.rows and job["warnings"] == reference.warnings
    assert job["rows_done"] == 450 and job["started_at"] and job["finished_at"]
    assert job["size_bytes"] == Path(out_path).stat().st_size
    if spec["format"] == "xlsx":
        assert _sheets(out_path) == _sheets(tmp_path / "ref.xlsx")
    else:
        assert Path(out_path).read_bytes() == (tmp_path / f"ref.{spec['format']}").read_bytes()
    directory = Path(out_path).parent
    assert not (directory / "input").exists() and not (directory / "work").exists()
    assert pipeline.task_state(client, pipeline.write_key(job_id)) in ("memory", "released", "forgotten", None)


def test_empty_export_and_no_partitions(client, tmp_path):
    store, job_id, spec, parts, out_path = _job(tmp_path, [], {"template": "participants/summary"})
    assert parts == []
    outcome = pipeline.submit_export(client, store.path, job_id, spec, parts, out_path).result(timeout=60)
    assert outcome["state"] == "succeeded"
    assert list(_sheets(out_path).values()) == [[["Full Name", "Email", "Country", "Category", "Form Status"]]]


def test_invalid_records_fail_the_job_with_the_rows(client, tmp_path):
    records = samples.participants(200, seed=1)
    records[150]["id"] = "not a number"
    store, job_id, spec, parts, out_path = _job(tmp_path, records, {"template": "participants/standard"})
    outcome = pipeline.submit_export(client, store.path, job_id, spec, parts, out_path).result(timeout=60)
    job = store.get(job_id)
    assert outcome == {"state": "failed", "code": "invalid_records"} and job["state"] == "failed"
    assert job["error_detail"] == [{"row": 150, "field": "id", "message": "'not a number' is not a number"}]
    assert not Path(out_path).exists()


def test_retried_tasks_are_safe(tmp_path):
    """A task run twice (its worker died after it finished) gives the same files; a retried
    final task never touches a succeeded file."""
    records = samples.participants(300, seed=3)
    store, job_id, spec, parts, out_path = _job(tmp_path, records, {"template": "participants/standard",
                                                                     "sort": ["-id"]}, 100)
    prepared = [tasks.prepare(store.path, job_id, p.path, spec, p.offset, out_path) for p in parts]
    again = tasks.prepare(store.path, job_id, parts[0].path, spec, parts[0].offset, out_path)
    assert again.path == prepared[0].path and again.rows == prepared[0].rows
    the_plan = tasks.plan(store.path, job_id, prepared, spec, out_path)
    scattered = [tasks.scatter(store.path, job_id, the_plan, i, out_path) for i in range(len(parts))]
    assert scattered == [tasks.scatter(store.path, job_id, the_plan, i, out_path) for i in range(len(parts))]
    rendered = [tasks.render(store.path, job_id, the_plan, None, i, spec, out_path) for i in range(len(parts))]
    twice = tasks.render(store.path, job_id, the_plan, None, 0, spec, out_path)
    assert twice.chunks == rendered[0].chunks
    work = fastexport.work_dir(out_path)
    assert not list(work.glob("*.tmp")), "no temporary file is left behind"
    assert tasks.write(store.path, job_id, rendered, spec, out_path, the_plan) == {"state": "succeeded", "rows": 300}
    before = Path(out_path).read_bytes()
    assert tasks.write(store.path, job_id, rendered, spec, out_path, the_plan) == {"state": "succeeded"}
    assert Path(out_path).read_bytes() == before
    assert [row[0] for row in list(_sheets(out_path).values())[0][1:]] == list(range(300, 0, -1))


def test_cancel_removes_every_task(client, tmp_path):
    records = samples.participants(100, seed=2)
    store, job_id, spec, parts, out_path = _job(tmp_path, records, {"template": "participants/standard"})
    keys = pipeline.all_keys(job_id, len(parts))
    assert pipeline.write_key(job_id) in keys and pipeline.prepare_key(job_id, 1) in keys
    assert len(keys) == 3 + 3 * len(parts)
    pipeline.cancel_export(client, job_id, len(parts))  # nothing submitted: a no-op


def test_retried_fused_tasks_are_safe(tmp_path, monkeypatch):
    """The fused graph (no filter, sort, dedupe, split or currency): a partition's task run twice
    writes the same chunks; sheet overflow is decided per partition from its input offset."""
    from ybb_engine import writer_xlsx

    monkeypatch.setattr(writer_xlsx, "MAX_ROWS_PER_SHEET", 120)
    records = samples.participants(300, seed=6)
    store, job_id, spec, parts, out_path = _job(tmp_path, records, {"template": "participants/summary"}, 100)
    assert fastexport.can_fuse(ExportSpec.from_dict(spec))
    fused = [tasks.prepare_render(store.path, job_id, p.path, spec, p.offset, i, out_path) for i, p in enumerate(parts)]
    again = tasks.prepare_render(store.path, job_id, parts[1].path, spec, parts[1].offset, 1, out_path)
    assert again.rendered.chunks == fused[1].rendered.chunks and [s for s, _ in again.rendered.chunks] == [0, 1]
    assert tasks.write(store.path, job_id, fused, spec, out_path, None) == {"state": "succeeded", "rows": 300}
    sheets = _sheets(out_path)
    assert list(sheets) == ["Participants (Summary)", "Participants (Summary) (2)", "Participants (Summary) (3)"]
    assert [len(rows) - 1 for rows in sheets.values()] == [120, 120, 60]
    assert [r[1] for rows in sheets.values() for r in rows[1:]] == [r["email"] for r in records]
    before = Path(out_path).read_bytes()
    assert tasks.write(store.path, job_id, fused, spec, out_path, None) == {"state": "succeeded"}
    assert Path(out_path).read_bytes() == before

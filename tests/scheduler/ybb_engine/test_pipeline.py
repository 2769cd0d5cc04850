"""The Dask graph of an export on a local cluster: prepare → plan → scatter → render → write."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from distributed import Client
from python_calamine import CalamineWorkbook

import samples
from ybb_engine import fastexport, pipeline, tasks
from reference.export import combine_partitions, prepare_partition, write_export
from jobfactory import make_job
from ybb_engine.jobstore import SqliteJobStore
from ybb_engine.layout import DataLayout
from ybb_engine.partitions import write_partitions
from ybb_engine.spec import ExportSpec, build_spec
from ybb_engine.templates import load_templates

REGISTRY = load_templates()


@pytest.fixture
def client(cluster):
    with Client(cluster.scheduler_address, set_as_default=False) as client:
        yield client


def _job(tmp_path: Path, records: list, request: dict, rows_per_partition: int = 70):
    """A queued job in a store under tmp_path, its records in partitions; returns (store, ref, parts)."""
    spec = build_spec(request, REGISTRY, records[:100]).to_dict()
    layout = DataLayout(tmp_path)
    store = SqliteJobStore(layout.sqlite_path)
    job = make_job(format=spec["format"], filename=f"out.{spec['format']}", spec=spec, rows_total=len(records))
    parts = write_partitions(records, layout.input_dir(job.id), rows_per_partition)
    job.partitions = len(parts)
    store.create(job)
    return store, tasks.JobRef(job.id, store.location, str(tmp_path), spec, job.filename), parts


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
    store, ref, parts = _job(tmp_path, records, request_)
    spec = ref.spec
    outcome = pipeline.submit_export(client, ref, parts).result(timeout=120)
    assert outcome["state"] == "succeeded", store.get(ref.job_id)
    job = store.get(ref.job_id)
    reference = _reference(records, spec, tmp_path / f"ref.{spec['format']}")
    assert job.rows == reference.rows and job.warnings == reference.warnings
    assert job.rows_done == 450 and job.started_at and job.finished_at
    assert job.size_bytes == ref.out_path.stat().st_size
    if spec["format"] == "xlsx":
        assert _sheets(ref.out_path) == _sheets(tmp_path / "ref.xlsx")
    else:
        assert ref.out_path.read_bytes() == (tmp_path / f"ref.{spec['format']}").read_bytes()
    layout = ref.layout
    assert not layout.input_dir(ref.job_id).exists() and not layout.work_dir(ref.job_id).exists()
    assert pipeline.final_task_state(client, ref.job_id) in ("memory", "released", "forgotten", None)


def test_empty_export_and_no_partitions(client, tmp_path):
    store, ref, parts = _job(tmp_path, [], {"template": "participants/summary"})
    assert parts == []
    outcome = pipeline.submit_export(client, ref, parts).result(timeout=60)
    assert outcome["state"] == "succeeded"
    assert list(_sheets(ref.out_path).values()) == [[["Name", "Email", "Country", "Category", "Status"]]]


def test_invalid_records_fail_the_job_with_the_rows(client, tmp_path):
    records = samples.participants(200, seed=1)
    records[150]["id"] = "not a number"
    store, ref, parts = _job(tmp_path, records, {"template": "participants/standard"})
    outcome = pipeline.submit_export(client, ref, parts).result(timeout=60)
    job = store.get(ref.job_id)
    assert outcome == {"state": "failed", "code": "invalid_records"} and job.state == "failed"
    assert job.error_detail == [{"row": 150, "field": "id", "message": "'not a number' is not a number"}]
    assert not ref.out_path.exists()


def test_retried_tasks_are_safe(tmp_path):
    """A task run twice (its worker died after it finished) gives the same files; a retried
    final task never touches a succeeded file."""
    records = samples.participants(300, seed=3)
    store, ref, parts = _job(tmp_path, records, {"template": "participants/standard", "sort": ["-id"]}, 100)
    prepared = [tasks.prepare(tasks.Step(ref, i, p)) for i, p in enumerate(parts)]
    again = tasks.prepare(tasks.Step(ref, 0, parts[0]))
    assert again.path == prepared[0].path and again.rows == prepared[0].rows
    the_plan = tasks.plan(ref, prepared)
    scattered = [tasks.scatter(tasks.Step(ref, i), the_plan) for i in range(len(parts))]
    assert scattered == [tasks.scatter(tasks.Step(ref, i), the_plan) for i in range(len(parts))]
    rendered = [tasks.render(tasks.Step(ref, i), the_plan, None) for i in range(len(parts))]
    twice = tasks.render(tasks.Step(ref, 0), the_plan, None)
    assert twice.chunks == rendered[0].chunks
    assert not list(ref.work.glob("*.tmp")), "no temporary file is left behind"
    assert tasks.write(ref, rendered, the_plan) == {"state": "succeeded", "rows": 300}
    before = ref.out_path.read_bytes()
    assert tasks.write(ref, rendered, the_plan) == {"state": "succeeded"}
    assert ref.out_path.read_bytes() == before
    assert [row[0] for row in list(_sheets(ref.out_path).values())[0][1:]] == list(range(300, 0, -1))


def test_cancel_removes_every_task(client, tmp_path):
    records = samples.participants(100, seed=2)
    store, ref, parts = _job(tmp_path, records, {"template": "participants/standard"})
    keys = pipeline.all_keys(ref.job_id, len(parts))
    assert pipeline.write_key(ref.job_id) in keys and len(set(keys)) == len(keys)
    assert len(keys) == 3 + 3 * len(parts)
    pipeline.cancel_export(client, ref.job_id, len(parts))  # nothing submitted: a no-op


def test_retried_fused_tasks_are_safe(tmp_path, monkeypatch):
    """The fused graph (no filter, sort, dedupe, split or currency): a partition's task run twice
    writes the same chunks; sheet overflow is decided per partition from its input offset."""
    from ybb_engine import ooxml

    monkeypatch.setattr(ooxml, "MAX_ROWS_PER_SHEET", 120)
    records = samples.participants(300, seed=6)
    store, ref, parts = _job(tmp_path, records, {"template": "participants/summary"}, 100)
    assert fastexport.can_fuse(ExportSpec.from_dict(ref.spec))
    fused = [tasks.prepare_render(tasks.Step(ref, i, p)) for i, p in enumerate(parts)]
    again = tasks.prepare_render(tasks.Step(ref, 1, parts[1]))
    assert again.rendered.chunks == fused[1].rendered.chunks and [s for s, _ in again.rendered.chunks] == [0, 1]
    assert tasks.write(ref, fused, None) == {"state": "succeeded", "rows": 300}
    sheets = _sheets(ref.out_path)
    assert list(sheets) == ["Participants (Summary)", "Participants (Summary) (2)", "Participants (Summary) (3)"]
    assert [len(rows) - 1 for rows in sheets.values()] == [120, 120, 60]
    assert [r[1] for rows in sheets.values() for r in rows[1:]] == [r["email"] for r in records]
    before = ref.out_path.read_bytes()
    assert tasks.write(ref, fused, None) == {"state": "succeeded"}
    assert ref.out_path.read_bytes() == before

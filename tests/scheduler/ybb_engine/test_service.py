"""ExportService, the engine's front door, without Flask: lifecycle rules and the races it closes."""
from __future__ import annotations

import time
from pathlib import Path

import pytest
from distributed import LocalCluster

from jobfactory import make_job
from support import wait_for
from ybb_engine import pipeline, tasks
from ybb_engine.errors import EngineError
from ybb_engine.lifecycle import TRANSITIONS, State
from ybb_engine.partitions import PartitionFile
from ybb_engine.service import ExportRequest, ExportService
from ybb_engine.settings import EngineSettings

COLUMNS = [{"field": "name", "header": "Name", "type": "string"}]


@pytest.fixture
def service(tmp_path: Path, cluster) -> ExportService:
    settings = EngineSettings(DATA_DIR=str(tmp_path / "data"), DASK_SCHEDULER_ADDRESS=cluster.scheduler_address,
                              PARTITION_ROWS=2)
    return ExportService.from_settings(settings)


def test_a_small_export_succeeds_inline_and_its_file_is_served(service: ExportService) -> None:
    job = service.create(ExportRequest(tenant="t", body={"columns": COLUMNS, "records": [{"name": "a"}] * 5,
                                                         "format": "csv"}))
    assert job.state is State.SUCCEEDED and job.rows == 5 and job.partitions == 3
    file = service.file(job)
    assert file.path.read_text().splitlines() == ["Name"] + ["a"] * 5
    assert file.relative_path == f"jobs/{job.id}/file/export.csv" and file.content_type.startswith("text/csv")
    assert not service.layout.input_dir(job.id).exists() and not service.layout.work_dir(job.id).exists()


def test_every_state_but_expired_can_expire_and_ended_states_only_expire() -> None:
    assert all(State.EXPIRED in TRANSITIONS[s] for s in State if s is not State.EXPIRED)
    for ended in (State.SUCCEEDED, State.FAILED, State.CANCELLED):
        assert TRANSITIONS[ended] == {State.EXPIRED}
    assert State.sources_of(State.RUNNING) == (State.QUEUED,)


def test_cancel_of_a_job_that_succeeded_meanwhile_keeps_its_file(service: ExportService) -> None:
    """The job was read as running; it succeeded before the cancel's move: 409, the file stays."""
    job = service.store.create(make_job(state="running", filename="x.csv", format="csv"))
    path = service.layout.file_path(job.id, job.filename)
    path.parent.mkdir(parents=True)
    path.write_text("Name\n")
    service.store.transition(job.id, (State.RUNNING,), state=State.SUCCEEDED)
    with pytest.raises(EngineError) as raised:
        service.cancel(job)  # the stale, running view of the job
    assert raised.value.status == 409 and raised.value.code == "already_finished"
    assert path.exists() and service.get(job.id).state is State.SUCCEEDED


def test_a_cached_result_whose_file_is_gone_is_not_handed_out(service: ExportService) -> None:
    body = {"columns": COLUMNS, "records": [{"name": "a"}], "format": "csv"}
    first = service.create(ExportRequest(tenant="t", body=body))
    assert service.create(ExportRequest(tenant="t", body=body)).id == first.id
    service.layout.remove_job(first.id)
    again = service.create(ExportRequest(tenant="t", body=body))
    assert again.id != first.id and service.file(again).path.exists()


def test_a_failure_while_creating_leaves_no_job_folder(service: ExportService, monkeypatch) -> None:
    def broken(job):  # noqa: ANN001, ANN202
        raise OSError("disk full")

    monkeypatch.setattr(service.store, "create", broken)
    with pytest.raises(OSError):
        service.create(ExportRequest(tenant="t", body={"columns": COLUMNS, "records": [{"name": "a"}] * 3}))
    assert not service.layout.jobs_dir.exists() or not any(service.layout.jobs_dir.iterdir())


def test_sweep_expires_old_jobs_and_removes_their_files(service: ExportService) -> None:
    job = service.store.create(make_job(state="succeeded", expires_at=1.0))
    service.layout.file_path(job.id, job.filename).parent.mkdir(parents=True)
    assert service.sweep() == {"expired": 1, "lost": 0, "deleted": 0, "orphans": 0}
    assert service.get(job.id).state is State.EXPIRED and not service.layout.job_dir(job.id).exists()
    with pytest.raises(EngineError) as raised:
        service.file(service.get(job.id))
    assert raised.value.status == 410


def test_a_job_running_past_its_time_limit_is_failed(service: ExportService) -> None:
    service.settings.JOB_TIME_LIMIT = 60
    job = service.store.create(make_job(state="running", created_at=time.time() - 600,
                                        started_at=time.time() - 120))
    checked = service.check_lost(job)
    assert checked.state is State.FAILED and checked.error_code == "time_limit_exceeded"


def test_a_task_of_a_job_past_its_time_limit_fails_it_and_does_no_work(service: ExportService) -> None:
    job = service.store.create(make_job(state="running", started_at=time.time() - 120))
    ref = tasks.JobRef(job.id, service.store.location, str(service.layout.root), {}, job.filename, time_limit=60)
    outcome = tasks.prepare(tasks.Step(ref, 0, PartitionFile("/nonexistent/part.json", 1, 0)))
    assert isinstance(outcome, tasks.Failed) and outcome.code == "time_limit_exceeded"
    assert service.get(job.id).error_code == "time_limit_exceeded"
    again = tasks.prepare(tasks.Step(ref, 0, PartitionFile("/nonexistent/part.json", 1, 0)))
    assert isinstance(again, tasks.Failed)  # an ended job's steps do nothing (no read of the missing file)


def test_a_queued_job_with_no_worker_connected_fails_with_a_clear_code(tmp_path: Path) -> None:
    with LocalCluster(n_workers=0, processes=False, dashboard_address=":0") as empty:
        service = ExportService.from_settings(EngineSettings(
            DATA_DIR=str(tmp_path / "data"), DASK_SCHEDULER_ADDRESS=empty.scheduler_address, NO_WORKERS_GRACE=60))
        assert service.readiness()["cluster"] == {"ok": False, "workers": 0, "min_workers": 1}
        job = service.create(ExportRequest(tenant="t", body={"columns": COLUMNS, "records": [{"name": "a"}],
                                                             "mode": "async"}))
        assert job.state is State.QUEUED
        assert service.check_lost(job).state is State.QUEUED  # not yet: workers may be starting
        wait_for(lambda: pipeline.final_task_state(service.cluster.client(), job.id), timeout=10,
                 message="the scheduler never got the export's tasks")
        service.store.update(job.id, created_at=time.time() - 120)
        failed = service.check_lost(service.get(job.id))
        assert failed.state is State.FAILED and failed.error_code == "no_workers"

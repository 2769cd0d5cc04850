"""ExportService.sweep on both job stores: it expires jobs and removes their files, deletes the
rows of jobs expired JOB_ROW_RETENTION_HOURS ago (in batches), and removes job folders that
have no row once they are an hour old; it answers {expired, lost, deleted, orphans}."""
from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from jobfactory import make_job
from jobstores import store_url  # noqa: F401  (the fixture, over both backends)
from ybb_engine import service as service_module
from ybb_engine.lifecycle import State
from ybb_engine.service import ExportService
from ybb_engine.settings import EngineSettings

HOUR = 3600.0
DAY = 24 * HOUR


@pytest.fixture
def service(tmp_path: Path, store_url: str, cluster) -> Iterator[ExportService]:
    settings = EngineSettings(DATA_DIR=str(tmp_path / "data"), DASK_SCHEDULER_ADDRESS=cluster.scheduler_address,
                              JOB_STORE_URL=store_url if "://" in store_url else None, JOB_ROW_RETENTION_HOURS=168)
    yield ExportService.from_settings(settings)


def _folder(service: ExportService, job_id: str, age: float = 0.0) -> Path:
    """A job folder with a file in it, last changed `age` seconds ago."""
    path = service.layout.file_path(job_id, "x.xlsx")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("x")
    then = time.time() - age
    for changed in (path, path.parent, service.layout.job_dir(job_id)):
        os.utime(changed, (then, then))
    return service.layout.job_dir(job_id)


def test_a_job_expires_then_its_row_is_deleted_after_the_retention(service: ExportService) -> None:
    now = time.time()
    job = service.store.create(make_job(state="succeeded", created_at=now - 2 * DAY, expires_at=now - DAY,
                                        finished_at=now - 2 * DAY + 60))
    folder = _folder(service, job.id)
    assert service.sweep(now) == {"expired": 1, "lost": 0, "deleted": 0, "orphans": 0}
    assert service.get(job.id).state is State.EXPIRED and not folder.exists()
    assert service.sweep(now + 5 * DAY) == {"expired": 0, "lost": 0, "deleted": 0, "orphans": 0}  # 6 days: kept
    assert service.sweep(now + 6 * DAY + 1) == {"expired": 0, "lost": 0, "deleted": 1, "orphans": 0}
    assert service.store.get(job.id) is None


def test_a_job_is_never_deleted_by_the_pass_that_expires_it(service: ExportService) -> None:
    """A sweeper that was down for weeks: the job is seen expired (410) until the next pass."""
    now = time.time()
    job = service.store.create(make_job(state="failed", created_at=now - 30 * DAY, expires_at=now - 29 * DAY))
    assert service.sweep(now) == {"expired": 1, "lost": 0, "deleted": 0, "orphans": 0}
    assert service.get(job.id).state is State.EXPIRED
    assert service.sweep(now)["deleted"] == 1 and service.store.get(job.id) is None


def test_rows_are_deleted_in_batches_and_their_folders_with_them(service: ExportService, monkeypatch) -> None:
    monkeypatch.setattr(service_module, "DELETE_BATCH", 3)
    now = time.time()
    old = [service.store.create(make_job(state="expired", created_at=now - 30 * DAY, expires_at=now - 20 * DAY + n))
           for n in range(8)]
    recent = service.store.create(make_job(state="expired", created_at=now - 2 * DAY, expires_at=now - DAY))
    active = service.store.create(make_job(state="succeeded", created_at=now - 30 * DAY, expires_at=now + DAY))
    leftover = _folder(service, old[0].id)
    assert service.sweep(now) == {"expired": 0, "lost": 0, "deleted": 8, "orphans": 0}
    assert all(service.store.get(job.id) is None for job in old) and not leftover.exists()
    assert service.store.get(recent.id) is not None and service.store.get(active.id) is not None


def test_no_row_is_deleted_with_a_retention_of_zero(service: ExportService) -> None:
    service.settings.JOB_ROW_RETENTION_HOURS = 0
    job = service.store.create(make_job(state="expired", created_at=1.0, expires_at=2.0))
    assert service.sweep()["deleted"] == 0 and service.store.get(job.id) is not None


def test_orphan_folders_older_than_an_hour_are_removed(service: ExportService) -> None:
    known = service.store.create(make_job(state="succeeded"))
    kept_with_row = _folder(service, known.id, age=3 * HOUR)
    orphan = _folder(service, "0123456789abcdef0123456789abcdef", age=2 * HOUR)
    being_created = _folder(service, "fedcba9876543210fedcba9876543210", age=10 * 60)
    # an old folder whose input/ is still being written (its newest entry is recent)
    writing = _folder(service, "abcdefabcdefabcdefabcdefabcdefab", age=2 * HOUR)
    (writing / "input").mkdir()
    # an old folder with a partition file still being written, deeper down
    deep = _folder(service, "0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f", age=2 * HOUR)
    (deep / "input").mkdir()
    part = deep / "input" / "part-00000.json"
    part.write_text("[")
    for changed in (deep / "input", deep):
        os.utime(changed, (time.time() - 2 * HOUR,) * 2)
    stray_file = service.layout.jobs_dir / "notes.txt"
    stray_file.write_text("not a job folder")
    os.utime(stray_file, (1.0, 1.0))
    assert service.sweep() == {"expired": 0, "lost": 0, "deleted": 0, "orphans": 1}
    assert not orphan.exists()
    assert kept_with_row.exists() and being_created.exists() and writing.exists() and stray_file.exists()
    assert deep.exists()
    os.utime(part, (time.time() - 2 * HOUR,) * 2)  # its writer is gone
    assert service.sweep()["orphans"] == 1 and not deep.exists()


def test_a_sweep_of_an_empty_data_dir(service: ExportService) -> None:
    assert not service.layout.jobs_dir.exists()
    assert service.sweep() == {"expired": 0, "lost": 0, "deleted": 0, "orphans": 0}

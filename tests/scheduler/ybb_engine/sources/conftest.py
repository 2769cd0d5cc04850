"""An ExportService wired to the in-process Dask cluster, and the YBB MariaDB as the `ybb`
connection (SOURCE_YBB_URL, the read-only user)."""
from __future__ import annotations

import csv
import io
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from ybb_engine.service import ExportRequest, ExportService, Job, State
from ybb_engine.settings import EngineSettings


@pytest.fixture
def ybb_env(ybb_source) -> Any:
    return ybb_source


@pytest.fixture
def service(tmp_path: Path, cluster, ybb_env) -> ExportService:
    settings = EngineSettings(DATA_DIR=str(tmp_path / "data"), DASK_SCHEDULER_ADDRESS=cluster.scheduler_address,
                              SOURCE_PARTITION_ROWS=400, SOURCE_MAX_ROWS=100_000, ENV="development")
    return ExportService.from_settings(settings)


@pytest.fixture
def export(service) -> Callable[..., Job]:
    """Create a source export and wait until it has ended."""
    def run(name: str, params: dict | None = None, **body: Any) -> Job:
        job = service.create(ExportRequest(tenant="t", body={"source": {"name": name, "params": params or {}},
                                                             **body}))
        job = service.wait(job, 60)
        assert job.ended, job
        return job
    return run


@pytest.fixture
def csv_rows(service) -> Callable[[Job], list[list[str]]]:
    def read(job: Job) -> list[list[str]]:
        assert job.state is State.SUCCEEDED, (job.error_code, job.error_message)
        text = service.file(job).path.read_text(encoding="utf-8-sig")
        return list(csv.reader(io.StringIO(text)))
    return read


@pytest.fixture
def admin_query(ybb_env) -> Callable[[str], list[tuple]]:
    """The oracle: SQL written in the test, run as the admin user."""
    engine = sa.create_engine(ybb_env.server.admin_url)

    def run(sql: str, **values: Any) -> list[tuple]:
        with engine.connect() as connection:
            return [tuple(row) for row in connection.execute(sa.text(sql), values)]
    yield run
    engine.dispose()

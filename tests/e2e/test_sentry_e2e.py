"""Sentry on the real stack, against a local receiver: an error in a view (the admin debug
route) and one in an export task on a Dask worker arrive with their tags and without any
personal data."""
from __future__ import annotations

import uuid

import pytest
from distributed import Client

from jobfactory import make_job
from ybb_engine import tasks
from ybb_engine.jobstore import SqliteJobStore
from ybb_engine.layout import DataLayout
from ybb_engine.partitions import PartitionFile

pytestmark = pytest.mark.e2e

RECORD = {"id": 1, "full_name": "Ayu Lestari", "email": "ayu.lestari@example.org", "phone": "+62 812-3456-7890",
          "address": "Jl. Merdeka No. 17, Bandung"}
PERSONAL = ["Ayu Lestari", "ayu.lestari@example.org", "+62 812-3456-7890", "812-3456-7890", "Jl. Merdeka No. 17"]


def assert_nothing_personal(raw: bytes, api_key: str) -> None:
    for value in [*PERSONAL, api_key]:
        assert value.encode() not in raw, f"{value!r} reached Sentry"


def test_an_error_in_a_view_reaches_sentry_tagged_and_scrubbed(stack, api, base_url, sentry_receiver) -> None:
    request_id = f"sentry-view-{uuid.uuid4().hex[:8]}"
    exported = api.post(f"{base_url}/api/v1/exports", json={"format": "csv", "records": [RECORD]})
    assert exported.status_code == 201, exported.text
    failed = api.post(f"{base_url}/api/v1/admin/debug/error", headers={"X-Request-Id": request_id},
                      json={"template": "participants/standard", "format": "xlsx", "records": [RECORD]})
    assert failed.status_code == 500 and failed.json()["request_id"] == request_id

    event = sentry_receiver.wait_for_event(lambda e: e.get("tags", {}).get("request_id") == request_id)
    assert event["exception"]["values"][-1]["type"] == "DeliberateError"
    assert event["tags"]["service"] == "api" and event["tags"]["tenant"] == "dev"
    assert event["tags"]["template"] == "participants/standard" and event["tags"]["format"] == "xlsx"
    assert event["release"] == "1.0.0" and event["environment"] == "e2e"
    assert "data" not in event["request"] and "X-Api-Key" not in event["request"].get("headers", {})
    assert_nothing_personal(sentry_receiver.raw_bytes(), api.headers["X-API-Key"])


def test_an_error_in_an_export_task_reaches_sentry_from_the_worker(stack, api, sentry_receiver) -> None:
    """The real prepare task, on a real worker, reads a corrupt partition file: an unexpected error."""
    layout = DataLayout(stack.config.data_dir)
    store = SqliteJobStore(layout.sqlite_path)
    job_id = uuid.uuid4().hex
    store.create(make_job(id=job_id, tenant="dev", template="participants/standard", format="csv",
                          filename="x.csv", request_id=f"sentry-task-{job_id[:8]}", partitions=1, rows_total=1))
    part = layout.input_dir(job_id) / "part-00000.ndjson"
    part.parent.mkdir(parents=True)
    part.write_text('{"full_name": "Ayu Lestari", "email": "ayu.lestari@exa\n')  # cut off: not JSON
    step = tasks.Step(tasks.JobRef(job_id, store.location, str(layout.root), {}, "x.csv"), 0,
                      PartitionFile(str(part), 1, 0))

    with Client(stack.config.scheduler_address, security=stack.dask_security(), set_as_default=False,
                timeout=20) as client:
        outcome = client.submit(tasks.prepare, step, pure=False).result(timeout=60)
    assert isinstance(outcome, tasks.Failed) and outcome.code == "export_failed"

    event = sentry_receiver.wait_for_event(lambda e: e.get("tags", {}).get("job_id") == job_id)
    assert event["tags"]["service"] == "worker" and event["tags"]["task"] == "prepare"
    assert event["tags"]["tenant"] == "dev" and event["tags"]["format"] == "csv"
    assert event["tags"]["request_id"] == f"sentry-task-{job_id[:8]}"
    assert event["exception"]["values"][-1]["type"] == "JSONDecodeError"
    assert event["release"] == "1.0.0"
    assert store.get(job_id).state == "failed"
    assert_nothing_personal(sentry_receiver.raw_bytes(), api.headers["X-API-Key"])

"""Sentry: off without a DSN; events from views and from export tasks carry request_id,
tenant, job id, template and format; no request body, record value or API key leaves."""
from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Iterator

import pytest
import sentry_sdk

from support_sentry import SentryReceiver
from ybb_api import create_app
from ybb_api.config import TestingConfig
from ybb_engine import tasks
from jobfactory import make_job
from ybb_engine.partitions import PartitionFile
from ybb_engine.telemetry import init_sentry, scrub_event

RECORD = {"full_name": "Ayu Lestari", "email": "ayu.lestari@example.org", "phone": "+62 812-3456-7890",
          "address": "Jl. Merdeka No. 17, Bandung"}
SECRET_VALUES = list(RECORD.values())


def assert_no_personal_data(raw: bytes, *more: str) -> None:
    for value in [*SECRET_VALUES, *more]:
        assert value.encode() not in raw, f"{value!r} reached Sentry"


@pytest.fixture
def receiver() -> Iterator[SentryReceiver]:
    receiver = SentryReceiver().start()
    yield receiver
    sentry_sdk.flush(5)
    sentry_sdk.get_client().close()
    sentry_sdk.get_global_scope().set_client(None)
    receiver.stop()


@pytest.fixture
def sentry_app(tmp_path: Path, keys, cluster, receiver: SentryReceiver):
    return create_app(TestingConfig(
        DATA_DIR=str(tmp_path / "data"), API_KEYS_FILE=str(keys.path), DASK_SCHEDULER_ADDRESS=cluster.scheduler_address,
        SENTRY_DSN=receiver.dsn, SENTRY_ENVIRONMENT="unit-tests", SENTRY_TRACES_SAMPLE_RATE=1.0,
        DEBUG_ERROR_ROUTE=True,
    ))


def test_without_a_dsn_sentry_stays_off() -> None:
    assert init_sentry(None, service="api", release="1.0.0") is False
    assert init_sentry("", service="api", release="1.0.0") is False
    assert not sentry_sdk.get_client().is_active()


def test_scrub_event_removes_bodies_keys_record_values_and_locals() -> None:
    key = "ybb_Zm9vYmFyYmF6cXV4MTIzNDU2Nzg5MA"
    event = {
        "request": {"url": "https://x/api/v1/exports", "method": "POST", "data": {"records": [RECORD]},
                    "query_string": f"email={RECORD['email']}", "cookies": {"s": "1"},
                    "headers": {"X-Api-Key": key, "Authorization": f"Bearer {key}", "User-Agent": "php/8",
                                "X-Request-Id": "r-1"}, "env": {"REMOTE_ADDR": "203.0.113.9"}},
        "user": {"ip_address": "203.0.113.9"},
        "exception": {"values": [{"type": "ValueError", "value": f"bad value '{RECORD['full_name']}' for "
                                  f"{RECORD['email']} at {RECORD['phone']}",
                                  "stacktrace": {"frames": [{"function": "prepare", "vars": {"record": RECORD}}]}}]},
        "logentry": {"message": "row %s", "params": [RECORD["address"]], "formatted": f"row '{RECORD['address']}'"},
        "breadcrumbs": {"values": [{"category": "ybb.engine", "message": f"saw {RECORD['email']}", "data": RECORD},
                                   {"category": "distributed.worker", "message": str(RECORD)}]},
        "extra": {"note": f"key {key}"},
        "tags": {"request_id": "r-1", "tenant": "acme", "job_id": "j-1"},
    }
    scrubbed = scrub_event(event)
    raw = json.dumps(scrubbed).encode()
    assert_no_personal_data(raw, key, "203.0.113.9")
    assert scrubbed["request"]["headers"] == {"User-Agent": "php/8", "X-Request-Id": "r-1"}
    assert scrubbed["exception"]["values"][0]["type"] == "ValueError"
    assert scrubbed["exception"]["values"][0]["value"].startswith("bad value [Filtered] for")
    assert scrubbed["tags"] == {"request_id": "r-1", "tenant": "acme", "job_id": "j-1"}
    assert [c["category"] for c in scrubbed["breadcrumbs"]["values"]] == ["ybb.engine"]


def test_dask_compute_failed_lines_are_dropped() -> None:
    event = {"logger": "distributed.worker", "logentry": {"message": "Compute Failed\nKey: x\nTask: <records>"}}
    assert scrub_event(event) is None


def test_an_error_in_a_view_reaches_sentry_with_tags_and_without_the_body(sentry_app, keys, receiver) -> None:
    sentry_app.config["PROPAGATE_EXCEPTIONS"] = False  # answer 500 as in production, not raise into the test
    client = sentry_app.test_client()
    response = client.post("/api/v1/admin/debug/error", json={"template": "participants/standard", "format": "csv",
                                                               "records": [RECORD]},
                           headers={"X-API-Key": keys.admin, "X-Request-Id": "req-sentry-view"})
    assert response.status_code == 500 and response.json["code"] == "internal_error"
    sentry_sdk.flush(5)
    event = receiver.wait_for_event(lambda e: e.get("tags", {}).get("request_id") == "req-sentry-view")
    assert event["exception"]["values"][-1]["type"] == "DeliberateError"
    assert event["tags"]["tenant"] == "ops" and event["tags"]["service"] == "api"
    assert event["tags"]["template"] == "participants/standard" and event["tags"]["format"] == "csv"
    assert event["release"] == "1.0.0" and event["environment"] == "unit-tests"
    assert "data" not in event["request"]
    transactions = [t for envelope in receiver.all_envelopes() for t in envelope.payloads("transaction")]
    assert transactions, "with a traces sample rate of 1, the request's transaction is sent too"
    assert_no_personal_data(receiver.raw_bytes(), keys.admin)


def test_the_debug_route_is_off_unless_configured(tmp_path: Path, keys) -> None:
    app = create_app(TestingConfig(DATA_DIR=str(tmp_path / "data"), API_KEYS_FILE=str(keys.path)))
    response = app.test_client().get("/api/v1/admin/debug/error", headers={"X-API-Key": keys.admin})
    assert response.status_code == 404
    assert app.test_client().get("/api/v1/admin/debug/error", headers={"X-API-Key": keys.a}).status_code == 403


def test_an_error_in_an_export_task_reaches_sentry_with_the_job(sentry_app, cluster, receiver, tmp_path) -> None:
    """A corrupt partition file makes the real prepare task fail unexpectedly (not an EngineError)."""
    store = sentry_app.extensions["ybb_service"].store
    store.create(make_job(id="job-sentry-1", tenant="acme", template="participants/standard",
                          request_id="req-sentry-job", partitions=1, rows_total=1))
    part = tmp_path / "part-00000.ndjson"
    part.write_text(json.dumps(RECORD)[:-12] + "\n")  # cut off: not JSON any more
    from distributed import Client

    with Client(cluster.scheduler_address, set_as_default=False) as client:
        ref = tasks.JobRef("job-sentry-1", store.location, sentry_app.config["DATA_DIR"], {}, "x.xlsx")
        future = client.submit(tasks.prepare, tasks.Step(ref, 0, PartitionFile(str(part), 1, 0)), pure=False)
        outcome = future.result(timeout=30)
    assert isinstance(outcome, tasks.Failed) and outcome.code == "export_failed"
    sentry_sdk.flush(5)
    event = receiver.wait_for_event(lambda e: e.get("tags", {}).get("job_id") == "job-sentry-1")
    assert event["exception"]["values"][-1]["type"] == "JSONDecodeError"
    assert event["tags"]["task"] == "prepare" and event["tags"]["tenant"] == "acme"
    assert event["tags"]["request_id"] == "req-sentry-job" and event["tags"]["format"] == "xlsx"
    assert event["tags"]["template"] == "participants/standard"
    assert store.get("job-sentry-1").state == "failed"
    assert not [e for e in receiver.events() if "Compute Failed" in json.dumps(e)]
    assert_no_personal_data(receiver.raw_bytes())

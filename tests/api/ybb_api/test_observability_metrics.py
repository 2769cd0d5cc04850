"""/metrics: Prometheus text, local callers or the admin scope; request and job metrics."""
from __future__ import annotations

import time
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from ybb_api import create_app
from ybb_api.config import TestingConfig
from jobfactory import make_job


@pytest.fixture
def metrics_app(tmp_path: Path, keys):
    return create_app(TestingConfig(DATA_DIR=str(tmp_path / "data"), API_KEYS_FILE=str(keys.path)))


def samples(text: str) -> dict[tuple[str, tuple], float]:
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def request_count(text: str, route: str, status: str) -> float:
    return samples(text).get(("ybb_http_requests_total", (("method", "GET"), ("route", route), ("status", status))), 0)


def test_local_callers_get_metrics_and_remote_ones_need_the_admin_key(metrics_app, keys) -> None:
    client = metrics_app.test_client()
    local = client.get("/metrics")
    assert local.status_code == 200 and local.content_type.startswith("text/plain")
    remote = {"REMOTE_ADDR": "203.0.113.9"}
    assert client.get("/metrics", environ_base=remote).status_code == 401
    assert client.get("/metrics", environ_base=remote, headers={"X-API-Key": keys.a}).status_code == 403
    assert client.get("/metrics", environ_base=remote, headers={"X-API-Key": keys.admin}).status_code == 200
    via_proxy = client.get("/metrics", headers={"X-Forwarded-For": "203.0.113.9"})  # Nginx on the same host
    assert via_proxy.status_code == 401


def test_request_counts_and_latency_by_route_and_status(metrics_app) -> None:
    client = metrics_app.test_client()
    before = request_count(client.get("/metrics").get_data(as_text=True), "/health", "200")
    for _ in range(3):
        client.get("/health", buffered=True)
    client.get("/api/v1/templates", buffered=True)
    text = client.get("/metrics").get_data(as_text=True)
    assert request_count(text, "/health", "200") == before + 3
    assert request_count(text, "/api/v1/templates", "401") >= 1
    buckets = samples(text)
    key = ("ybb_http_request_duration_seconds_count", (("method", "GET"), ("route", "/health"), ("status", "200")))
    assert buckets[key] >= 3


def test_job_metrics_come_from_the_store(metrics_app) -> None:
    store = metrics_app.extensions["ybb_service"].store
    now = time.time()
    base = {"tenant": "acme", "format": "csv", "filename": "x.csv", "partitions": 1, "created_at": now}
    store.create(make_job(**base, id="a", state="succeeded", template="payments/detailed", rows=1000,
                          rows_total=1000, size_bytes=5000, started_at=now - 2, finished_at=now))
    store.create(make_job(**base, id="b", state="queued", template=None, rows_total=10))
    store.create(make_job(**base, id="c", state="failed", template="payments/detailed", rows_total=10))
    values = samples(metrics_app.test_client().get("/metrics").get_data(as_text=True))
    assert values[("ybb_jobs", (("state", "succeeded"), ("template", "payments/detailed")))] == 1
    assert values[("ybb_jobs", (("state", "queued"), ("template", "custom")))] == 1
    assert values[("ybb_queue_depth", ())] == 1
    assert values[("ybb_export_duration_seconds_count", (("format", "csv"),))] == 1
    assert values[("ybb_export_duration_seconds_bucket", (("format", "csv"), ("le", "1.0")))] == 0
    assert values[("ybb_export_duration_seconds_bucket", (("format", "csv"), ("le", "2.0")))] == 1
    assert values[("ybb_export_rows_per_second_bucket", (("format", "csv"), ("le", "500.0")))] == 1
    assert values[("ybb_export_bytes_written_total", ())] == 5000
    assert values[("ybb_data_dir_free_bytes", ())] > 0

"""/metrics on the real stack: two Gunicorn workers, one sum; access rules; Dask's metrics."""
from __future__ import annotations

import json
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from support import wait_for

pytestmark = pytest.mark.e2e
HITS = 120


def root_count(text: str) -> float:
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == "ybb_http_requests_total" and sample.labels == {
                    "method": "GET", "route": "/", "status": "200"}:
                return sample.value
    return 0.0


def test_counts_from_both_gunicorn_workers_add_up(stack) -> None:
    gunicorn = f"http://127.0.0.1:{stack.config.api_port}"
    before = root_count(requests.get(f"{gunicorn}/metrics", timeout=10).text)
    marker = uuid.uuid4().hex[:8]

    def hit(n: int) -> int:  # a new connection each time, so both workers accept some (/, not /health:
        # a passing health probe writes no log line, and the log tells which worker answered)
        return requests.get(f"{gunicorn}/", headers={"X-Request-Id": f"metrics-{marker}-{n}",
                                                     "Connection": "close"}, timeout=10).status_code

    with ThreadPoolExecutor(max_workers=8) as pool:
        assert set(pool.map(hit, range(HITS))) == {200}
    after = root_count(requests.get(f"{gunicorn}/metrics", timeout=10).text)
    assert after - before == HITS

    # split("\n"), not splitlines(): logged paths may hold U+2028 and other line breaks of Unicode
    text = (stack.config.var / "log" / "ybb-api.jsonl").read_text()
    lines = [json.loads(line) for line in text.split("\n") if line.strip()]
    pids = {line["pid"] for line in lines if str(line.get("request_id", "")).startswith(f"metrics-{marker}")}
    assert len(pids) == 2, f"expected both Gunicorn workers to answer, got pids {pids}"


def test_through_nginx_metrics_need_the_admin_key(stack, api, base_url) -> None:
    anonymous = requests.get(f"{base_url}/metrics", verify=str(stack.config.cert), timeout=10)
    assert anonymous.status_code == 401
    with_key = api.get(f"{base_url}/metrics", timeout=10)
    assert with_key.status_code == 200
    names = {family.name for family in text_string_to_metric_families(with_key.text)}
    assert {"ybb_http_requests", "ybb_http_request_duration_seconds", "ybb_jobs", "ybb_queue_depth",
            "ybb_export_duration_seconds", "ybb_export_rows_per_second", "ybb_export_bytes_written",
            "ybb_data_dir_free_bytes"} <= names


def test_the_dask_scheduler_serves_its_own_metrics_under_the_prefix(stack) -> None:
    def workers() -> float:
        response = requests.get(f"http://127.0.0.1:{stack.config.dashboard_port}/dask/metrics", timeout=10)
        assert response.status_code == 200
        return sum(s.value for f in text_string_to_metric_families(response.text) for s in f.samples
                   if s.name == "dask_scheduler_workers")

    # Waited for: a worker killed by test_worker_loss.py may still be on its way back.
    wait_for(lambda: workers() >= 2, timeout=60, interval=0.5, message="the scheduler's metrics count < 2 workers")

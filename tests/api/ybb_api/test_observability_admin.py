"""The admin endpoints behind /monitor, the page itself, and `python -m ybb_api.logs`."""
from __future__ import annotations

from jobfactory import make_job

import io
import json
import time
from pathlib import Path

import pytest

from ybb_api import create_app, logs
from ybb_api.config import TestingConfig
from ybb_engine.telemetry import configure_logging, job_context, job_transition


@pytest.fixture
def log_dir(tmp_path: Path) -> Path:
    return tmp_path / "log"


@pytest.fixture
def admin_app(tmp_path: Path, keys, cluster, log_dir: Path):
    return create_app(TestingConfig(DATA_DIR=str(tmp_path / "data"), API_KEYS_FILE=str(keys.path),
                                    DASK_SCHEDULER_ADDRESS=cluster.scheduler_address, LOG_DIR=str(log_dir),
                                    PARTITION_ROWS=50))


@pytest.fixture
def admin(admin_app, keys):
    client = admin_app.test_client()
    client.environ_base["HTTP_X_API_KEY"] = keys.admin
    return client


def export(client, key: str, request_id: str, rows: int = 3) -> dict:
    records = [{"name": f"n{i}", "amount": i} for i in range(rows)]
    response = client.post("/api/v1/exports", json={"format": "csv", "records": records, "mode": "sync"},
                           headers={"X-API-Key": key, "X-Request-Id": request_id}, buffered=True)
    assert response.status_code == 201, response.json
    return response.json


def test_admin_endpoints_need_the_admin_scope_and_are_documented(admin_app, keys) -> None:
    client = admin_app.test_client()
    for path in ("/api/v1/admin/logs", "/api/v1/admin/stats", "/api/v1/admin/status", "/api/v1/admin/jobs",
                 "/api/v1/admin/logs/requests/x"):
        assert client.get(path).status_code == 401
        assert client.get(path, headers={"X-API-Key": keys.a}).status_code == 403
    paths = client.get("/api/v1/openapi.json").json["paths"]
    logs_get = paths["/api/v1/admin/logs"]["get"]
    assert logs_get["summary"].startswith("Search the recent logs")
    assert {p["name"] for p in logs_get["parameters"]} >= {"q", "level", "request_id", "tenant", "since", "until",
                                                          "offset", "limit"}
    assert paths["/api/v1/admin/stats"]["get"]["summary"].startswith("Summaries of the recent logs")


def test_logs_search_story_and_pagination(admin, keys) -> None:
    job = export(admin, keys.a, "req-admin-1")
    export(admin, keys.b, "req-admin-2")
    page = admin.get("/api/v1/admin/logs", query_string={"request_id": "req-admin-1"}).json
    assert page["items"] and all(line["request_id"] == "req-admin-1" for line in page["items"])
    assert {line.get("event") for line in page["items"]} >= {"request", "job"}
    tenant_b = admin.get("/api/v1/admin/logs", query_string={"tenant": "tenant-b"}).json["items"]
    assert tenant_b and all(line["tenant"] == "tenant-b" for line in tenant_b)

    first = admin.get("/api/v1/admin/logs", query_string={"limit": 2}).json
    second = admin.get("/api/v1/admin/logs", query_string={"limit": 2, "offset": 2}).json
    assert first["has_more"] and len(first["items"]) == 2 and first["items"] != second["items"]
    assert first["items"][0]["time"] >= first["items"][1]["time"] >= second["items"][0]["time"]

    story = admin.get("/api/v1/admin/logs/requests/req-admin-1").json
    assert story["job_ids"] == [job["id"]]
    events = [(line.get("event"), line.get("state")) for line in story["lines"]]
    assert ("request", None) in events and ("job", "succeeded") in events
    assert not any(line.get("tenant") == "tenant-b" for line in story["lines"])


def test_logs_filter_by_level_text_and_time(admin, log_dir: Path) -> None:
    admin.get("/no/such/page", buffered=True)
    admin.get("/health", buffered=True)
    found = admin.get("/api/v1/admin/logs", query_string={"q": "no/such", "level": "info"}).json["items"]
    assert [line["path"] for line in found] == ["/no/such/page"]
    assert admin.get("/api/v1/admin/logs", query_string={"level": "error", "q": "no/such"}).json["items"] == []
    future = admin.get("/api/v1/admin/logs", query_string={"since": "2999-01-01T00:00:00Z"}).json
    assert future["items"] == []
    assert admin.get("/api/v1/admin/logs", query_string={"level": "loud"}).status_code == 422


def test_stats_summarise_slow_requests_errors_and_usage(admin, keys) -> None:
    export(admin, keys.a, "req-stats-1", rows=120)
    for _ in range(2):
        admin.get("/api/v1/exports/missing", buffered=True)
    stats = admin.get("/api/v1/admin/stats", query_string={"since": "15m"}).json
    assert stats["requests"] >= 3
    usage = {(u["method"], u["route"]): u for u in stats["endpoint_usage"]}
    assert usage[("POST", "/api/v1/exports")]["count"] == 1
    assert usage[("GET", "/api/v1/exports/<string:job_id>")]["count"] == 2
    patterns = {p["pattern"]: p["count"] for p in stats["error_patterns"]}
    assert patterns["404 not_found on GET /api/v1/exports/<string:job_id>"] == 2
    assert stats["slow_requests"][0]["duration_ms"] >= stats["slow_requests"][-1]["duration_ms"]
    assert len(stats["timeline"]) in (15, 16) and sum(p["requests"] for p in stats["timeline"]) == stats["requests"]
    assert any(p["rows_per_s"] for p in stats["timeline"]) and stats["jobs"]["succeeded"] == 1
    assert admin.get("/api/v1/admin/stats", query_string={"since": "soon"}).status_code == 422


def test_health_probes_stay_out_of_the_statistics(admin_app, admin, keys) -> None:
    probe = admin_app.test_client()  # no key, as a load balancer calls
    for _ in range(5):
        assert probe.get("/health", buffered=True).status_code == 200
        assert probe.get("/health/ready", buffered=True).status_code == 200
    export(admin, keys.a, "req-probes-1")
    stats = admin.get("/api/v1/admin/stats", query_string={"since": "15m"}).json
    assert stats["requests"] == 1 and sum(p["requests"] for p in stats["timeline"]) == 1
    assert [(u["method"], u["route"]) for u in stats["endpoint_usage"]] == [("POST", "/api/v1/exports")]
    assert [r["path"] for r in stats["slow_requests"]] == ["/api/v1/exports"]
    metrics = admin.get("/metrics").get_data(as_text=True)  # Prometheus still counts them, by route
    assert 'route="/health",status="200"' in metrics and 'route="/health/ready",status="200"' in metrics


def test_status_and_jobs_show_live_state(admin, keys) -> None:
    job = export(admin, keys.a, "req-jobs-1", rows=5)
    status = admin.get("/api/v1/admin/status").json
    assert status["status"] == "ok" and status["api"]["version"] == "1.0.0"
    assert status["scheduler"]["workers"] == 2 and len(status["workers"]) == 2
    assert all(w["memory_bytes"] > 0 for w in status["workers"])
    assert status["storage"]["free_bytes"] > 0
    jobs = admin.get("/api/v1/admin/jobs").json
    [shown] = [j for j in jobs["recent"] if j["id"] == job["id"]]
    assert shown["state"] == "succeeded" and shown["rows"] == 5 and shown["progress"] == 100
    assert shown["tenant"] == "tenant-a" and shown["request_id"] == "req-jobs-1" and shown["duration_s"] >= 0
    assert jobs["counts"]["succeeded"] == 1 and jobs["running"] == []


def test_the_page_is_static_and_strict(admin_app) -> None:
    client = admin_app.test_client()
    page = client.get("/monitor", buffered=True)
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and "script-src 'self'" in page.headers["Content-Security-Policy"]
    assert '<script src="/monitor/static/monitor.js"' in html and "<script>" not in html and "style=" not in html
    assert "http://" not in html and "https://" not in html  # no CDN
    for asset in ("monitor.js", "monitor.css"):
        assert client.get(f"/monitor/static/{asset}", buffered=True).status_code == 200


def test_logs_cli_summary_and_search(tmp_path: Path) -> None:
    configure_logging("worker", "info", str(tmp_path))
    with job_context("job-cli", task="write"):
        job_transition(make_job(id="job-cli", tenant="acme", format="csv", rows=100, partitions=1,
                                started_at=time.time() - 1, finished_at=time.time(), request_id="req-cli"),
                       "succeeded")
    out = io.StringIO()
    assert logs.main(["--log-dir", str(tmp_path), "summary", "--since", "1h"], out=out) == 0
    assert "jobs: succeeded 1" in out.getvalue() and "Endpoint usage" in out.getvalue()
    out = io.StringIO()
    assert logs.main(["--log-dir", str(tmp_path), "search", "--request-id", "req-cli"], out=out) == 0
    [line] = [json.loads(text) for text in out.getvalue().splitlines()]
    assert line["job_id"] == "job-cli" and line["state"] == "succeeded"


def test_jobs_overview_shows_a_running_job_with_its_duration_so_far(client, keys, app) -> None:
    import time as _time

    app.extensions["ybb_service"].store.create(make_job(
        id="running1", tenant="tenant-a", state="running", rows_total=10, rows_done=5,
        created_at=_time.time() - 3, started_at=_time.time() - 2))
    overview = client.get("/api/v1/admin/jobs", headers={"X-API-Key": keys.admin}).json
    running = next(j for j in overview["running"] if j["id"] == "running1")
    assert running["progress"] == 50
    assert 1.5 < running["duration_s"] < 60

"""JSON lines: one per request and one per job transition, the same format everywhere,
levels from LOG_LEVEL, a rotating file under LOG_DIR shared by several processes."""
from __future__ import annotations

from jobfactory import make_job

import json
import logging
import multiprocessing
from pathlib import Path

import pytest

from ybb_api import create_app
from ybb_api.config import TestingConfig
from ybb_api.observability.access import client_ip
from ybb_api.observability.settings import _networks
from ybb_engine.telemetry import SharedRotatingFileHandler, configure_logging, job_context, job_transition
from support import free_port


@pytest.fixture
def log_dir(tmp_path: Path) -> Path:
    return tmp_path / "log"


@pytest.fixture
def observed_client(tmp_path: Path, keys, log_dir: Path):
    app = create_app(TestingConfig(DATA_DIR=str(tmp_path / "data"), API_KEYS_FILE=str(keys.path),
                                   LOG_DIR=str(log_dir), LOG_LEVEL="warning"))
    return app.test_client()


def read_lines(log_dir: Path, process: str = "api") -> list[dict]:
    return [json.loads(line) for line in (log_dir / f"ybb-{process}.jsonl").read_text().splitlines()]


def test_one_json_line_per_request_with_every_field(observed_client, keys, log_dir: Path) -> None:
    response = observed_client.get("/api/v1/templates", headers={"X-API-Key": keys.a, "User-Agent": "php-client/1.0",
                                                                 "X-Request-Id": "req-logging-1"}, buffered=True)
    assert response.status_code == 200
    [line] = [line for line in read_lines(log_dir) if line.get("event") == "request"]
    assert line["request_id"] == "req-logging-1"
    assert line["method"] == "GET" and line["path"] == "/api/v1/templates" and line["route"] == "/api/v1/templates"
    assert line["status"] == 200 and line["bytes"] == len(response.data) and line["duration_ms"] > 0
    assert line["tenant"] == "tenant-a" and line["user_agent"] == "php-client/1.0"
    assert line["client_ip"] == "127.0.0.1" and line["level"] == "info" and line["process"] == "api"
    assert line["time"].endswith("Z")


def test_error_answers_log_their_code_and_unknown_paths_one_route(observed_client, log_dir: Path) -> None:
    observed_client.get("/api/v1/exports/nope", buffered=True)
    observed_client.get("/no/such/path/123", buffered=True)
    unauthorized, missing = [line for line in read_lines(log_dir) if line.get("event") == "request"]
    assert unauthorized["status"] == 401 and unauthorized["error_code"] == "unauthorized"
    assert unauthorized["route"] == "/api/v1/exports/<string:job_id>"
    assert missing["status"] == 404 and missing["route"] == "unmatched"


def test_log_level_comes_from_config_but_access_lines_are_always_written(observed_client, log_dir: Path) -> None:
    logging.getLogger("ybb.test").info("an info line, below LOG_LEVEL=warning")
    logging.getLogger("ybb.test").warning("a warning line")
    observed_client.get("/", buffered=True)
    messages = [line["message"] for line in read_lines(log_dir)]
    assert "a warning line" in messages and "an info line, below LOG_LEVEL=warning" not in messages
    assert "GET / 200" in messages


def request_paths(log_dir: Path) -> list[str]:
    path = log_dir / "ybb-api.jsonl"
    return [line["path"] for line in read_lines(log_dir) if line.get("event") == "request"] if path.exists() else []


@pytest.fixture
def probed_app(tmp_path: Path, keys, cluster, log_dir: Path):
    def make(**settings: object):
        return create_app(TestingConfig(DATA_DIR=str(tmp_path / "data"), API_KEYS_FILE=str(keys.path),
                                        DASK_SCHEDULER_ADDRESS=cluster.scheduler_address, LOG_DIR=str(log_dir),
                                        **settings))
    return make


def test_passing_health_probes_write_no_request_line_but_other_requests_do(probed_app, keys, log_dir) -> None:
    client = probed_app().test_client()
    assert client.get("/health", buffered=True).status_code == 200
    assert client.head("/health", buffered=True).status_code == 200
    assert client.get("/health/ready", buffered=True).status_code == 200
    assert client.get("/", buffered=True).status_code == 200
    assert client.get("/api/v1/templates", headers={"X-API-Key": keys.a}, buffered=True).status_code == 200
    assert client.get("/health/", buffered=True).status_code == 404  # not a probe route: logged
    assert request_paths(log_dir) == ["/", "/api/v1/templates", "/health/"]


def test_a_failing_probe_is_logged(tmp_path: Path, keys, log_dir: Path) -> None:
    app = create_app(TestingConfig(DATA_DIR=str(tmp_path / "data"), API_KEYS_FILE=str(keys.path), LOG_DIR=str(log_dir),
                                   DASK_SCHEDULER_ADDRESS=f"tcp://127.0.0.1:{free_port()}", DASK_CONNECT_TIMEOUT=1))
    client = app.test_client()
    assert client.get("/health", buffered=True).status_code == 200
    assert client.get("/health/ready", buffered=True).status_code == 503
    [line] = [line for line in read_lines(log_dir) if line.get("event") == "request"]
    assert (line["path"], line["status"], line["level"]) == ("/health/ready", 503, "error")


@pytest.mark.parametrize("value", [True, "1"])
def test_log_health_probes_logs_them_like_any_request(probed_app, log_dir, value) -> None:
    client = probed_app(LOG_HEALTH_PROBES=value).test_client()
    client.get("/health", buffered=True)
    client.get("/health/ready", buffered=True)
    assert request_paths(log_dir) == ["/health", "/health/ready"]


def test_log_health_probes_setting_defaults_to_off(monkeypatch) -> None:
    monkeypatch.delenv("LOG_HEALTH_PROBES", raising=False)
    assert TestingConfig().LOG_HEALTH_PROBES is False
    monkeypatch.setenv("LOG_HEALTH_PROBES", "1")
    assert TestingConfig().LOG_HEALTH_PROBES is True


def test_client_ip_trusts_forwarded_for_only_from_the_proxy() -> None:
    nginx = _networks("127.0.0.1")
    assert client_ip("127.0.0.1", "203.0.113.9", nginx) == "203.0.113.9"
    assert client_ip("198.51.100.7", "203.0.113.9", nginx) == "198.51.100.7"  # spoofed: not from Nginx
    assert client_ip("127.0.0.1", "10.0.0.1, 203.0.113.9", nginx) == "203.0.113.9"
    assert client_ip("127.0.0.1", None, nginx) == "127.0.0.1"


def test_forwarded_for_from_a_stranger_is_ignored(observed_client, log_dir: Path) -> None:
    observed_client.get("/", headers={"X-Forwarded-For": "203.0.113.9"},
                        environ_base={"REMOTE_ADDR": "198.51.100.7"}, buffered=True)
    observed_client.get("/", headers={"X-Forwarded-For": "203.0.113.9"}, buffered=True)
    stranger, via_nginx = [line["client_ip"] for line in read_lines(log_dir) if line.get("event") == "request"]
    assert (stranger, via_nginx) == ("198.51.100.7", "203.0.113.9")


def test_job_transition_line_and_context_for_the_following_lines(tmp_path: Path) -> None:
    configure_logging("worker", "info", str(tmp_path))
    job = make_job(id="job-1", tenant="acme", template="participants/standard", format="xlsx", rows=2000,
                   partitions=4, started_at=100.0, finished_at=104.0, request_id="req-9", error_code=None)
    with job_context("job-1", task="write"):
        job_transition(job, "succeeded")
        logging.getLogger("ybb.engine").warning("after the transition")
    logging.getLogger("ybb.engine").warning("outside the job")
    transition, after, outside = read_lines(tmp_path, "worker")
    assert transition["event"] == "job" and transition["state"] == "succeeded"
    assert {k: transition[k] for k in ("job_id", "tenant", "template", "format", "rows", "partitions",
                                       "duration_ms", "rows_per_s", "error_code", "request_id", "task")} == {
        "job_id": "job-1", "tenant": "acme", "template": "participants/standard", "format": "xlsx", "rows": 2000,
        "partitions": 4, "duration_ms": 4000.0, "rows_per_s": 500.0, "error_code": None, "request_id": "req-9",
        "task": "write"}
    assert after["job_id"] == "job-1" and after["request_id"] == "req-9" and after["process"] == "worker"
    assert "job_id" not in outside


def test_failed_transition_is_a_warning_with_its_error_code(tmp_path: Path) -> None:
    configure_logging("worker", "info", str(tmp_path))
    job_transition(make_job(id="job-2", tenant="acme", format="csv", rows_done=10, partitions=1, started_at=1.0,
                            finished_at=2.0, error_code="invalid_records"), "failed")
    [line] = read_lines(tmp_path, "worker")
    assert line["level"] == "warning" and line["error_code"] == "invalid_records" and line["rows"] == 10


def _write_lines(path: str, count: int) -> None:
    logger = logging.getLogger(f"ybb.writer.{multiprocessing.current_process().pid}")
    logger.propagate = False
    handler = SharedRotatingFileHandler(Path(path), max_bytes=4096, backups=50)
    handler.setFormatter(logging.Formatter("%(process)d %(message)s" + "x" * 60))
    logger.addHandler(handler)
    for n in range(count):
        logger.error("line %d", n)
    handler.close()


def test_rotating_file_shared_by_processes_loses_no_line(tmp_path: Path) -> None:
    path = tmp_path / "ybb-api.jsonl"
    context = multiprocessing.get_context("fork")
    writers = [context.Process(target=_write_lines, args=(str(path), 150)) for _ in range(3)]
    for writer in writers:
        writer.start()
    for writer in writers:
        writer.join(30)
    files = sorted(tmp_path.glob("ybb-api.jsonl*"))
    lines = [line for f in files if not f.name.endswith(".lock") for line in f.read_text().splitlines()]
    assert len(lines) == 450 and len(set(lines)) == 450
    assert len([f for f in files if not f.name.endswith(".lock")]) > 3  # it did rotate
    assert all(f.stat().st_size <= 4096 for f in files)


def test_job_context_takes_the_job_row_for_its_tags(tmp_path: Path) -> None:
    configure_logging("worker", "info", str(tmp_path))
    job = make_job(id="job-3", tenant="acme", template=None, format="json", request_id="req-3")
    with job_context("job-3", task="prepare", job=job):
        logging.getLogger("ybb.engine").warning("inside")
    [line] = read_lines(tmp_path, "worker")
    assert (line["job_id"], line["tenant"], line["format"], line["request_id"], line["task"]) == (
        "job-3", "acme", "json", "req-3", "prepare")
    assert "template" not in line

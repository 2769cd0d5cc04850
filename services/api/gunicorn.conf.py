"""Gunicorn settings, overridable from the environment.

Logging: Gunicorn's own lines go through the JSON handlers of ybb_engine.telemetry; the
per-request line comes from the app (ybb_api.observability.access), which knows the route,
tenant and request id, so Gunicorn's access log is off.

Concurrency: one request per worker process by default (GUNICORN_THREADS=1), and a worker
takes no more connections than it has threads, so a new request goes to an idle process.
A small export then never waits for the GIL behind another thread's parse of an upload's
50,000 records in the same interpreter; size GUNICORN_WORKERS to the concurrent requests.

Metrics: every worker writes its Prometheus samples to PROMETHEUS_MULTIPROC_DIR (a fresh
temporary directory unless set); /metrics sums them. The directory is emptied at start and
a dead worker's live gauges are dropped in child_exit.
"""
import os
import shutil
import tempfile
import time
from pathlib import Path

from gunicorn.glogging import Logger

bind = os.environ.get("GUNICORN_BIND", "127.0.0.1:8000")
workers = int(os.environ.get("GUNICORN_WORKERS", str(2 * (os.cpu_count() or 1) + 1)))
worker_class = "gthread"
threads = int(os.environ.get("GUNICORN_THREADS", "1"))
worker_connections = threads
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "300"))  # long synchronous exports
graceful_timeout = 30
keepalive = 0  # nginx opens a connection per request (nginx/templates/ybb.conf.template)
accesslog = None  # the app writes one JSON line per request
errorlog = "-"
loglevel = os.environ.get("LOG_LEVEL", "info").lower()
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1")

_OWN_METRICS_DIR = not os.environ.get("PROMETHEUS_MULTIPROC_DIR")
if _OWN_METRICS_DIR:
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="ybb-prometheus-")
os.environ.setdefault("YBB_API_STARTED_AT", str(time.time()))


class JsonLogger(Logger):
    """Gunicorn's error log as JSON lines, like every other line of the service."""

    def setup(self, cfg):  # noqa: ANN001
        super().setup(cfg)
        from ybb_engine.telemetry import configure_logging

        configure_logging("api", cfg.loglevel, os.environ.get("LOG_DIR") or None, extra_loggers=("gunicorn.error",))


logger_class = JsonLogger


def _empty(directory: Path) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    for entry in directory.iterdir():
        shutil.rmtree(entry) if entry.is_dir() else entry.unlink()


def on_starting(server):  # noqa: ANN001
    _empty(Path(os.environ["PROMETHEUS_MULTIPROC_DIR"]))  # samples of a previous run would be summed


def child_exit(server, worker):  # noqa: ANN001
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)


def on_exit(server):  # noqa: ANN001
    if _OWN_METRICS_DIR:
        shutil.rmtree(os.environ["PROMETHEUS_MULTIPROC_DIR"], ignore_errors=True)

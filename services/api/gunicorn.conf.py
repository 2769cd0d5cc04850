"""Gunicorn settings, from the environment through ybb_api.config.Config (docs/configuration.md).

Logging: Gunicorn's own lines go through the JSON handlers of ybb_engine.telemetry; the
per-request line comes from the app (ybb_api.observability.access), which knows the route,
tenant and request id, so Gunicorn's access log is off.

Concurrency: one request per worker process by default (GUNICORN_THREADS=1), and a worker
takes no more connections than it has threads, so a new request goes to an idle process.
A small export then never waits for the GIL behind another thread's parse of an upload's
50,000 records in the same interpreter; size GUNICORN_WORKERS to the concurrent requests.

Metrics: every worker writes its Prometheus samples to PROMETHEUS_MULTIPROC_DIR (a fresh
temporary directory unless set); /metrics sums them. The directory is emptied at start and
a dead worker's live gauges are dropped in child_exit (also when max_requests recycles it).
"""
import os
import shutil
import tempfile
import time
from pathlib import Path

from gunicorn.glogging import Logger

# Set before ybb_api (and prometheus_client) is imported: the metrics' storage is chosen at import.
_OWN_METRICS_DIR = not os.environ.get("PROMETHEUS_MULTIPROC_DIR")
if _OWN_METRICS_DIR:
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="ybb-prometheus-")
os.environ.setdefault("YBB_API_STARTED_AT", str(time.time()))

from ybb_api.config import Config  # noqa: E402

_config = Config()
bind = _config.GUNICORN_BIND
workers = _config.GUNICORN_WORKERS
worker_class = "gthread"
threads = _config.GUNICORN_THREADS
worker_connections = threads
timeout = _config.GUNICORN_TIMEOUT  # long synchronous exports
graceful_timeout = 30
# Worker recycling, a backstop against slow memory growth: a worker is replaced after
# GUNICORN_MAX_REQUESTS requests plus 0..GUNICORN_MAX_REQUESTS_JITTER (staggered, so they do not
# all restart together); 0 disables it. The request that reaches the limit is finished first.
max_requests = _config.GUNICORN_MAX_REQUESTS
max_requests_jitter = _config.GUNICORN_MAX_REQUESTS_JITTER
keepalive = 0  # nginx opens a connection per request (nginx/templates/ybb.conf.template)
# Gunicorn's largest: Nginx's own limit (8 KiB lines) answers first, in JSON, not Gunicorn's HTML 414.
limit_request_line = 8190
accesslog = None  # the app writes one JSON line per request
errorlog = "-"
loglevel = _config.LOG_LEVEL
forwarded_allow_ips = _config.FORWARDED_ALLOW_IPS


class JsonLogger(Logger):
    """Gunicorn's error log as JSON lines, like every other line of the service."""

    def setup(self, cfg):  # noqa: ANN001
        super().setup(cfg)
        from ybb_engine.telemetry import configure_logging

        configure_logging("api", cfg.loglevel, _config.LOG_DIR, extra_loggers=("gunicorn.error",))


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

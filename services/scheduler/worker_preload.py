"""Dask worker preload (`dask worker --preload worker_preload`).

Imports the engine once per worker, so the first export does not pay for it; logs JSON
lines (stdout, and LOG_DIR/ybb-worker.jsonl) at LOG_LEVEL, Dask's own lines included; and
starts Sentry when SENTRY_DSN is set, so an exception in an export task is reported with
its job id (ybb_engine.telemetry.job_context); and runs the worker at nice WORKER_NICE
(default 10), below the API's interactive requests on a shared host (ybb_engine.priority).
"""
from __future__ import annotations

import logging
import os

import ybb_engine.tasks  # noqa: F401  (warm import: the engine, pyarrow, the writers)
from ybb_engine.priority import lower_process_priority
from ybb_engine.telemetry import configure_logging, init_sentry


def _release() -> str:
    if release := os.environ.get("SENTRY_RELEASE"):
        return release
    from ybb_api.config import Config  # the app version; both packages ship in every image

    return Config.VERSION


def dask_setup(worker) -> None:  # noqa: ANN001 (distributed passes the Worker)
    configure_logging("worker", os.environ.get("LOG_LEVEL"), os.environ.get("LOG_DIR") or None,
                      extra_loggers=("distributed",))
    dsn = os.environ.get("SENTRY_DSN")
    if dsn:
        init_sentry(dsn, service="worker", release=_release(), environment=os.environ.get("SENTRY_ENVIRONMENT"),
                    traces_sample_rate=float(os.environ.get("SENTRY_TRACES_SAMPLE_RATE") or 0))
    lower_process_priority(int(os.environ.get("WORKER_NICE") or 10))
    logging.getLogger("distributed.worker").info("ybb_engine loaded on %s", worker.address)

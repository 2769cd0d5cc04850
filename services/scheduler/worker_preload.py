"""Dask worker preload (`dask worker --preload worker_preload`).

Imports the engine once per worker, so the first export does not pay for it; logs JSON
lines (stdout, and LOG_DIR/ybb-worker.jsonl) at LOG_LEVEL, Dask's own lines included; and
starts Sentry when SENTRY_DSN is set, so an exception in an export task is reported with
its job id (ybb_engine.telemetry.job_context); and runs the worker at nice WORKER_NICE
(default 10), below the API's interactive requests on a shared host (ybb_engine.priority).
"""
from __future__ import annotations

import logging
from typing import Any

import ybb_engine.tasks  # noqa: F401  (warm import: the engine, pyarrow, the writers)
from ybb_engine.priority import lower_process_priority
from ybb_engine.settings import EngineSettings
from ybb_engine.telemetry import configure_logging, init_sentry


def dask_setup(worker: Any) -> None:
    settings = EngineSettings()
    configure_logging("worker", settings.LOG_LEVEL, settings.LOG_DIR, extra_loggers=("distributed",))
    if settings.SENTRY_DSN:
        init_sentry(settings.SENTRY_DSN, service="worker", release=settings.SENTRY_RELEASE,
                    environment=settings.SENTRY_ENVIRONMENT or settings.ENV,
                    traces_sample_rate=settings.SENTRY_TRACES_SAMPLE_RATE)
    lower_process_priority(settings.WORKER_NICE)
    logging.getLogger("distributed.worker").info("ybb_engine loaded on %s", worker.address)

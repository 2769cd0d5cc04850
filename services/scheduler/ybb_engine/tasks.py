"""The functions Dask workers run for one export job.

A task that fails records the failure on the job and returns a `Failed` marker instead of
raising: engine errors (bad records, cell overflow) are deterministic, so retrying them is
pointless, and the merge and webhook tasks must still run to report the failure.
Unexpected errors are logged with their traceback, which reaches Sentry. Dask retries a
task only when its worker dies.
"""
from __future__ import annotations

import functools
import logging
import os
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Sequence, TypeVar

from distributed import secede

from .errors import EngineError
from .export import Partition, prepare_partition, combine_partitions, write_export
from .jobstore import SqliteJobStore
from .jobview import job_view
from .partitions import read_partition
from .spec import ExportSpec
from .telemetry import job_context, job_transition
from .webhooks import deliver

if TYPE_CHECKING:
    from .pipeline import Notification

T = TypeVar("T")
log = logging.getLogger("ybb.tasks")


@dataclass
class Failed:
    code: str
    message: str
    errors: Any = None


@functools.lru_cache(maxsize=8)
def _store(path: str) -> SqliteJobStore:
    return SqliteJobStore(path)


def _guarded(store_path: str, job_id: str, work: Callable[[], T]) -> T | Failed:
    try:
        return work()
    except EngineError as exc:
        failure = Failed(exc.code, exc.message, exc.errors)
        _mark_failed(store_path, job_id, failure)
        return failure
    except Exception as exc:  # noqa: BLE001  recorded on the job, logged for Sentry
        log.exception("export task failed for job %s", job_id)
        failure = Failed("export_failed", f"Export failed: {type(exc).__name__}")
        _mark_failed(store_path, job_id, failure)
        return failure


def _mark_failed(store_path: str, job_id: str, failure: Failed) -> None:
    if _store(store_path).transition(
        job_id,
        ("queued", "running"),
        state="failed",
        error_code=failure.code,
        error_message=failure.message,
        error_detail=failure.errors,
        finished_at=time.time(),
    ):
        _announce(store_path, job_id, "failed")


def _announce(store_path: str, job_id: str, state: str) -> None:
    job = _store(store_path).get(job_id)
    if job is not None:
        job_transition(job, state)


def prepare(store_path: str, job_id: str, part_path: str, spec: dict, offset: int) -> Partition | Failed:
    """Per partition: parse, validate, transform and filter."""
    store = _store(store_path)
    with job_context(job_id, task="prepare"):
        if store.transition(job_id, ("queued",), state="running", started_at=time.time()):
            _announce(store_path, job_id, "running")

        def work() -> Partition:
            records = read_partition(part_path)
            part = prepare_partition(records, ExportSpec.from_dict(spec), row_offset=offset)
            store.add_progress(job_id, len(records))
            return part

        return _guarded(store_path, job_id, work)


def write(store_path: str, job_id: str, parts: Sequence[Partition | Failed], spec: dict, out_path: str) -> dict:
    """The merge: combine the partitions (dedupe, global sort) and write the file."""
    failure = next((p for p in parts if isinstance(p, Failed)), None)
    if failure is not None:
        return {"state": "failed", "code": failure.code}

    def work() -> dict:
        export_spec = ExportSpec.from_dict(spec)
        combined = combine_partitions(list(parts), export_spec)
        tmp_path = f"{out_path}.partial"
        result = write_export(combined, export_spec, Path(tmp_path))
        os.replace(tmp_path, out_path)
        store = _store(store_path)
        finished = store.transition(
            job_id,
            ("queued", "running"),
            state="succeeded",
            rows=result.rows,
            size_bytes=result.size_bytes,
            warnings=result.warnings,
            finished_at=time.time(),
        )
        if not finished:  # cancelled while we wrote, or a retry of a write that had succeeded
            state = (store.get(job_id) or {}).get("state", "cancelled")
            if state == "cancelled":
                Path(out_path).unlink(missing_ok=True)
            return {"state": state}
        shutil.rmtree(Path(out_path).parent / "input", ignore_errors=True)
        _announce(store_path, job_id, "succeeded")
        return {"state": "succeeded", "rows": result.rows}

    with job_context(job_id, task="write"):
        outcome = _guarded(store_path, job_id, work)
    return {"state": "failed", "code": outcome.code} if isinstance(outcome, Failed) else outcome


def notify(store_path: str, job_id: str, outcome: dict, notification: "Notification") -> str | None:
    """Deliver the webhook of an ended export. Runs after `write`, whatever its outcome."""
    secede()  # waiting on the caller's server must not hold one of the worker's threads
    job = _store(store_path).get(job_id)
    if job is None or job["state"] not in ("succeeded", "failed"):
        return None
    payload = {"event": f"export.{job['state']}", "job": job_view(job, notification.base_url)}
    status = deliver(notification.url, payload, notification.secret, notification.allowlist,
                     notification.attempts, notification.backoff)
    _store(store_path).update(job_id, webhook_status=status)
    log.info("webhook for job %s: %s", job_id, status)
    return status

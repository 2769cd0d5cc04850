"""The functions Dask workers run for one export job.

The graph (see pipeline.py and fastexport.py): prepare ×P → plan → scatter ×P → render ×P → write,
or, when fastexport.can_fuse(spec), prepare_render ×P → write.
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
from . import fastexport
from .jobstore import SqliteJobStore, job_directory
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
    """Run one step of a job. A cancelled job's steps do nothing, and a step that was already
    running when the job was cancelled removes the job's files once it is done: the files it
    wrote would otherwise outlive the cancellation."""
    if _cancelled(store_path, job_id):
        return Failed("cancelled", "The export was cancelled.")
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
    finally:
        if _cancelled(store_path, job_id):
            shutil.rmtree(job_directory(store_path, job_id), ignore_errors=True)


def _cancelled(store_path: str, job_id: str) -> bool:
    return (_store(store_path).get(job_id) or {}).get("state") == "cancelled"


def mark_failed(store: SqliteJobStore, job_id: str, code: str, message: str, errors: Any = None) -> bool:
    """Fail a queued or running job (once: an ended job is left alone) and log the transition."""
    if not store.transition(job_id, ("queued", "running"), state="failed", error_code=code, error_message=message,
                            error_detail=errors, finished_at=time.time()):
        return False
    job_transition(store.get(job_id), "failed")  # type: ignore[arg-type]
    return True


def _mark_failed(store_path: str, job_id: str, failure: Failed) -> None:
    mark_failed(_store(store_path), job_id, failure.code, failure.message, failure.errors)


def _announce(store_path: str, job_id: str, state: str) -> None:
    job = _store(store_path).get(job_id)
    if job is not None:
        job_transition(job, state)


def _job_scope(store_path: str, job_id: str, task: str):
    """Logs and Sentry events of the task carry the job's id, tenant, template, format and request id."""
    return job_context(job_id, task=task, job=_store(store_path).get(job_id))


def _work(out_path: str) -> Path:
    return fastexport.work_dir(out_path)


def prepare(store_path: str, job_id: str, part_path: str, spec: dict, offset: int,
            out_path: str | None = None) -> fastexport.Prepared | Failed:
    """Per partition: parse, validate, transform and filter; the rows go to a file in the job's work dir."""
    work_dir = _work(out_path) if out_path else Path(part_path).parent.parent / "work"
    return _on_partition(store_path, job_id, part_path, lambda records: fastexport.prepare_file(
        records, ExportSpec.from_dict(spec), offset, work_dir / f"prep-{Path(part_path).stem}.pkl"))


def prepare_render(store_path: str, job_id: str, part_path: str, spec: dict, offset: int, index: int,
                   out_path: str) -> fastexport.Fused | Failed:
    """Per partition, when the export allows it (fastexport.can_fuse): prepare and render in one task."""
    return _on_partition(store_path, job_id, part_path, lambda records: fastexport.prepare_render(
        records, ExportSpec.from_dict(spec), offset, index, _work(out_path)))


def _on_partition(store_path: str, job_id: str, part_path: str, compute: Callable[[list[dict]], T]) -> T | Failed:
    """A step on one partition's records: the first such step marks the job running, and the
    records count as done once `compute` has returned."""
    store = _store(store_path)
    with _job_scope(store_path, job_id, "prepare"):
        if store.transition(job_id, ("queued",), state="running", started_at=time.time()):
            _announce(store_path, job_id, "running")

        def work() -> T:
            records = read_partition(part_path)
            result = compute(records)
            store.add_progress(job_id, len(records))
            return result

        return _guarded(store_path, job_id, work)


def plan(store_path: str, job_id: str, prepared: Sequence, spec: dict, out_path: str) -> fastexport.Plan | Failed:
    """Row counts, sheets, styles, column widths; the global order when the export dedupes, sorts or splits."""
    failure = _first_failure(prepared)
    if failure is not None:
        return failure
    with _job_scope(store_path, job_id, "plan"):
        return _guarded(store_path, job_id,
                        lambda: fastexport.plan(list(prepared), ExportSpec.from_dict(spec), _work(out_path)))


def scatter(store_path: str, job_id: str, the_plan, index: int, out_path: str) -> list[int] | Failed:
    """Ordered exports: send partition `index`'s rows to the render jobs that own their positions."""
    if isinstance(the_plan, Failed):
        return the_plan
    with _job_scope(store_path, job_id, "scatter"):
        return _guarded(store_path, job_id, lambda: fastexport.scatter(the_plan, index, _work(out_path)))


def shuffled(scattered: Sequence) -> Failed | None:
    """A barrier after every scatter, so each render task depends on one key instead of all of them."""
    return _first_failure(scattered)


def render(store_path: str, job_id: str, the_plan, barrier, index: int, spec: dict,
           out_path: str) -> fastexport.Rendered | Failed:
    """Render job `index`: its rows as deflated <row> XML (XLSX) or bytes (CSV, JSON) in chunk files."""
    failure = the_plan if isinstance(the_plan, Failed) else barrier
    if failure is not None:
        return failure
    with _job_scope(store_path, job_id, "render"):
        return _guarded(store_path, job_id, lambda: fastexport.render(
            the_plan, index, ExportSpec.from_dict(spec), _work(out_path)))


def write(store_path: str, job_id: str, rendered: Sequence, spec: dict, out_path: str, the_plan=None) -> dict:
    """The merge: stream the rendered chunks into the final file, then record the outcome."""
    failure = _first_failure([the_plan, *rendered])
    if failure is not None:
        return {"state": "failed", "code": failure.code}
    store = _store(store_path)
    current = (store.get(job_id) or {}).get("state")
    if current in ("succeeded", "cancelled", "failed", "expired"):
        # A retry of a write that had finished (its chunks are gone), or an ended job: leave its file alone.
        return {"state": current}

    def work() -> dict:
        export_spec = ExportSpec.from_dict(spec)
        tmp_path = f"{out_path}.partial"
        if the_plan is None:  # prepare and render ran fused, one task per partition
            result = fastexport.merge(fastexport.plan_fused(list(rendered), export_spec),
                                      [r.rendered for r in rendered], export_spec, tmp_path)
        else:
            result = fastexport.merge(the_plan, list(rendered), export_spec, tmp_path)
        os.replace(tmp_path, out_path)
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
        shutil.rmtree(_work(out_path), ignore_errors=True)
        _announce(store_path, job_id, "succeeded")
        return {"state": "succeeded", "rows": result.rows}

    with _job_scope(store_path, job_id, "write"):
        outcome = _guarded(store_path, job_id, work)
    return {"state": "failed", "code": outcome.code} if isinstance(outcome, Failed) else outcome


def _first_failure(items: Sequence) -> Failed | None:
    return next((item for item in items if isinstance(item, Failed)), None)


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

"""The functions Dask workers run for one export job.

The graph (pipeline.py): prepare ×P → plan → scatter ×P → shuffled → render ×P → write,
or, when fastexport.can_fuse(spec), prepare_render ×P → write; then notify for a webhook.
Each task takes one small typed argument (`JobRef` or `Step`) plus the results of the
tasks it depends on, which Dask passes in.

A task that fails records the failure on the job and returns a `Failed` marker instead of
raising: engine errors (bad records, cell overflow) are deterministic, so retrying them is
pointless, and the merge and webhook tasks must still run to report the failure.
Unexpected errors are logged with their traceback, which reaches Sentry. Dask retries a
task only when its worker dies.
"""
from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from distributed import secede

from . import fastexport
from .errors import EngineError
from .jobstore import JobStore, is_store_url, open_store, parse_store_url
from .jobview import job_view
from .layout import DataLayout
from .lifecycle import Job, State, move
from .partitions import PartitionFile, read_partition
from .sources import reader
from .sources.reader import SourceRange
from .spec import ExportSpec
from .telemetry import job_context
from .webhooks import deliver, secret_for

T = TypeVar("T")
log = logging.getLogger("ybb.tasks")


@dataclass(frozen=True)
class JobRef:
    """What every task of a job needs: which job, where its store and files are, what to export."""

    job_id: str
    # The job store's location (open_store): an SQLite path, or a PostgreSQL URL without its
    # password. Task arguments reach the scheduler's state and log lines: the worker takes the
    # password from its own JOB_STORE_URL / JOB_STORE_URL_FILE (jobstore_postgres.resolve_url).
    store: str
    data_dir: str
    spec: dict[str, Any]
    filename: str
    time_limit: int = 0   # seconds a job may run (JOB_TIME_LIMIT); 0: no limit

    def __post_init__(self) -> None:
        if is_store_url(self.store) and parse_store_url(self.store).has_password:
            raise ValueError("JobRef.store must be the store's location, without a password (JobStore.location)")

    @property
    def layout(self) -> DataLayout:
        return DataLayout(self.data_dir)

    @property
    def out_path(self) -> Path:
        return self.layout.file_path(self.job_id, self.filename)

    @property
    def work(self) -> Path:
        return self.layout.work_dir(self.job_id)

    def export_spec(self) -> ExportSpec:
        return ExportSpec.from_dict(self.spec)

    def job_store(self) -> JobStore:
        return open_store(self.store)


@dataclass(frozen=True)
class Step:
    """One per-partition task of a job: partition `index` (and, for prepare, its input file
    or the source range it reads)."""

    job: JobRef
    index: int
    part: PartitionFile | SourceRange | None = None


@dataclass(frozen=True)
class Notification:
    """The webhook of a job. It names the API key whose webhook secret signs it, not the secret:
    task arguments end up in the scheduler's state and in the workers' "Compute Failed" log
    lines. The worker looks the secret up in the keys file (webhooks.secret_for)."""

    url: str
    key_id: str
    keys_file: str | None  # API_KEYS_FILE, readable by the workers at the same path
    base_url: str
    allowlist: tuple[str, ...] = ()
    attempts: int = 4
    backoff: float = 1.0


@dataclass
class Failed:
    code: str
    message: str
    errors: Any = field(default=None)


def mark_failed(store: JobStore, job_id: str, code: str, message: str, errors: Any = None) -> bool:
    """Fail a queued or running job (once: an ended job is left alone) and log the transition."""
    return move(store, job_id, State.FAILED, error_code=code, error_message=message, error_detail=errors) is not None


def _guarded(ref: JobRef, work: Callable[[], T]) -> T | Failed:
    """Run one step of a job. An ended job's steps do nothing (a step past the job's time limit
    fails it), and a step that was already
    running when the job was cancelled removes the job's files once it is done: the files it
    wrote would otherwise outlive the cancellation."""
    job = _job(ref)
    if job is not None and job.ended:  # cancelled, or failed by another step or the time limit
        return Failed(job.error_code or job.state.value, f"The export has ended ({job.state}).")
    if job is not None and ref.time_limit and job.started_at and time.time() - job.started_at > ref.time_limit:
        failure = Failed("time_limit_exceeded", f"The export ran longer than its time limit ({ref.time_limit} s).")
        mark_failed(ref.job_store(), ref.job_id, failure.code, failure.message)
        return failure
    try:
        return work()
    except EngineError as exc:
        failure = Failed(exc.code, exc.message, exc.errors)
        mark_failed(ref.job_store(), ref.job_id, failure.code, failure.message, failure.errors)
        return failure
    except Exception as exc:  # noqa: BLE001  recorded on the job, logged for Sentry
        log.exception("export task failed for job %s", ref.job_id)
        failure = Failed("export_failed", f"Export failed: {type(exc).__name__}")
        mark_failed(ref.job_store(), ref.job_id, failure.code, failure.message)
        return failure
    finally:
        if _cancelled(ref):
            ref.layout.remove_job(ref.job_id)


def _job(ref: JobRef) -> Job | None:
    return ref.job_store().get(ref.job_id)


def _cancelled(ref: JobRef) -> bool:
    job = _job(ref)
    return job is not None and job.state is State.CANCELLED


def _scope(ref: JobRef, task: str):  # noqa: ANN202  (a context manager)
    """Logs and Sentry events of the task carry the job's id, tenant, template, format and request id."""
    return job_context(ref.job_id, task=task, job=_job(ref))


def prepare(step: Step) -> fastexport.Prepared | Failed:
    """Per partition: parse, validate, transform and filter; the rows go to a file in the job's work dir."""
    ref, part = step.job, _part(step)
    name = f"source-{part.index:05d}" if isinstance(part, SourceRange) else Path(part.path).stem
    return _on_partition(step, lambda records: fastexport.prepare_file(
        records, ref.export_spec(), _offset(part), ref.work / f"prep-{name}.pkl"))


def prepare_render(step: Step) -> fastexport.Fused | Failed:
    """Per partition, when the export allows it (fastexport.can_fuse): prepare and render in one task."""
    ref, part = step.job, _part(step)
    return _on_partition(step, lambda records: fastexport.prepare_render(
        records, ref.export_spec(), _offset(part), step.index, ref.work))


def _part(step: Step) -> PartitionFile | SourceRange:
    if step.part is None:
        raise ValueError("a prepare step needs its partition")
    return step.part


def _offset(part: PartitionFile | SourceRange) -> int:
    """The first row's number, for error messages (a source range's rows are numbered within it)."""
    return part.offset if isinstance(part, PartitionFile) else 0


def _records(part: PartitionFile | SourceRange) -> list[dict[str, Any]]:
    return reader.records(part) if isinstance(part, SourceRange) else read_partition(part.path)


def _on_partition(step: Step, compute: Callable[[list[dict]], T]) -> T | Failed:
    """A step on one partition's records: the first such step marks the job running, and the
    records count as done once `compute` has returned."""
    ref = step.job
    store = ref.job_store()
    with _scope(ref, "prepare"):
        move(store, ref.job_id, State.RUNNING, started_at=time.time())

        def work() -> T:
            records = _records(_part(step))
            result = compute(records)
            store.add_progress(ref.job_id, len(records))
            return result

        return _guarded(ref, work)


def plan(ref: JobRef, prepared: Sequence[Any]) -> fastexport.Plan | Failed:
    """Row counts, sheets, styles, column widths; the global order when the export dedupes, sorts or splits."""
    failure = _first_failure(prepared)
    if failure is not None:
        return failure
    with _scope(ref, "plan"):
        return _guarded(ref, lambda: fastexport.plan(list(prepared), ref.export_spec(), ref.work))


def scatter(step: Step, the_plan: Any) -> list[int] | Failed:
    """Ordered exports: send partition `index`'s rows to the render tasks that own their positions."""
    if isinstance(the_plan, Failed):
        return the_plan
    with _scope(step.job, "scatter"):
        return _guarded(step.job, lambda: fastexport.scatter(the_plan, step.index, step.job.work))


def shuffled(scattered: Sequence[Any]) -> Failed | None:
    """A barrier after every scatter, so each render task depends on one key instead of all of them."""
    return _first_failure(scattered)


def render(step: Step, the_plan: Any, barrier: Failed | None) -> fastexport.Rendered | Failed:
    """Render task `index`: its rows as deflated <row> XML (XLSX) or bytes (CSV, JSON) in chunk files."""
    failure = the_plan if isinstance(the_plan, Failed) else barrier
    if failure is not None:
        return failure
    ref = step.job
    with _scope(ref, "render"):
        return _guarded(ref, lambda: fastexport.render(the_plan, step.index, ref.export_spec(), ref.work))


def write(ref: JobRef, rendered: Sequence[Any], the_plan: Any = None) -> dict[str, Any]:
    """The merge: stream the rendered chunks into the final file, then record the outcome."""
    failure = _first_failure([the_plan, *rendered])
    if failure is not None:
        return {"state": State.FAILED.value, "code": failure.code}
    store = ref.job_store()
    current = _job(ref)
    if current is None or current.ended:
        # A retry of a write that had finished (its chunks are gone), or an ended job: leave its file alone.
        return {"state": current.state.value if current else State.CANCELLED.value}

    def work() -> dict[str, Any]:
        spec = ref.export_spec()
        out_path = ref.out_path
        out_path.parent.mkdir(parents=True, exist_ok=True)
        tmp_path = out_path.with_name(out_path.name + ".partial")
        if the_plan is None:  # prepare and render ran fused, one task per partition
            result = fastexport.merge(fastexport.plan_fused(list(rendered), spec),
                                      [r.rendered for r in rendered], spec, tmp_path)
        else:
            result = fastexport.merge(the_plan, list(rendered), spec, tmp_path)
        os.replace(tmp_path, out_path)
        finished = move(store, ref.job_id, State.SUCCEEDED, rows=result.rows, size_bytes=result.size_bytes,
                        warnings=result.warnings)
        if finished is None:  # cancelled while we wrote, or a retry of a write that had succeeded
            job = _job(ref)
            state = job.state if job else State.CANCELLED
            if state is State.CANCELLED:
                out_path.unlink(missing_ok=True)
            return {"state": state.value}
        ref.layout.remove_intermediates(ref.job_id)
        return {"state": State.SUCCEEDED.value, "rows": result.rows}

    with _scope(ref, "write"):
        outcome = _guarded(ref, work)
    return {"state": State.FAILED.value, "code": outcome.code} if isinstance(outcome, Failed) else outcome


def _first_failure(items: Sequence[Any]) -> Failed | None:
    return next((item for item in items if isinstance(item, Failed)), None)


def notify(ref: JobRef, outcome: dict[str, Any], notification: Notification) -> str | None:
    """Deliver the webhook of an ended export. Runs after `write`, whatever its outcome."""
    secede()  # waiting on the caller's server must not hold one of the worker's threads
    job = _job(ref)
    if job is None or job.state not in (State.SUCCEEDED, State.FAILED):
        return None
    payload = {"event": f"export.{job.state.value}", "job": job_view(job, notification.base_url)}
    secret = secret_for(notification.keys_file, notification.key_id)
    if secret:
        status = deliver(notification.url, payload, secret, notification.allowlist,
                         notification.attempts, notification.backoff)
    else:  # the key, or its secret, left the keys file after the export was created
        log.warning("webhook for job %s not sent: API key %r has no webhook secret in %s", ref.job_id,
                    notification.key_id, notification.keys_file)
        status = "not sent: the API key has no webhook secret"
    ref.job_store().update(ref.job_id, webhook_status=status)
    log.info("webhook for job %s: %s", ref.job_id, status)
    return status

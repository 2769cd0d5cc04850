"""The engine's front door: the one object the web layer calls to create, feed, commit,
cancel, look up, list and expire exports, and to find lost ones.

    service = ExportService.from_settings(EngineSettings())
    job = service.create(ExportRequest(tenant="acme", body={...}))

It owns the export lifecycle (lifecycle.py): every state change goes through
`lifecycle.move`, which logs it. Errors are `EngineError`s carrying their HTTP status, code
and message, which the web layer answers in its error shape. The web layer never sees a
Dask key, a data-folder path or a job-store column: only `Job`s and `ExportFile`s.
"""
from __future__ import annotations

import hashlib
import json
import os
import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
from distributed import Future

from . import pipeline
from .cluster import Cluster, ClusterUnavailable
from .errors import EngineError
from .fileformats import content_type, sanitize_filename
from .jobstore import DuplicateJob, HistogramRow, JobStatistics, JobStore, open_configured_store
from .jobview import iso, job_view
from .layout import DataLayout
from .lifecycle import ACTIVE, ENDED, Job, State, move
from .partitions import PartitionFile, StagedRecords, list_partitions, records_digest, write_partitions
from .settings import EngineSettings
from .sources import SourceCatalog
from .sources.exports import prepare_source_export
from .sources.reader import SourceRange
from .spec import build_spec
from .tasks import JobRef, Notification, mark_failed
from .telemetry import job_context, job_transition
from .templates import TemplateRegistry, load_templates
from .webhooks import check_callback_url

__all__ = ["ENDED", "ClusterUnavailable", "EngineSettings", "ExportFile", "ExportRequest", "ExportService", "Job",
           "HistogramRow", "JobStatistics", "State", "is_input_error", "iso", "job_view"]

SPEC_KEYS = ("template", "columns", "format", "filters", "sort", "select", "rename", "order", "dedupe", "options")
SAMPLE_ROWS = 200
INPUT_ERROR_CODES = frozenset({"invalid_records", "cell_overflow"})  # the request's fault
RECENT_JOBS = 100
RECENT_FAILURES = 20
MAX_LIST_OFFSET = 10**9
DELETE_BATCH = 500      # job rows deleted per statement by the sweeper
ORPHAN_AGE = 3600       # seconds a job folder without a row is left alone


@dataclass(frozen=True)
class ExportRequest:
    """A validated create request (the API's ExportRequestSchema) and who sent it."""

    tenant: str
    body: Mapping[str, Any]
    request_id: str | None = None
    idempotency_key: str | None = None
    webhook_key_id: str = ""  # the API key whose webhook secret signs the callback (looked up by the worker)
    base_url: str = ""      # for the links in webhook payloads


@dataclass(frozen=True)
class ExportFile:
    """A finished export's file, for a download."""

    path: Path
    relative_path: str      # under DATA_DIR, for Nginx's internal location
    filename: str
    content_type: str


class ExportService:
    def __init__(self, settings: EngineSettings, templates: TemplateRegistry, store: JobStore,
                 layout: DataLayout, cluster: Cluster, sources: SourceCatalog | None = None) -> None:
        self.settings = settings
        self.templates = templates
        self.sources = sources if sources is not None else SourceCatalog({})
        self.sources.check_templates(templates)
        self.store = store
        self.layout = layout
        self.cluster = cluster

    @classmethod
    def from_settings(cls, settings: EngineSettings) -> ExportService:
        layout = DataLayout(settings.DATA_DIR)
        layout.root.mkdir(parents=True, exist_ok=True)
        store = open_configured_store(settings.JOB_STORE_URL, layout.sqlite_path)  # refuses a bad URL here
        return cls(settings, load_templates(), store, layout,
                   Cluster.from_settings(settings), SourceCatalog.load(settings.SOURCES_DIRS))

    # -- looking up --------------------------------------------------------------------------

    def get(self, job_id: str, tenant: str | None = None) -> Job:
        """The job, if `tenant` may see it (None: any tenant). Others get 404, so ids can't be probed."""
        job = self.store.get(job_id)
        if job is None or (tenant is not None and job.tenant != tenant):
            raise EngineError("not_found", "No such export.", status=404)
        return job

    def list(self, tenant: str | None, page: int, page_size: int) -> tuple[list[Job], int]:
        offset = (page - 1) * page_size
        if offset > MAX_LIST_OFFSET:  # past any real job; also past what the store's integers hold
            raise EngineError("validation_error", "The page number is too large.",
                              errors={"query": {"page": [f"Must be at most {MAX_LIST_OFFSET // page_size + 1}."]}})
        return self.store.list(tenant, page_size, offset)

    def file(self, job: Job, expired_message: str = "This export has expired.") -> ExportFile:
        """The file of a succeeded export; 410 once expired, 409 before it exists."""
        if job.state is State.EXPIRED:
            raise EngineError("expired", expired_message, status=410)
        if job.state is not State.SUCCEEDED:
            raise EngineError("not_ready", f"The export is {job.state}; there is no file.", status=409)
        path = self.layout.file_path(job.id, job.filename)
        return ExportFile(path, self.layout.relative(path), job.filename, content_type(job.format))

    # -- creating ----------------------------------------------------------------------------

    def create(self, request: ExportRequest) -> Job:
        """Validate and submit (or open for batched upload); wait when the export should be synchronous.

        `records` is a list, or StagedRecords (`stage_records()`) that the web layer wrote as
        partitions while it read the body: the job takes those files; on any other outcome (an
        error, an idempotent replay, a cached result) they are removed."""
        staged = _staged(request.body)
        try:
            return self._create(request, staged)
        finally:
            if staged is not None:
                staged.discard()  # a no-op once the job has taken them

    def _create(self, request: ExportRequest, staged: StagedRecords | None) -> Job:
        body = request.body
        records: list[dict[str, Any]] = [] if staged is not None else list(body.get("records") or [])
        rows = staged.rows if staged is not None else len(records)
        hashed = staged.digest if staged is not None else records_digest(records)
        digest = _request_digest(body, hashed) if request.idempotency_key else None
        if request.idempotency_key and (existing := self.store.find_idempotent(request.tenant,
                                                                                request.idempotency_key)):
            return _same_request(existing, digest)
        if body.get("source") is not None:
            return self._create_from_source(request, digest)
        upload = bool(body.get("upload"))
        _check_upload(body, upload)
        self.settings.limits().check_records(rows)
        sample = staged.sample if staged is not None else records[:SAMPLE_ROWS]
        spec = build_spec({k: body[k] for k in SPEC_KEYS if k in body}, self.templates, sample,
                          self.settings.limits())
        if body.get("callback_url"):
            check_callback_url(body["callback_url"], self.settings.WEBHOOK_ALLOWLIST)
        cache_key = None if upload else _cache_key(request.tenant, spec.to_dict(), body, hashed)
        if cache_key and self.settings.RESULT_CACHE and (cached := self._cached(request.tenant, cache_key)):
            return cached
        inline = self._runs_inline(body, rows)
        client = None if upload or inline else self._client()

        now = time.time()
        default_name = (body.get("template") or "export").replace("/", "-")
        job = Job(id=staged.job_id if staged is not None and staged.job_id else uuid.uuid4().hex,
                  tenant=request.tenant,
                  state=State.AWAITING_RECORDS if upload else State.QUEUED,
                  template=body.get("template"), format=spec.format,
                  filename=sanitize_filename(body.get("filename"), spec.format, default=default_name),
                  spec=spec.to_dict(), request_id=request.request_id, idempotency_key=request.idempotency_key,
                  request_digest=digest,
                  rows_total=rows, created_at=now,
                  expires_at=now + 3600 * self.settings.RETENTION_HOURS,
                  expected_rows=body.get("expected_rows"), callback_url=body.get("callback_url"),
                  cache_key=cache_key)
        try:
            if staged is not None:
                partitions = staged.adopt(self.layout.input_dir(job.id))
            else:
                partitions = write_partitions(records, self.layout.input_dir(job.id), self.settings.PARTITION_ROWS)
            job.partitions = len(partitions)
            job = self.store.create(job)
        except DuplicateJob:  # a concurrent retry with the same Idempotency-Key won
            self.layout.remove_job(job.id)
            winner = self.store.find_idempotent(request.tenant, request.idempotency_key or "")
            return _same_request(winner, digest)  # type: ignore[arg-type]
        except BaseException:
            self.layout.remove_job(job.id)  # no job folder without its job row
            raise
        job_transition(job, job.state.value)
        if upload:
            return job
        if inline:
            pipeline.run_inline(self._ref(job), partitions)
            return self.get(job.id)
        final = self._submit(client, job, partitions, request.webhook_key_id, request.base_url)
        if self._wants_sync(body, rows):
            self._wait(final, job.id)
        return self.get(job.id)

    def stage_records(self, job: Job | None = None) -> StagedRecords:
        """Where a request's records go as partitions while its body is read (issue 17).

        Without `job`: for a create request, the input directory of the job it will become
        (its id is chosen now: `create` takes the files, or removes them). With `job`: for an
        upload batch, a folder of its own in that job's input directory, whose partitions
        `append` renames to the batch's indexes once it has reserved them. Either way the
        caller discards them (`StagedRecords.discard`) if they never reach `create`/`append`;
        a create's folder left behind by a killed process has no job row, and the sweep removes it."""
        settings = self.settings
        limit = settings.limits().records
        if job is None:
            job_id = uuid.uuid4().hex
            return StagedRecords(self.layout.input_dir(job_id), settings.PARTITION_ROWS, limit, SAMPLE_ROWS,
                                 job_id=job_id, folder=self.layout.job_dir(job_id))
        if job.state is not State.AWAITING_RECORDS:  # before the body is read: it would be refused anyway
            raise _not_accepting(job)
        batch_dir = self.layout.input_dir(job.id) / f".batch-{uuid.uuid4().hex}"  # list_partitions skips it
        return StagedRecords(batch_dir, settings.PARTITION_ROWS, limit)

    def _create_from_source(self, request: ExportRequest, digest: str | None) -> Job:
        """An export whose rows a source reads on the workers: always a job, never cached."""
        body = request.body
        if body.get("records") or body.get("upload"):
            raise EngineError("validation_error", "Give either source or records (or upload), not both.",
                              errors={"json": {"source": ["Cannot be combined with records or upload."]}})
        if body.get("callback_url"):
            check_callback_url(body["callback_url"], self.settings.WEBHOOK_ALLOWLIST)
        client = self._client()
        settings = self.settings
        export = prepare_source_export(self.sources, body["source"], {k: body[k] for k in SPEC_KEYS if k in body},
                                       self.templates, settings.limits(), settings.SOURCE_PARTITION_ROWS,
                                       settings.SOURCE_MAX_ROWS)
        now = time.time()
        template = body.get("template") or (None if body.get("columns") else export.query.source.template)
        job = Job(id=uuid.uuid4().hex, tenant=request.tenant, state=State.QUEUED, template=template,
                  format=export.spec.format,
                  filename=sanitize_filename(body.get("filename"), export.spec.format,
                                             default=export.query.source.name.replace("/", "-")),
                  spec=export.spec.to_dict(), request_id=request.request_id,
                  idempotency_key=request.idempotency_key, request_digest=digest, rows_total=export.plan.rows,
                  partitions=len(export.plan.ranges), created_at=now,
                  expires_at=now + 3600 * settings.RETENTION_HOURS, callback_url=body.get("callback_url"))
        try:
            job = self.store.create(job)
        except DuplicateJob:
            winner = self.store.find_idempotent(request.tenant, request.idempotency_key or "")
            return _same_request(winner, digest)  # type: ignore[arg-type]
        job_transition(job, job.state.value)
        self._submit(client, job, export.plan.ranges, request.webhook_key_id, request.base_url)
        return self.get(job.id)

    def bind_source(self, name: str, params: Mapping[str, Any], strict: bool = True) -> Any:
        """Check a source's parameters without reading (the old API reports what it applied)."""
        return self.sources.bind(name, params, self.settings.SOURCE_MAX_ROWS, strict)

    def source_statistics(self, name: str, params: Mapping[str, Any], strict: bool = True) -> dict[str, Any]:
        return self.sources.statistics(self.bind_source(name, params, strict))

    def check_source_connection(self, name: str) -> dict[str, str]:
        """SELECT 1 on a source's connection: its dialect, host and database, never its user or password."""
        info = self.sources.check_connection(self.sources.get(name).connection)
        return {"connection": info.name, "dialect": info.dialect, "host": info.host, "database": info.database}

    def wait(self, job: Job, timeout: float) -> Job:
        """The job once it has ended, or as it is after `timeout` seconds."""
        deadline = time.monotonic() + timeout
        while not job.ended and time.monotonic() < deadline:
            time.sleep(0.05)
            job = self.get(job.id)
        return job

    def append(self, job: Job, records: Sequence[Mapping[str, Any]] | StagedRecords) -> Job:
        """Store one uploaded batch as partitions, after those of earlier batches: a list, or
        StagedRecords (`stage_records(job)`) already written while the body was read."""
        if isinstance(records, StagedRecords):
            try:
                return self._append_staged(job, records)
            finally:
                records.discard()
        self.settings.limits().check_records(len(records))
        rows_per_partition = self.settings.PARTITION_ROWS
        partitions = -(-len(records) // rows_per_partition)
        first_index = self.store.reserve_batch(job.id, partitions)
        if first_index is None:
            raise _not_accepting(job)
        stored = False
        try:
            write_partitions(records, self.layout.input_dir(job.id), rows_per_partition, first_index)
            stored = True
        except OSError as exc:  # e.g. the disk is full: none of the batch stays, and none of it counts
            raise _storage_unavailable() from exc
        finally:
            self.store.finish_batch(job.id, len(records), stored)
        return self.get(job.id)

    def _append_staged(self, job: Job, staged: StagedRecords) -> Job:
        self.settings.limits().check_records(staged.rows)
        first_index = self.store.reserve_batch(job.id, len(staged.partitions))
        if first_index is None:
            raise _not_accepting(job)
        stored = False
        try:
            staged.adopt(self.layout.input_dir(job.id), first_index)
            stored = True
        except OSError as exc:  # none of the batch stays, and none of it counts
            raise _storage_unavailable() from exc
        finally:
            self.store.finish_batch(job.id, staged.rows, stored)
        return self.get(job.id)

    def commit(self, job: Job, webhook_key_id: str = "", base_url: str = "") -> Job:
        """Start an upload job once every batch has arrived; `webhook_key_id` signs its callback."""
        if job.state is not State.AWAITING_RECORDS:
            raise EngineError("not_accepting_records",
                              f"The export is {job.state}; only an upload awaiting records can be committed.",
                              status=409)
        if job.expected_rows is not None and job.expected_rows != job.rows_total:
            raise EngineError("row_count_mismatch", f"Expected {job.expected_rows} rows, received {job.rows_total}.",
                              errors={"expected_rows": job.expected_rows, "received_rows": job.rows_total})
        if job.pending_batches:
            raise _batch_in_flight()
        client = self._client()
        # Only as read: no batch in flight, and the rows counted above (a batch may have finished since).
        queued = move(self.store, job.id, State.QUEUED, when={"pending_batches": 0, "rows_total": job.rows_total})
        if queued is None:
            now = self.get(job.id)
            if now.state is State.AWAITING_RECORDS:
                raise _batch_in_flight()
            raise EngineError("not_accepting_records", "The export was committed or cancelled meanwhile.",
                              status=409)
        self._submit(client, queued, list_partitions(self.layout.input_dir(job.id)), webhook_key_id, base_url)
        return self.get(job.id)

    # -- ending --------------------------------------------------------------------------------

    def cancel(self, job: Job) -> Job:
        """Cancel an export that has not ended, and remove its files."""
        if job.ended:
            raise EngineError("already_finished", f"The export has already ended ({job.state}).", status=409)
        if move(self.store, job.id, State.CANCELLED) is None:
            # It ended meanwhile (e.g. succeeded between our read and the move): keep its file.
            ended = self.get(job.id)
            raise EngineError("already_finished", f"The export has already ended ({ended.state}).", status=409)
        if job.state is not State.AWAITING_RECORDS:
            pipeline.cancel_export(self._client(), job.id, job.partitions)
        self.layout.remove_job(job.id)
        return self.get(job.id)

    def check_lost(self, job: Job) -> Job:
        """A queued or running job that can no longer finish is failed with a clear code, not left
        running: its tasks are lost (scheduler restart, repeated worker loss), it ran past
        JOB_TIME_LIMIT, or it has waited NO_WORKERS_GRACE seconds with no worker connected."""
        now = time.time()
        if job.state not in ACTIVE or now - job.created_at < self.settings.LOST_JOB_GRACE:
            return job
        limit = self.settings.JOB_TIME_LIMIT
        if limit and job.started_at is not None and now - job.started_at > limit:
            return self._fail_and_cancel(job, "time_limit_exceeded",
                                         f"The export ran longer than its time limit ({limit} s).")
        # Only a job that has waited long enough can fail for want of workers: ask the scheduler
        # for them then, not on every status poll.
        may_lack_workers = job.state is State.QUEUED and now - job.created_at > self.settings.NO_WORKERS_GRACE
        try:
            state = pipeline.final_task_state(self.cluster.client(), job.id)
            workers = self.cluster.scheduler()["workers"] if may_lack_workers else None
        except (ClusterUnavailable, OSError, TimeoutError):
            return job  # the scheduler is down: readiness reports it; decide when it is back
        if state in (None, "erred", "forgotten"):
            code = "scheduler_lost" if state is None else "export_failed"
            mark_failed(self.store, job.id, code,
                        "The cluster lost this export's tasks (scheduler restart or repeated worker loss).")
            return self.get(job.id)
        if workers == 0:
            return self._fail_and_cancel(job, "no_workers", "No export worker is connected to the cluster; "
                                         "the export could not start.")
        return job

    def _fail_and_cancel(self, job: Job, code: str, message: str) -> Job:
        if mark_failed(self.store, job.id, code, message):
            try:
                pipeline.cancel_export(self.cluster.client(), job.id, job.partitions)
            except (ClusterUnavailable, OSError, TimeoutError):
                pass  # its tasks do nothing once the job has ended (tasks._guarded)
        return self.get(job.id)

    def sweep(self, now: float | None = None) -> dict[str, int]:
        """Retention: delete the rows of jobs expired JOB_ROW_RETENTION_HOURS ago (before this
        pass expires more, so a job's expired state is seen for one pass at least); delete expired
        jobs' files and mark them expired; fail lost jobs; remove job folders without a job row."""
        now = time.time() if now is None else now
        deleted = self._delete_old_rows(now)
        expired = 0
        for job in self.store.expired(now):
            with job_context(job.id, task="sweep", job=job):  # each job's lines carry its own fields only
                self.layout.remove_job(job.id)
                expired += move(self.store, job.id, State.EXPIRED) is not None
        lost = 0
        for job in self.store.unfinished():
            with job_context(job.id, task="sweep", job=job):
                lost += self.check_lost(job).state is State.FAILED
        return {"expired": expired, "lost": lost, "deleted": deleted, "orphans": self._remove_orphans(now)}

    def _delete_old_rows(self, now: float) -> int:
        hours = self.settings.JOB_ROW_RETENTION_HOURS
        if hours <= 0:
            return 0
        deleted = 0
        while True:
            ids = self.store.delete_expired(now - 3600 * hours, DELETE_BATCH)
            for job_id in ids:
                self.layout.remove_job(job_id)  # normally gone since it expired
            deleted += len(ids)
            if len(ids) < DELETE_BATCH:
                return deleted

    def _remove_orphans(self, now: float) -> int:
        """Job folders with no job row, untouched for ORPHAN_AGE: a failed create's or a
        deleted row's leftovers. A job being created (folder first, row next) is younger."""
        old = [job_id for job_id, modified in self.layout.job_folders() if now - modified > ORPHAN_AGE]
        known = self.store.existing(old)
        orphans = 0
        for job_id in old:
            changed = self.layout.last_change(job_id) if job_id not in known else None
            if changed is not None and now - changed > ORPHAN_AGE:  # nothing in it is being written either
                self.layout.remove_job(job_id)
                orphans += 1
        return orphans

    # -- monitoring ----------------------------------------------------------------------------

    def overview(self) -> dict[str, Any]:
        """Running now, the last 100, the recent failures with their error, and counts by state."""
        return {"running": self.store.recent([State.QUEUED, State.RUNNING, State.AWAITING_RECORDS], RECENT_JOBS),
                "recent": self.store.recent(None, RECENT_JOBS),
                "failures": self.store.recent([State.FAILED], RECENT_FAILURES),
                "counts": self.store.count_by_state()}

    def readiness(self) -> dict[str, dict[str, Any]]:
        """Whether exports can run now: the scheduler answers with enough workers, storage is writable."""
        return {"cluster": self._cluster_check(), "storage": self._storage_check()}

    def _cluster_check(self) -> dict[str, Any]:
        try:
            workers = self.cluster.scheduler()["workers"]
        except ClusterUnavailable as exc:
            return {"ok": False, "detail": f"scheduler unreachable: {exc}"}
        minimum = self.settings.READY_MIN_WORKERS
        return {"ok": workers >= minimum, "workers": workers, "min_workers": minimum}

    def _storage_check(self) -> dict[str, Any]:
        directory = self.layout.root
        probe = directory / f".ready-{uuid.uuid4().hex}"
        try:
            directory.mkdir(parents=True, exist_ok=True)
            probe.write_bytes(b"ok")
            probe.unlink()
        except OSError as exc:
            return {"ok": False, "detail": f"{directory} is not writable: {exc.strerror}"}
        stats = os.statvfs(directory)
        return {"ok": True, "free_bytes": stats.f_bavail * stats.f_frsize}

    def statistics(self, duration_bounds: Sequence[float], speed_bounds: Sequence[float]) -> JobStatistics:
        return self.store.statistics(duration_bounds, speed_bounds)

    # -- internals -------------------------------------------------------------------------------

    def _ref(self, job: Job) -> JobRef:
        return JobRef(job.id, self.store.location, str(self.layout.root), job.spec, job.filename,
                      self.settings.JOB_TIME_LIMIT)

    def _cached(self, tenant: str, cache_key: str) -> Job | None:
        cached = self.store.find_cached(tenant, cache_key, time.time())
        if cached is not None and self.layout.file_path(cached.id, cached.filename).exists():
            return cached
        return None

    def _client(self) -> Any:
        try:
            return self.cluster.client()
        except ClusterUnavailable as exc:
            raise EngineError("cluster_unavailable", "The export cluster is unavailable; retry later.",
                              status=503, headers={"Retry-After": "30"}) from exc

    def _submit(self, client: Any, job: Job, partitions: Sequence[PartitionFile | SourceRange], webhook_key_id: str,
                base_url: str) -> Future:
        notification = None
        if job.callback_url:
            settings = self.settings
            notification = Notification(job.callback_url, webhook_key_id, settings.API_KEYS_FILE, base_url,
                                        tuple(settings.WEBHOOK_ALLOWLIST), settings.WEBHOOK_ATTEMPTS,
                                        settings.WEBHOOK_BACKOFF)
        return pipeline.submit_export(client, self._ref(job), partitions, notification)

    def _runs_inline(self, body: Mapping[str, Any], rows: int) -> bool:
        """Small synchronous exports run in this thread with the same steps as on the cluster,
        so that a PHP page never waits behind a big export in the cluster's queue. A webhook
        needs the cluster (its delivery retries must not hold a web worker)."""
        return (not body.get("upload") and not body.get("callback_url") and body.get("mode", "auto") != "async"
                and rows <= self.settings.INLINE_MAX_ROWS)

    def _wants_sync(self, body: Mapping[str, Any], rows: int) -> bool:
        mode = body.get("mode", "auto")
        return mode == "sync" or (mode == "auto" and rows <= self.settings.SYNC_MAX_ROWS)

    def _wait(self, final: Future, job_id: str) -> None:
        try:
            final.result(timeout=self.settings.SYNC_TIMEOUT)
        except TimeoutError:
            pass  # still running: the caller gets 202 and polls
        except Exception as exc:  # noqa: BLE001  the cluster lost the task (e.g. KilledWorker)
            mark_failed(self.store, job_id, "export_failed",
                        f"The cluster could not run the export: {type(exc).__name__}")


def _not_accepting(job: Job) -> EngineError:
    return EngineError("not_accepting_records", f"The export is {job.state}; it takes no more records.", status=409)


def _storage_unavailable() -> EngineError:
    return EngineError("storage_unavailable", "The batch could not be stored; send it again later.",
                       status=503, headers={"Retry-After": "30"})


def _staged(body: Mapping[str, Any]) -> StagedRecords | None:
    records = body.get("records")
    return records if isinstance(records, StagedRecords) else None


def _batch_in_flight() -> EngineError:
    return EngineError("batch_in_flight", "A batch of records is still being stored; commit once every batch "
                       "has been answered.", status=409, headers={"Retry-After": "1"})


def is_input_error(job: Job) -> bool:
    """A failed job whose cause is the request's content (422), not the service (500)."""
    return job.error_code in INPUT_ERROR_CODES


def _check_upload(body: Mapping[str, Any], upload: bool) -> None:
    if upload and body.get("records"):
        raise EngineError("validation_error", "An upload job takes its records through /records, not in the "
                          "create request.", errors={"json": {"records": ["Must be empty with upload: true."]}})
    if upload and not (body.get("template") or body.get("columns")):
        raise EngineError("validation_error", "An upload job needs a template or columns: they cannot be "
                          "inferred from records that have not arrived.")


def _json_bytes(value: Any, sort_keys: bool = False) -> bytes:
    try:
        return orjson.dumps(value, option=orjson.OPT_SORT_KEYS if sort_keys else None, default=str)
    except TypeError:  # lone surrogates, which orjson refuses and the stdlib escapes
        return json.dumps(value, sort_keys=sort_keys, default=str).encode()


DIGEST_PREFIX = "v2:"  # request digests made from the records' digest (issue 17); older ones are bare hex


def _request_digest(body: Mapping[str, Any], records_hash: str) -> str:
    """What a request asked for, to tell a retry (same body) from a reused Idempotency-Key: the
    body but its records, and the records' SHA-256 (computed while they were written)."""
    digest = hashlib.sha256(_json_bytes({k: v for k, v in body.items() if k != "records"}, sort_keys=True))
    if body.get("records") is not None:
        digest.update(b"\nrecords:" + records_hash.encode())
    return DIGEST_PREFIX + digest.hexdigest()


def _same_request(existing: Job, digest: str | None) -> Job:
    """The earlier job of an Idempotency-Key, if it was created for the same request. A digest of
    the previous release (no prefix: made from the whole body) cannot be compared: trusted."""
    earlier = existing.request_digest
    if (earlier is not None and digest is not None and earlier.startswith(DIGEST_PREFIX)
            and earlier != digest):
        raise EngineError("idempotency_key_reused", "This Idempotency-Key was used for a different request; "
                          "use a new key for a new export.")
    return existing


def _cache_key(tenant: str, spec: dict[str, Any], body: Mapping[str, Any], records_hash: str) -> str:
    digest = hashlib.sha256(_json_bytes([tenant, spec, body.get("filename"), body.get("callback_url")],
                                        sort_keys=True))
    digest.update(records_hash.encode())
    return digest.hexdigest()

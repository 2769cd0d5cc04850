"""Export jobs for the views: store the records, create the job row, hand the graph to
Dask, cancel, sign links. The export itself is the engine's (ybb_engine), run on workers."""
from __future__ import annotations

import hashlib
import json
import shutil
import sqlite3
import time
import uuid
from pathlib import Path
from typing import Any, Sequence
from urllib.parse import urlencode

import orjson
from flask import current_app

from ybb_engine import signing
from ybb_engine.export import sanitize_filename
from ybb_engine.jobstore import FINAL_STATES, SqliteJobStore, job_directory
from ybb_engine.jobview import job_view
from ybb_engine.partitions import list_partitions, write_partitions
from ybb_engine.pipeline import Notification, cancel_export, run_inline, submit_export, task_state, write_key
from ybb_engine.spec import build_spec
from ybb_engine.tasks import mark_failed
from ybb_engine.telemetry import job_transition
from ybb_engine.webhooks import check_callback_url

from .cluster import dask_client
from .errors import abort
from .keys import ApiKey

SPEC_KEYS = ("template", "columns", "format", "filters", "sort", "select", "rename", "order", "dedupe", "options")
SAMPLE_ROWS = 200
INPUT_ERROR_CODES = frozenset({"invalid_records", "cell_overflow"})  # the request's fault: 422
UNFINISHED = ("awaiting_records", "queued", "running")


def job_store() -> SqliteJobStore:
    return current_app.extensions["ybb_store"]


def job_dir(job_id: str) -> Path:
    return job_directory(job_store().path, job_id)


def file_path(job: dict[str, Any]) -> Path:
    return job_dir(job["id"]) / job["filename"]


def get_job(job_id: str, tenant: str | None) -> dict[str, Any]:
    """The job, if `tenant` may see it (None: any tenant). Others get 404, so ids can't be probed."""
    job = job_store().get(job_id)
    if job is None or (tenant is not None and job["tenant"] != tenant):
        abort(404, message="No such export.", error_code="not_found")
    return job


def list_jobs(tenant: str | None, page: int, page_size: int) -> tuple[list[dict[str, Any]], int]:
    return job_store().list(tenant, page_size, (page - 1) * page_size)


def view(job: dict[str, Any], base_url: str) -> dict[str, Any]:
    """The job as the API shows it, with a signed download link once it succeeded."""
    shown = job_view(job, base_url)
    if job["state"] == "succeeded":
        shown["download_url"] = signed_download_url(job, base_url)
    return shown


def signed_download_url(job: dict[str, Any], base_url: str) -> str:
    config = current_app.config
    expires = int(min(time.time() + config["DOWNLOAD_URL_TTL"], job["expires_at"]))
    query = urlencode({"expires": expires, "signature": signing.sign(job["id"], expires, config["SECRET_KEY"])})
    return f"{base_url}/api/v1/exports/{job['id']}/file?{query}"


def get_signed_job(job_id: str, expires: str, signature: str) -> dict[str, Any]:
    config = current_app.config
    secrets = [config["SECRET_KEY"], *config["SECRET_KEYS_PREVIOUS"]]
    if not signing.verify(job_id, expires, signature, secrets):
        abort(403, message="The download link is invalid or has expired.", error_code="invalid_signature")
    job = job_store().get(job_id)
    if job is None:
        abort(404, message="No such export.", error_code="not_found")
    return job


def create_export(body: dict[str, Any], key: ApiKey, request_id: str | None, idempotency_key: str | None,
                  base_url: str) -> dict[str, Any]:
    """Validate and submit (or open for batched upload); wait when the export should be synchronous."""
    store = job_store()
    if idempotency_key and (existing := store.find_idempotent(key.tenant, idempotency_key)):
        return existing
    records = body.get("records") or []
    if body.get("upload") and body.get("records"):
        abort(422, message="An upload job takes its records through /records, not in the create request.",
              error_code="validation_error", errors={"json": {"records": ["Must be empty with upload: true."]}})
    if body.get("upload") and not (body.get("template") or body.get("columns")):
        abort(422, message="An upload job needs a template or columns: they cannot be inferred from records "
              "that have not arrived.", error_code="validation_error")
    spec = build_spec({k: body[k] for k in SPEC_KEYS if k in body},
                      current_app.extensions["ybb_templates"], records[:SAMPLE_ROWS])
    if body.get("callback_url"):
        check_callback_url(body["callback_url"], current_app.config["WEBHOOK_ALLOWLIST"])
    cache_key = None if body.get("upload") else _cache_key(key.tenant, spec.to_dict(), body, records)
    if cache_key and current_app.config["RESULT_CACHE"]:
        if cached := store.find_cached(key.tenant, cache_key, time.time()):
            return cached
    inline = _runs_inline(body, len(records))
    client = None if body.get("upload") or inline else _client_or_503()

    job_id = uuid.uuid4().hex
    directory = job_dir(job_id)
    partitions = write_partitions(records, directory / "input", current_app.config["PARTITION_ROWS"])
    now = time.time()
    default_name = (body.get("template") or "export").replace("/", "-")
    try:
        job = store.create({
            "id": job_id, "tenant": key.tenant, "state": "awaiting_records" if body.get("upload") else "queued",
            "template": body.get("template"), "format": spec.format,
            "filename": sanitize_filename(body.get("filename"), spec.format, default=default_name),
            "spec": spec.to_dict(), "request_id": request_id, "idempotency_key": idempotency_key,
            "partitions": len(partitions), "rows_total": len(records), "created_at": now,
            "expires_at": now + 3600 * current_app.config["RETENTION_HOURS"],
            "expected_rows": body.get("expected_rows"), "callback_url": body.get("callback_url"),
            "cache_key": cache_key,
        })
    except sqlite3.IntegrityError:  # a concurrent retry with the same Idempotency-Key won
        shutil.rmtree(directory, ignore_errors=True)
        return store.find_idempotent(key.tenant, idempotency_key)  # type: ignore[arg-type,return-value]
    job_transition(job, job["state"])
    if body.get("upload"):
        return job
    if inline:
        run_inline(store.path, job_id, job["spec"], partitions, str(directory / job["filename"]))
        return store.get(job_id)  # type: ignore[return-value]
    final = _submit(client, job, partitions, key, base_url)
    if _wants_sync(body, len(records)):
        _wait(final, job_id)
    return store.get(job_id)  # type: ignore[return-value]


def _cache_key(tenant: str, spec: dict, body: dict, records: list) -> str:
    digest = hashlib.sha256(orjson.dumps([tenant, spec, body.get("filename"), body.get("callback_url")],
                                         option=orjson.OPT_SORT_KEYS))
    try:
        digest.update(orjson.dumps(records, default=str))
    except TypeError:  # lone surrogates, which orjson refuses and the stdlib escapes
        digest.update(json.dumps(records, default=str).encode())
    return digest.hexdigest()


def append_records(job: dict[str, Any], records: Sequence[dict]) -> dict[str, Any]:
    """Store one uploaded batch as partitions, after those of earlier batches."""
    rows_per_partition = current_app.config["PARTITION_ROWS"]
    partitions = -(-len(records) // rows_per_partition)
    claimed = job_store().reserve_batch(job["id"], len(records), partitions)
    if claimed is None:
        abort(409, message=f"The export is {job['state']}; it takes no more records.", error_code="not_accepting_records")
    first_index, offset = claimed
    write_partitions(records, job_dir(job["id"]) / "input", rows_per_partition, first_index, offset)
    return job_store().get(job["id"])  # type: ignore[return-value]


def commit(job: dict[str, Any], key: ApiKey, base_url: str) -> dict[str, Any]:
    if job["state"] != "awaiting_records":
        abort(409, message=f"The export is {job['state']}; only an upload awaiting records can be committed.",
              error_code="not_accepting_records")
    if job["expected_rows"] is not None and job["expected_rows"] != job["rows_total"]:
        abort(422, message=f"Expected {job['expected_rows']} rows, received {job['rows_total']}.",
              error_code="row_count_mismatch", errors={"expected_rows": job["expected_rows"],
                                                       "received_rows": job["rows_total"]})
    client = _client_or_503()
    if not job_store().transition(job["id"], ("awaiting_records",), state="queued"):
        abort(409, message="The export was committed or cancelled meanwhile.", error_code="not_accepting_records")
    job_transition(job_store().get(job["id"]), "queued")  # type: ignore[arg-type]
    _submit(client, job, list_partitions(job_dir(job["id"]) / "input"), key, base_url)
    return job_store().get(job["id"])  # type: ignore[return-value]


def _submit(client, job: dict[str, Any], partitions, key: ApiKey, base_url: str):
    config = current_app.config
    notification = None
    if job.get("callback_url"):
        notification = Notification(job["callback_url"], key.webhook_secret, base_url,
                                    tuple(config["WEBHOOK_ALLOWLIST"]), config["WEBHOOK_ATTEMPTS"],
                                    config["WEBHOOK_BACKOFF"])
    directory = job_dir(job["id"])
    return submit_export(client, job_store().path, job["id"], job["spec"], partitions,
                         str(directory / job["filename"]), notification)


def _runs_inline(body: dict[str, Any], rows: int) -> bool:
    """Small synchronous exports run in this thread with the same steps as on the cluster,
    so that a PHP page never waits behind a big export in the cluster's queue. A webhook
    needs the cluster (its delivery retries must not hold a Gunicorn thread)."""
    return (not body.get("upload") and not body.get("callback_url") and body.get("mode", "auto") != "async"
            and rows <= current_app.config["INLINE_MAX_ROWS"])


def _wants_sync(body: dict[str, Any], rows: int) -> bool:
    mode = body.get("mode", "auto")
    return mode == "sync" or (mode == "auto" and rows <= current_app.config["SYNC_MAX_ROWS"])


def _wait(final, job_id: str) -> None:
    try:
        final.result(timeout=current_app.config["SYNC_TIMEOUT"])
    except TimeoutError:
        pass  # still running: the caller gets 202 and polls
    except Exception as exc:  # noqa: BLE001  the cluster lost the task (e.g. KilledWorker)
        _fail(job_id, "export_failed", f"The cluster could not run the export: {type(exc).__name__}")


def _fail(job_id: str, code: str, message: str) -> None:
    mark_failed(job_store(), job_id, code, message)


def _client_or_503():
    try:
        return dask_client()
    except (OSError, TimeoutError) as exc:
        current_app.logger.error("Dask scheduler unreachable: %s", exc)
        abort(503, message="The export cluster is unavailable; retry later.", error_code="cluster_unavailable",
              headers={"Retry-After": "30"})


def check_lost(job: dict[str, Any]) -> dict[str, Any]:
    """A queued or running job whose tasks the scheduler no longer has is failed, not left running."""
    if job["state"] not in ("queued", "running") or time.time() - job["created_at"] < current_app.config["LOST_JOB_GRACE"]:
        return job
    try:
        state = task_state(dask_client(), write_key(job["id"]))
    except (OSError, TimeoutError):
        return job  # the scheduler is down: readiness reports it; decide when it is back
    if state in (None, "erred", "forgotten"):
        code = "scheduler_lost" if state is None else "export_failed"
        _fail(job["id"], code, "The cluster lost this export's tasks (scheduler restart or repeated worker loss).")
        return job_store().get(job["id"])  # type: ignore[return-value]
    return job


def cancel(job: dict[str, Any]) -> dict[str, Any]:
    if job["state"] in FINAL_STATES:
        abort(409, message=f"The export has already ended ({job['state']}).", error_code="already_finished")
    store = job_store()
    if store.transition(job["id"], UNFINISHED, state="cancelled", finished_at=time.time()):
        job_transition(store.get(job["id"]), "cancelled")  # type: ignore[arg-type]
    if job["state"] != "awaiting_records":
        cancel_export(_client_or_503(), job["id"], job["partitions"])
    shutil.rmtree(job_dir(job["id"]), ignore_errors=True)
    return store.get(job["id"])  # type: ignore[return-value]

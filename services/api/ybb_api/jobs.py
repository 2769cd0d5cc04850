"""Export jobs for the views: store the records, create the job row, hand the graph to
Dask, cancel. The export itself is the engine's (ybb_engine), run on the workers."""
from __future__ import annotations

import shutil
import sqlite3
import time
import uuid
from pathlib import Path
from typing import Any

from flask import current_app

from ybb_engine.export import sanitize_filename
from ybb_engine.jobstore import FINAL_STATES, SqliteJobStore
from ybb_engine.partitions import write_partitions
from ybb_engine.pipeline import cancel_export, submit_export
from ybb_engine.spec import build_spec

from .cluster import dask_client
from .errors import abort

SPEC_KEYS = ("template", "columns", "format", "filters", "sort", "select", "rename", "order", "dedupe", "options")
SAMPLE_ROWS = 200
INPUT_ERROR_CODES = frozenset({"invalid_records", "cell_overflow"})  # the request's fault: 422


def job_store() -> SqliteJobStore:
    return current_app.extensions["ybb_store"]


def job_dir(job_id: str) -> Path:
    return Path(current_app.config["DATA_DIR"]) / "jobs" / job_id


def file_path(job: dict[str, Any]) -> Path:
    return job_dir(job["id"]) / job["filename"]


def get_job(job_id: str, tenant: str | None) -> dict[str, Any]:
    """The job, if `tenant` may see it (None: any tenant). Others get 404, so ids can't be probed."""
    job = job_store().get(job_id)
    if job is None or (tenant is not None and job["tenant"] != tenant):
        abort(404, message="No such export.", error_code="not_found")
    return job


def create_export(body: dict[str, Any], tenant: str, request_id: str | None, idempotency_key: str | None) -> dict:
    """Validate and submit; wait for the result when the export should be synchronous."""
    store = job_store()
    if idempotency_key and (existing := store.find_idempotent(tenant, idempotency_key)):
        return existing
    records = body["records"]
    spec = build_spec({k: body[k] for k in SPEC_KEYS if k in body},
                      current_app.extensions["ybb_templates"], records[:SAMPLE_ROWS])
    default_name = (body.get("template") or "export").replace("/", "-")
    filename = sanitize_filename(body.get("filename"), spec.format, default=default_name)
    client = _client_or_503()

    job_id = uuid.uuid4().hex
    directory = job_dir(job_id)
    partitions = write_partitions(records, directory / "input", current_app.config["PARTITION_ROWS"])
    now = time.time()
    try:
        store.create({
            "id": job_id, "tenant": tenant, "state": "queued", "template": body.get("template"),
            "format": spec.format, "filename": filename, "spec": spec.to_dict(), "request_id": request_id,
            "idempotency_key": idempotency_key, "partitions": len(partitions), "rows_total": len(records),
            "created_at": now, "expires_at": now + 3600 * current_app.config["RETENTION_HOURS"],
        })
    except sqlite3.IntegrityError:  # a concurrent retry with the same Idempotency-Key won
        shutil.rmtree(directory, ignore_errors=True)
        return store.find_idempotent(tenant, idempotency_key)  # type: ignore[arg-type,return-value]

    final = submit_export(client, store.path, job_id, spec.to_dict(), partitions, str(directory / filename))
    if _wants_sync(body, len(records)):
        try:
            final.result(timeout=current_app.config["SYNC_TIMEOUT"])
        except TimeoutError:
            pass  # still running: the caller gets 202 and polls
        except Exception as exc:  # noqa: BLE001  the cluster lost the task (e.g. KilledWorker)
            store.transition(job_id, ("queued", "running"), state="failed", error_code="export_failed",
                             error_message=f"The cluster could not run the export: {type(exc).__name__}",
                             finished_at=time.time())
    return store.get(job_id)  # type: ignore[return-value]


def _wants_sync(body: dict[str, Any], rows: int) -> bool:
    mode = body.get("mode", "auto")
    return mode == "sync" or (mode == "auto" and rows <= current_app.config["SYNC_MAX_ROWS"])


def _client_or_503():
    try:
        return dask_client()
    except (OSError, TimeoutError) as exc:
        current_app.logger.error("Dask scheduler unreachable: %s", exc)
        abort(503, message="The export cluster is unavailable; retry later.", error_code="cluster_unavailable",
              headers={"Retry-After": "30"})


def cancel(job: dict[str, Any]) -> dict[str, Any]:
    if job["state"] in FINAL_STATES:
        abort(409, message=f"The export has already ended ({job['state']}).", error_code="already_finished")
    store = job_store()
    store.transition(job["id"], ("awaiting_records", "queued", "running"), state="cancelled",
                     finished_at=time.time())
    cancel_export(_client_or_503(), job["id"], job["partitions"])
    shutil.rmtree(job_dir(job["id"]), ignore_errors=True)
    return store.get(job["id"])  # type: ignore[return-value]

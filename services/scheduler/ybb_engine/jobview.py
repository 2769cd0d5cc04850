"""A job as callers see it: in API answers and in webhook payloads."""
from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from .lifecycle import Job, State


def iso(epoch: float | None) -> str | None:
    return datetime.fromtimestamp(epoch, UTC).isoformat() if epoch is not None else None


def job_view(job: Job, base_url: str) -> dict[str, Any]:
    links = {"self": f"{base_url}/api/v1/exports/{job.id}"}
    if job.state is State.SUCCEEDED:
        links["file"] = f"{links['self']}/file"
    if job.state is State.AWAITING_RECORDS:
        links["records"] = f"{links['self']}/records"
        links["commit"] = f"{links['self']}/commit"
    error = None
    if job.error_code:
        error = {"code": job.error_code, "message": job.error_message, "errors": job.error_detail}
    return {
        "id": job.id,
        "state": job.state.value,
        "template": job.template,
        "format": job.format,
        "filename": job.filename,
        "rows_total": job.rows_total,
        "rows_done": job.rows_done,
        "rows": job.rows,
        "progress": job.progress,
        "file_size": job.size_bytes,
        "warnings": job.warnings,
        "error": error,
        "created_at": iso(job.created_at),
        "started_at": iso(job.started_at),
        "finished_at": iso(job.finished_at),
        "expires_at": iso(job.expires_at),
        "links": links,
        "webhook_status": job.webhook_status,
    }

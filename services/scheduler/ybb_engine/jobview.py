"""A job row as callers see it: in API answers and in webhook payloads."""
from __future__ import annotations

from datetime import datetime, timezone
from typing import Any


def iso(epoch: float | None) -> str | None:
    return datetime.fromtimestamp(epoch, timezone.utc).isoformat() if epoch is not None else None


def job_view(job: dict[str, Any], base_url: str) -> dict[str, Any]:
    state = job["state"]
    total = job["rows_total"] or 0
    progress = 100 if state == "succeeded" else int(100 * job["rows_done"] / total) if total else 0
    links = {"self": f"{base_url}/api/v1/exports/{job['id']}"}
    if state == "succeeded":
        links["file"] = f"{links['self']}/file"
    if state == "awaiting_records":
        links["records"] = f"{links['self']}/records"
        links["commit"] = f"{links['self']}/commit"
    error = None
    if job.get("error_code"):
        error = {"code": job["error_code"], "message": job["error_message"], "errors": job.get("error_detail")}
    return {
        **{k: job[k] for k in ("id", "state", "template", "format", "filename", "rows_total", "rows_done", "rows")},
        "progress": min(progress, 100),
        "file_size": job.get("size_bytes"),
        "warnings": job.get("warnings"),
        "error": error,
        "created_at": iso(job["created_at"]),
        "started_at": iso(job.get("started_at")),
        "finished_at": iso(job.get("finished_at")),
        "expires_at": iso(job["expires_at"]),
        "links": links,
        "webhook_status": job.get("webhook_status"),
    }

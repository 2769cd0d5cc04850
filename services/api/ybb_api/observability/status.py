"""What the monitoring page shows: the service's state and the jobs, read live from the
Dask scheduler, the data directory and the job store (through the ExportService)."""
from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

from ybb_engine.service import ClusterUnavailable, ExportService, Job, State

JOB_FIELDS = ("id", "tenant", "state", "template", "format", "rows_total", "rows_done", "rows", "size_bytes",
              "partitions", "request_id", "error_code", "error_message", "created_at", "started_at", "finished_at")


def api_status(version: str, started_at: float) -> dict[str, Any]:
    return {"ok": True, "version": version, "uptime_s": round(time.time() - started_at), "pid": os.getpid()}


def cluster_status(service: ExportService) -> dict[str, Any]:
    try:
        scheduler = service.cluster.scheduler()
        workers = service.cluster.workers()
    except ClusterUnavailable as exc:
        return {"scheduler": {"ok": False, "detail": f"scheduler unreachable: {exc}"}, "workers": []}
    return {"scheduler": {"ok": bool(workers), **scheduler, "workers": len(workers), "dashboard": "/dask/status"},
            "workers": workers}


def storage_status(data_dir: Path) -> dict[str, Any]:
    try:
        stats = os.statvfs(data_dir)
    except OSError as exc:
        return {"ok": False, "path": str(data_dir), "detail": exc.strerror}
    free, size = stats.f_bavail * stats.f_frsize, stats.f_blocks * stats.f_frsize
    return {"ok": os.access(data_dir, os.W_OK), "path": str(data_dir), "free_bytes": free, "size_bytes": size,
            "free_percent": round(100 * free / size, 1) if size else None}


def _row(job: Job) -> dict[str, Any]:
    row: dict[str, Any] = {name: getattr(job, name) for name in JOB_FIELDS}
    row["state"] = job.state.value
    row["progress"] = job.progress if job.state is State.SUCCEEDED else min(99, job.progress)
    duration = job.duration
    row["duration_s"] = round(duration, 3) if duration is not None else None
    return row


def jobs_overview(service: ExportService) -> dict[str, Any]:
    """Running now, the last 100, the recent failures with their error, and counts by state."""
    overview = service.overview()
    return {"running": [_row(j) for j in overview["running"]], "recent": [_row(j) for j in overview["recent"]],
            "failures": [_row(j) for j in overview["failures"]], "counts": overview["counts"]}


def service_status(version: str, started_at: float, service: ExportService) -> dict[str, Any]:
    """API, scheduler, each worker, storage: `status` is `degraded` when one of them is not ok."""
    cluster = cluster_status(service)
    body = {"api": api_status(version, started_at), **cluster, "storage": storage_status(service.layout.root)}
    healthy = all(body[part]["ok"] for part in ("api", "scheduler", "storage"))
    return {"status": "ok" if healthy else "degraded", **body}

"""What the monitoring page shows: the service's state and the jobs, read live from the
Dask scheduler, the data directory and the job store."""
from __future__ import annotations

import os
import sqlite3
import time
from pathlib import Path
from typing import Any

from distributed import Client

STARTED_AT = float(os.environ.get("YBB_API_STARTED_AT") or time.time())  # gunicorn.conf.py sets it in the master
JOB_COLUMNS = ("id", "tenant", "state", "template", "format", "rows_total", "rows_done", "rows", "size_bytes",
               "partitions", "request_id", "error_code", "error_message", "created_at", "started_at", "finished_at")
RECENT_JOBS = 100
RECENT_FAILURES = 20


def api_status(version: str) -> dict[str, Any]:
    return {"ok": True, "version": version, "uptime_s": round(time.time() - STARTED_AT), "pid": os.getpid()}


def _worker(address: str, info: dict[str, Any]) -> dict[str, Any]:
    metrics = info.get("metrics") or {}
    counts = metrics.get("task_counts") or {}
    return {"address": address, "name": str(info.get("name")), "status": info.get("status"),
            "nthreads": info.get("nthreads"), "memory_bytes": metrics.get("memory"),
            "memory_limit_bytes": info.get("memory_limit"), "cpu_percent": metrics.get("cpu"),
            "tasks_executing": counts.get("executing", 0), "tasks_in_memory": counts.get("memory", 0),
            "last_seen": info.get("last_seen")}


def cluster_status(client: Client) -> dict[str, Any]:
    info = client.scheduler_info(n_workers=-1)
    workers = [_worker(address, w) for address, w in sorted(info["workers"].items())]
    scheduler = {"ok": True, "address": info.get("address"), "workers": len(workers),
                 "uptime_s": round(time.time() - info["started"]) if info.get("started") else None,
                 "dashboard": "/dask/status"}
    return {"scheduler": scheduler, "workers": workers}


def storage_status(data_dir: str) -> dict[str, Any]:
    directory = Path(data_dir)
    try:
        stats = os.statvfs(directory)
    except OSError as exc:
        return {"ok": False, "path": str(directory), "detail": exc.strerror}
    free, size = stats.f_bavail * stats.f_frsize, stats.f_blocks * stats.f_frsize
    return {"ok": os.access(directory, os.W_OK), "path": str(directory), "free_bytes": free, "size_bytes": size,
            "free_percent": round(100 * free / size, 1) if size else None}


def _rows(conn: sqlite3.Connection, where: str, limit: int, params: tuple = ()) -> list[dict[str, Any]]:
    sql = f"SELECT {', '.join(JOB_COLUMNS)} FROM jobs {where} ORDER BY created_at DESC LIMIT ?"
    return [dict(zip(JOB_COLUMNS, row)) for row in conn.execute(sql, (*params, limit))]


def _with_progress(job: dict[str, Any]) -> dict[str, Any]:
    total = job.get("rows_total") or 0
    job["progress"] = 100 if job["state"] == "succeeded" else (
        min(99, int(100 * (job.get("rows_done") or 0) / total)) if total else 0)
    started = job.get("started_at")
    finished = job.get("finished_at") or (time.time() if started else None)
    job["duration_s"] = round(finished - started, 3) if started and finished else None
    return job


def jobs_overview(store_path: str) -> dict[str, Any]:
    """Running now, the last 100, the recent failures with their error, and counts by state."""
    conn = sqlite3.connect(store_path, timeout=5)
    try:
        running = _rows(conn, "WHERE state IN ('queued', 'running', 'awaiting_records')", RECENT_JOBS)
        recent = _rows(conn, "", RECENT_JOBS)
        failures = _rows(conn, "WHERE state = 'failed'", RECENT_FAILURES)
        counts = dict(conn.execute("SELECT state, COUNT(*) FROM jobs GROUP BY state").fetchall())
    finally:
        conn.close()
    return {"running": [_with_progress(j) for j in running], "recent": [_with_progress(j) for j in recent],
            "failures": [_with_progress(j) for j in failures], "counts": counts}


def service_status(version: str, data_dir: str, client_factory: Any) -> dict[str, Any]:
    """API, scheduler, each worker, storage: `status` is `degraded` when one of them is not ok."""
    try:
        cluster = cluster_status(client_factory())
    except (OSError, TimeoutError) as exc:
        cluster = {"scheduler": {"ok": False, "detail": f"scheduler unreachable: {exc}"}, "workers": []}
    cluster["scheduler"]["ok"] = cluster["scheduler"]["ok"] and bool(cluster["workers"])
    body = {"api": api_status(version), **cluster, "storage": storage_status(data_dir)}
    healthy = all(body[part]["ok"] for part in ("api", "scheduler", "storage"))
    return {"status": "ok" if healthy else "degraded", **body}

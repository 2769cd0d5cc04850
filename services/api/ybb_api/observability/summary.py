"""Summaries of the recent logs: slow requests, error patterns, endpoint usage, and a
per-minute timeline (requests, p50/p95 latency, export speed) for the charts. Computed
from the log files, so they cover every Gunicorn worker and survive restarts."""
from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from .logsearch import LogQuery, line_time, read_lines

SLOW_REQUESTS = 10
_VARIABLE = re.compile(r"\b[0-9a-f]{16,}\b|\d+")  # ids and numbers: the same pattern with other values


def percentile(values: list[float], fraction: float) -> float | None:
    """Nearest-rank percentile."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(0, min(len(ordered) - 1, round(fraction * len(ordered) + 0.5) - 1))]


def _endpoint_usage(requests: list[dict[str, Any]]) -> list[dict[str, Any]]:
    groups: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    for line in requests:
        groups[(line.get("method", ""), line.get("route", ""))].append(line)
    usage = []
    for (method, route), lines in groups.items():
        durations = [line.get("duration_ms") or 0.0 for line in lines]
        errors = sum(1 for line in lines if (line.get("status") or 0) >= 500)
        usage.append({"method": method, "route": route, "count": len(lines), "errors": errors,
                      "p50_ms": percentile(durations, 0.5), "p95_ms": percentile(durations, 0.95),
                      "bytes": sum(line.get("bytes") or 0 for line in lines)})
    return sorted(usage, key=lambda u: -u["count"])


def _error_patterns(lines: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Error answers grouped by route, status and code; error log lines by logger and message shape."""
    groups: dict[tuple, dict[str, Any]] = {}
    for line in lines:
        if line.get("event") == "request" and (line.get("status") or 0) >= 400:
            key: tuple = ("request", line.get("route"), line.get("status"), line.get("error_code"))
            pattern = f"{line.get('status')} {line.get('error_code') or ''} on {line.get('method')} {line.get('route')}"
        elif line.get("event") != "request" and line.get("level") in {"error", "critical"}:
            key = ("log", line.get("logger"), _VARIABLE.sub("#", line.get("message", ""))[:200])
            pattern = f"{line.get('logger')}: {key[2]}"
        else:
            continue
        group = groups.setdefault(key, {"pattern": pattern, "kind": key[0], "count": 0,
                                        "last_seen": line["time"], "request_id": line.get("request_id")})
        group["count"] += 1  # lines come newest first: the first one seen is the latest
    return sorted(groups.values(), key=lambda g: -g["count"])


def _minute(line: dict[str, Any]) -> str:
    return line["time"][:16]  # "2026-11-29T10:04"


def timeline(lines: list[dict[str, Any]], since: datetime, now: datetime) -> list[dict[str, Any]]:
    """One point per minute from `since` to `now`, minutes without traffic included."""
    durations: dict[str, list[float]] = defaultdict(list)
    speeds: dict[str, list[float]] = defaultdict(list)
    errors: dict[str, int] = defaultdict(int)
    for line in lines:
        if line.get("event") == "request":
            durations[_minute(line)].append(line.get("duration_ms") or 0.0)
            errors[_minute(line)] += (line.get("status") or 0) >= 500
        elif line.get("event") == "job" and line.get("state") == "succeeded" and line.get("rows_per_s"):
            speeds[_minute(line)].append(line["rows_per_s"])
    points, minute = [], since.replace(second=0, microsecond=0)
    while minute <= now:
        key = minute.strftime("%Y-%m-%dT%H:%M")
        values = durations.get(key, [])
        speed = speeds.get(key, [])
        points.append({"minute": key + "Z", "requests": len(values), "errors": errors.get(key, 0),
                       "p50_ms": percentile(values, 0.5), "p95_ms": percentile(values, 0.95),
                       "rows_per_s": round(sum(speed) / len(speed), 1) if speed else None})
        minute += timedelta(minutes=1)
    return points


def _jobs(lines: Iterable[dict[str, Any]]) -> dict[str, int]:
    counts: dict[str, int] = defaultdict(int)
    for line in lines:
        if line.get("event") == "job":
            counts[line.get("state", "unknown")] += 1
    return dict(counts)


def summarize(log_dir: str | Path, window_seconds: float, now: datetime | None = None) -> dict[str, Any]:
    now = now or datetime.now(UTC)
    since = now - timedelta(seconds=window_seconds)
    lines = [line for line in read_lines(log_dir, LogQuery(since=since)) if line_time(line) >= since]
    requests = [line for line in lines if line.get("event") == "request"]
    slow = sorted(requests, key=lambda line: -(line.get("duration_ms") or 0))[:SLOW_REQUESTS]
    return {
        "since": since.isoformat(), "until": now.isoformat(), "requests": len(requests),
        "slow_requests": [{k: line.get(k) for k in ("time", "request_id", "method", "path", "route", "status",
                                                    "duration_ms", "tenant")} for line in slow],
        "error_patterns": _error_patterns(lines),
        "endpoint_usage": _endpoint_usage(requests),
        "jobs": _jobs(lines),
        "timeline": timeline(lines, since, now),
    }

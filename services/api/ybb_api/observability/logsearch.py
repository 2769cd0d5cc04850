"""Search the JSON log files under LOG_DIR (ybb-api.jsonl, ybb-worker.jsonl and their
rotations), newest first, and tell one request's story: its request line, its job and
what the workers logged for that job."""
from __future__ import annotations

import heapq
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import orjson

LEVELS = {"debug": 10, "info": 20, "warning": 30, "error": 40, "critical": 50}
DISORDER_SLACK_S = 60  # lines of several processes share a file slightly out of order
_ROTATED = re.compile(r"^(ybb-[\w.-]+\.jsonl)(?:\.(\d+))?$")


@dataclass(frozen=True)
class LogQuery:
    text: str | None = None
    level: str | None = None  # the minimum level
    request_id: str | None = None
    tenant: str | None = None
    job_id: str | None = None
    since: datetime | None = None
    until: datetime | None = None

    def needles(self) -> list[str]:
        """Substrings every matching raw line contains: a cheap test before parsing."""
        return [n for n in (self.request_id, self.job_id, self.tenant) if n]

    def matches(self, line: dict[str, Any]) -> bool:
        if self.level and LEVELS.get(line.get("level", ""), 0) < LEVELS.get(self.level, 0):
            return False
        for name in ("request_id", "tenant", "job_id"):
            wanted = getattr(self, name)
            if wanted and line.get(name) != wanted:
                return False
        if self.until and line_time(line) > self.until:
            return False
        return not self.text or self.text.lower() in orjson.dumps(line).decode().lower()


def line_time(line: dict[str, Any]) -> datetime:
    return datetime.fromisoformat(line["time"])


def log_files(log_dir: str | Path) -> dict[str, list[Path]]:
    """Each log's files, newest first: ybb-api.jsonl, ybb-api.jsonl.1, ..."""
    chains: dict[str, list[tuple[int, Path]]] = {}
    directory = Path(log_dir)
    for path in directory.iterdir() if directory.is_dir() else ():
        if found := _ROTATED.match(path.name):
            chains.setdefault(found.group(1), []).append((int(found.group(2) or 0), path))
    return {name: [p for _, p in sorted(files)] for name, files in chains.items()}


def _newest_first(files: list[Path], needles: list[str], since: datetime | None) -> Iterator[dict[str, Any]]:
    for path in files:
        try:
            raw_lines = path.read_bytes().splitlines()
        except FileNotFoundError:  # rotated away while we listed
            continue
        for raw in reversed(raw_lines):
            if needles and not all(n.encode() in raw for n in needles):
                continue
            try:
                line = orjson.loads(raw)
                when = line_time(line)
            except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
                continue  # not one of our lines (e.g. a library printing to the file)
            if since and when < since:
                if (since - when).total_seconds() > DISORDER_SLACK_S:
                    return
                continue
            yield line


def read_lines(log_dir: str | Path, query: LogQuery) -> Iterator[dict[str, Any]]:
    """Every line matching `query`, across all the log files, newest first."""
    streams = [_newest_first(files, query.needles(), query.since) for files in log_files(log_dir).values()]
    merged = heapq.merge(*streams, key=lambda line: line["time"], reverse=True)
    return (line for line in merged if query.matches(line))


def search(log_dir: str | Path, query: LogQuery, offset: int = 0, limit: int = 50) -> dict[str, Any]:
    """One page of matches, newest first; `has_more` says whether another page exists."""
    page: list[dict[str, Any]] = []
    for index, line in enumerate(read_lines(log_dir, query)):
        if index >= offset + limit:
            return {"items": page, "offset": offset, "limit": limit, "has_more": True}
        if index >= offset:
            page.append(line)
    return {"items": page, "offset": offset, "limit": limit, "has_more": False}


def story(log_dir: str | Path, request_id: str, since: datetime | None = None) -> dict[str, Any]:
    """Everything about one request, oldest first: its lines, and the lines of the jobs it made."""
    own = list(read_lines(log_dir, LogQuery(request_id=request_id, since=since)))
    job_ids = sorted({line["job_id"] for line in own if line.get("job_id")})
    lines = {orjson.dumps(line): line for line in own}
    for job_id in job_ids:
        for line in read_lines(log_dir, LogQuery(job_id=job_id, since=since)):
            lines.setdefault(orjson.dumps(line), line)
    ordered = sorted(lines.values(), key=lambda line: line["time"])
    return {"request_id": request_id, "job_ids": job_ids, "lines": ordered}


def parse_window(text: str) -> float:
    """'90s', '15m', '1h', '2d' (or plain seconds) in seconds."""
    found = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([smhd]?)\s*", text or "")
    if not found:
        raise ValueError(f"not a duration: {text!r} (use e.g. 30m, 1h, 2d)")
    return float(found.group(1)) * {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}[found.group(2)]


def only(lines: Iterable[dict[str, Any]], event: str) -> Iterator[dict[str, Any]]:
    return (line for line in lines if line.get("event") == event)

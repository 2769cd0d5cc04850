"""Logs and Sentry for the API processes and the Dask workers. Plain Python: no Flask here.

- `configure_logging`: one JSON object per line on stdout, and in LOG_DIR/ybb-<process>.jsonl
  (rotated under a file lock, so several processes can share the file).
- `log_fields`: context (request_id, tenant, job_id, ...) that every line and Sentry event carries.
- `init_sentry` and `scrub_event`: Sentry without personal data.
- `job_context` and `job_transition`: the hooks the job code calls (tasks.py, jobs.py).
"""
from __future__ import annotations

import contextlib
import contextvars
import fcntl
import logging
import os
import re
import sys
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson
import sentry_sdk

if TYPE_CHECKING:
    from .lifecycle import Job

CONTEXT_KEYS = ("request_id", "tenant", "job_id", "template", "format", "task")
SENTRY_TAGS = ("request_id", "tenant", "job_id", "template", "format", "task")
ALWAYS_LOGGED = ("ybb.access", "ybb.jobs")  # written whatever LOG_LEVEL says, like an access log
LOG_FILE_MAX_BYTES = 10 * 1024 * 1024
LOG_FILE_BACKUPS = 5

_fields: contextvars.ContextVar[dict[str, Any] | None] = contextvars.ContextVar("ybb_log_fields", default=None)
_process_name = "python"
log = logging.getLogger("ybb.jobs")


# -- context ---------------------------------------------------------------------------
def log_fields() -> dict[str, Any]:
    """The fields bound to the current request or job (a live dict: updates stick to it)."""
    fields = _fields.get()
    if fields is None:
        fields = {}
        _fields.set(fields)
    return fields


def bind_fields(**fields: Any) -> contextvars.Token:
    """Start a fresh context (a request or a job task); reset it with `unbind_fields(token)`."""
    return _fields.set({k: v for k, v in fields.items() if v is not None})


def unbind_fields(token: contextvars.Token) -> None:
    _fields.reset(token)


# -- JSON lines --------------------------------------------------------------------------
def iso_time(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class JsonFormatter(logging.Formatter):
    """time, level, logger, process, pid, message, the bound context, then `extra={"ybb": {...}}`."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": iso_time(record.created),
            "level": record.levelname.lower(),
            "logger": record.name,
            "process": _process_name,
            "pid": record.process,
            "message": record.getMessage(),
        }
        line.update(getattr(record, "ybb_context", None) or _fields.get() or {})
        line.update(getattr(record, "ybb", None) or {})
        if record.exc_info:
            line["exc"] = self.formatException(record.exc_info)
        return orjson.dumps(line, default=str).decode()


class _ContextFilter(logging.Filter):
    """Freezes the context on the record: a handler may format it later, in another thread."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "ybb_context"):
            record.ybb_context = dict(_fields.get() or {})
        return True


class StdoutHandler(logging.StreamHandler):
    """Writes to whatever sys.stdout is at the time (test runners swap it)."""

    @property
    def stream(self):  # noqa: ANN201
        return sys.stdout

    @stream.setter
    def stream(self, _value) -> None:  # noqa: ANN001
        pass


class SharedRotatingFileHandler(logging.Handler):
    """Appends to one file from several processes (Gunicorn or Dask workers); whoever finds
    it too large rotates it while holding an flock, and the others reopen it."""

    def __init__(self, path: Path, max_bytes: int = LOG_FILE_MAX_BYTES, backups: int = LOG_FILE_BACKUPS) -> None:
        super().__init__()
        self.path, self.max_bytes, self.backups = Path(path), max_bytes, backups
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock_fd = os.open(f"{self.path}.lock", os.O_CREAT | os.O_RDWR, 0o640)
        self._fd: int | None = None

    def _open(self) -> int:
        if self._fd is not None:
            os.close(self._fd)
        self._fd = os.open(self.path, os.O_CREAT | os.O_WRONLY | os.O_APPEND, 0o640)
        return self._fd

    def _rotate(self) -> None:
        for n in range(self.backups - 1, 0, -1):
            older = Path(f"{self.path}.{n}")
            if older.exists():
                os.replace(older, f"{self.path}.{n + 1}")
        os.replace(self.path, f"{self.path}.1")

    def emit(self, record: logging.LogRecord) -> None:
        try:
            data = (self.format(record) + "\n").encode()
            fcntl.flock(self._lock_fd, fcntl.LOCK_EX)
            try:
                fd = self._fd if self._fd is not None else self._open()
                try:
                    on_disk = os.stat(self.path)
                    if on_disk.st_ino != os.fstat(fd).st_ino:  # another process rotated it
                        fd = self._open()
                    elif on_disk.st_size and on_disk.st_size + len(data) > self.max_bytes:
                        self._rotate()
                        fd = self._open()
                except FileNotFoundError:
                    fd = self._open()
                os.write(fd, data)
            finally:
                fcntl.flock(self._lock_fd, fcntl.LOCK_UN)
        except Exception:  # noqa: BLE001  logging must never break the caller
            self.handleError(record)

    def close(self) -> None:
        for fd in (self._fd, self._lock_fd):
            if fd is not None:
                with contextlib.suppress(OSError):
                    os.close(fd)
        self._fd = None
        super().close()


def log_file(log_dir: str | Path, process: str) -> Path:
    return Path(log_dir) / f"ybb-{process}.jsonl"


def configure_logging(process: str, level: str | None = None, log_dir: str | None = None,
                      extra_loggers: Iterable[str] = ()) -> None:
    """JSON lines on stdout and (with `log_dir`) in a rotating file. Idempotent: replaces the
    handlers it installed before. `extra_loggers` (e.g. "distributed", "gunicorn.error") stop
    writing their own format and go through ours."""
    global _process_name
    _process_name = process
    root = logging.getLogger()
    for handler in [h for h in root.handlers if getattr(h, "_ybb", False)]:
        root.removeHandler(handler)
        handler.close()
    formatter, context = JsonFormatter(), _ContextFilter()
    handlers: list[logging.Handler] = [StdoutHandler()]
    if log_dir:
        handlers.append(SharedRotatingFileHandler(log_file(log_dir, process)))
    for handler in handlers:
        handler._ybb = True  # type: ignore[attr-defined]
        handler.setFormatter(formatter)
        handler.addFilter(context)
        root.addHandler(handler)
    root.setLevel((level or "info").upper())
    for name in ALWAYS_LOGGED:
        logging.getLogger(name).setLevel(logging.INFO)
    for name in extra_loggers:
        other = logging.getLogger(name)
        other.handlers.clear()
        other.propagate = True


# -- Sentry ------------------------------------------------------------------------------
FILTERED = "[Filtered]"
SAFE_HEADERS = frozenset({"user-agent", "content-type", "content-length", "accept", "host", "x-request-id"})
_SECRETS = [
    re.compile(r"ybb_[A-Za-z0-9_-]{8,}"),  # API keys
    re.compile(r"[\w.+-]+@[\w-]+\.[\w.-]+"),  # emails
    re.compile(r"'[^']*'|\"[^\"]*\""),  # quoted values: Python puts the offending value in quotes
    re.compile(r"\+?\d[\d\s().-]{6,}\d"),  # phone numbers (and other long digit runs)
]


def scrub_text(text: str) -> str:
    """Removes what looks like an API key, an email, a quoted value or a phone number."""
    for pattern in _SECRETS:
        text = pattern.sub(FILTERED, text)
    return text


def _scrub_frames(container: dict[str, Any] | None) -> None:
    for frame in ((container or {}).get("stacktrace") or {}).get("frames") or []:
        frame.pop("vars", None)


def _scrub_strings(value: Any) -> Any:
    if isinstance(value, str):
        return scrub_text(value)
    if isinstance(value, dict):
        return {k: _scrub_strings(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_scrub_strings(v) for v in value]
    return value


def scrub_event(event: dict[str, Any], hint: Any = None) -> dict[str, Any] | None:
    """before_send / before_send_transaction: no request bodies, cookies, API keys, record
    values or local variables leave the process. Dask's "Compute Failed" log lines (they
    print task arguments) are dropped: `job_context` reports the exception itself."""
    logentry = event.get("logentry") or {}
    if event.get("logger", "").startswith("distributed") and "Compute Failed" in str(logentry.get("message", "")):
        return None
    request = event.get("request")
    if request:
        for name in ("data", "cookies", "env"):
            request.pop(name, None)
        headers = request.get("headers") or {}
        request["headers"] = {k: v for k, v in headers.items() if k.lower() in SAFE_HEADERS}
        if request.get("query_string"):
            request["query_string"] = FILTERED
    event.pop("user", None)
    for exception in (event.get("exception") or {}).get("values") or []:
        if isinstance(exception.get("value"), str):
            exception["value"] = scrub_text(exception["value"])
        _scrub_frames(exception)
    for thread in (event.get("threads") or {}).get("values") or []:
        _scrub_frames(thread)
    if logentry:
        event["logentry"] = {"message": scrub_text(str(logentry.get("formatted") or logentry.get("message", "")))}
    if isinstance(event.get("message"), str):
        event["message"] = scrub_text(event["message"])
    crumbs = (event.get("breadcrumbs") or {}).get("values") or []
    event["breadcrumbs"] = {"values": [
        {k: scrub_text(v) if k == "message" and isinstance(v, str) else v for k, v in c.items() if k != "data"}
        for c in crumbs if str(c.get("category", "")).startswith("ybb")
    ]}
    for key in ("extra", "spans"):
        if key in event:
            event[key] = _scrub_strings(event[key])
    return event


def init_sentry(dsn: str | None, *, service: str, release: str | None, environment: str | None = None,
                traces_sample_rate: float = 0.0, integrations: Iterable[Any] = ()) -> bool:
    """Starts Sentry when `dsn` is set; without it, does nothing (and says nothing)."""
    if not dsn:
        return False
    sentry_sdk.init(
        dsn=dsn,
        release=release,
        environment=environment or "production",
        traces_sample_rate=traces_sample_rate,
        integrations=list(integrations),
        data_collection={  # collect nothing personal; scrub_event then checks what is left
            "user_info": False, "cookies": {"mode": "off"}, "http_bodies": [],
            "http_headers": {"request": {"mode": "allowlist", "terms": sorted(SAFE_HEADERS)}},
            "url_query_params": {"mode": "off"}, "stack_frame_variables": False,
            "database_query_data": False, "queues": False,
        },
        max_request_body_size="never",
        include_local_variables=False,
        # sentry-sdk types events as a TypedDict (Event); scrub_event works on them as plain dicts.
        before_send=scrub_event,  # type: ignore[arg-type]
        before_send_transaction=scrub_event,  # type: ignore[arg-type]
    )
    sentry_sdk.set_tag("service", service)
    return True


def _tag_sentry(fields: dict[str, Any]) -> None:
    scope = sentry_sdk.get_current_scope()
    for key in SENTRY_TAGS:
        if fields.get(key) is not None:
            scope.set_tag(key, fields[key])


# -- the hooks the job code calls --------------------------------------------------------
@contextlib.contextmanager
def job_context(job_id: str, *, task: str | None = None, job: Job | None = None) -> Iterator[None]:
    """Everything inside runs for one job: logs and Sentry events carry its id and tags
    (`job` adds its tenant, template, format and request id). An exception escaping the
    block is reported to Sentry here, with those tags, then re-raised."""
    token = bind_fields(**{**(_fields.get() or {}), **_job_fields(job), "job_id": job_id, "task": task})
    try:
        with sentry_sdk.new_scope():
            _tag_sentry(log_fields())
            try:
                yield
            except Exception as exc:
                sentry_sdk.capture_exception(exc)
                raise
    finally:
        unbind_fields(token)


def _job_numbers(job: Job) -> dict[str, Any]:
    duration = job.duration if job.finished_at else None
    rows = job.rows if job.rows is not None else job.rows_done
    return {
        "rows": rows,
        "rows_total": job.rows_total,
        "partitions": job.partitions,
        "duration_ms": round(duration * 1000, 1) if duration is not None else None,
        "rows_per_s": round(rows / duration, 1) if duration and rows else None,
    }


def _job_fields(job: Job | None) -> dict[str, Any]:
    if job is None:
        return {}
    found = {"tenant": job.tenant, "template": job.template, "format": job.format, "request_id": job.request_id}
    return {k: v for k, v in found.items() if v is not None}


def job_transition(job: Job, state: str, **extra: Any) -> None:
    """One structured log line per job state change (`event: "job"`); the job's tenant,
    template, format and request id join the current context for the lines that follow."""
    fields = log_fields()
    fields.update({"job_id": job.id, **_job_fields(job)})
    _tag_sentry(fields)
    line = {"event": "job", "state": state, **_job_numbers(job), "error_code": job.error_code, **extra}
    level = logging.WARNING if state == "failed" else logging.INFO  # State.FAILED
    log.log(level, "job %s %s", job.id, state, extra={"ybb": line})

"""The engine's settings, read once from the environment (12-factor; docs/configuration.md).

`EngineSettings` is what the export engine, the Dask workers and the sweeper need. The
web layer's `Config` extends it with the web-only settings, and Gunicorn's
configuration and the worker preload read theirs from here too, so that every variable
is read in one place. Attributes are upper case: Flask copies them into `app.config`.
"""
from __future__ import annotations

import os
from pathlib import Path

from .limits import Limits

VERSION = "1.0.0"


def env(name: str, default: str | None = None) -> str | None:
    """A value from NAME, or from the file named by NAME_FILE (Docker/systemd secrets)."""
    file_name = os.environ.get(f"{name}_FILE")
    if file_name:
        return Path(file_name).read_text().strip()
    return os.environ.get(name, default)


def env_int(name: str, default: int) -> int:
    """NAME as an integer; unset or empty: `default` (0 is 0, not the default)."""
    value = (env(name) or "").strip()
    return int(value) if value else default


def env_float(name: str, default: float) -> float:
    value = (env(name) or "").strip()
    return float(value) if value else default


def env_list(name: str) -> list[str]:
    return [item.strip() for item in (env(name, "") or "").split(",") if item.strip()]


def env_bool(name: str, default: bool) -> bool:
    return (env(name, "1" if default else "0") or "").lower() in {"1", "true", "yes", "on"}


class EngineSettings:
    """Every engine setting. Read when instantiated; tests pass overrides as keywords."""

    VERSION = VERSION

    def __init__(self, **overrides: object) -> None:
        self.ENV = env("YBB_ENV", "production") or "production"
        self.DATA_DIR = env("DATA_DIR", "var/data") or "var/data"
        self.DASK_SCHEDULER_ADDRESS = env("DASK_SCHEDULER_ADDRESS", "tcp://127.0.0.1:8786")
        self.DASK_CONNECT_TIMEOUT = env_int("DASK_CONNECT_TIMEOUT", 10)
        # Mutual TLS with the scheduler (PEM paths; all three or none): with them the client
        # presents DASK_TLS_CERT and trusts only DASK_TLS_CA_FILE, and DASK_SCHEDULER_ADDRESS
        # must be tls://. The scheduler and workers get the same files (docs/configuration.md).
        self.DASK_TLS_CA_FILE = env("DASK_TLS_CA_FILE") or None
        self.DASK_TLS_CERT = env("DASK_TLS_CERT") or None
        self.DASK_TLS_KEY = env("DASK_TLS_KEY") or None
        self.READY_MIN_WORKERS = env_int("READY_MIN_WORKERS", 1)
        self.PARTITION_ROWS = env_int("PARTITION_ROWS", 5_000)
        self.SYNC_MAX_ROWS = env_int("SYNC_MAX_ROWS", 5_000)
        self.INLINE_MAX_ROWS = env_int("INLINE_MAX_ROWS", 1_000)
        self.SYNC_TIMEOUT = env_int("SYNC_TIMEOUT", 120)
        self.RETENTION_HOURS = env_int("RETENTION_HOURS", 24)
        # The job store: SQLite at DATA_DIR/jobs.sqlite3 (one host), or PostgreSQL at this URL
        # (postgresql://user:password@host:5432/db); workers resolve its password themselves.
        self.JOB_STORE_URL = env("JOB_STORE_URL") or None
        self.JOB_ROW_RETENTION_HOURS = env_int("JOB_ROW_RETENTION_HOURS", 168)  # after expiry; 0: keep rows
        self.RESULT_CACHE = env_bool("RESULT_CACHE", True)
        self.LOST_JOB_GRACE = env_int("LOST_JOB_GRACE", 30)
        self.JOB_TIME_LIMIT = env_int("JOB_TIME_LIMIT", 3600)  # seconds of running; 0: none
        self.NO_WORKERS_GRACE = env_int("NO_WORKERS_GRACE", 300)
        # The API keys (ybb_api.keys): the API authenticates with them, the workers sign webhooks with them.
        self.API_KEYS_FILE = env("API_KEYS_FILE")
        self.WEBHOOK_ALLOWLIST = env_list("WEBHOOK_ALLOWLIST")
        self.WEBHOOK_ATTEMPTS = env_int("WEBHOOK_ATTEMPTS", 4)
        self.WEBHOOK_BACKOFF = env_float("WEBHOOK_BACKOFF", 2.0)
        self.LOG_LEVEL = (env("LOG_LEVEL", "info") or "info").lower()
        self.LOG_DIR = env("LOG_DIR") or None
        self.SENTRY_DSN = env("SENTRY_DSN") or None
        self.SENTRY_ENVIRONMENT = env("SENTRY_ENVIRONMENT") or None  # None: ENV
        self.SENTRY_TRACES_SAMPLE_RATE = env_float("SENTRY_TRACES_SAMPLE_RATE", 0.0)
        self.SENTRY_RELEASE = env("SENTRY_RELEASE") or VERSION
        self.WORKER_NICE = env_int("WORKER_NICE", 10)
        # The bounds of one request (docs/security.md#limits); EngineSettings.limits() hands them out.
        self.MAX_RECORDS_PER_REQUEST = env_int("MAX_RECORDS_PER_REQUEST", 1_048_575)
        self.MAX_COLUMNS = env_int("MAX_COLUMNS", 16_384)  # capped at Excel's 16,384 by Limits
        self.MAX_FIELD_NAME_CHARS = env_int("MAX_FIELD_NAME_CHARS", 255)
        self.MAX_FILTERS = env_int("MAX_FILTERS", 100)
        self.MAX_FILTER_VALUES = env_int("MAX_FILTER_VALUES", 10_000)
        # Named SQL sources (docs/sources.md); their connections are SOURCE_<NAME>_URL or DB_*.
        self.SOURCES_DIRS = env_list("SOURCES_DIRS")  # more source files, beside the shipped ones
        self.SOURCE_MAX_ROWS = env_int("SOURCE_MAX_ROWS", 2_000_000)
        # Rows per source read (one Dask task each): larger than PARTITION_ROWS, as each read is a
        # query with its joins, and fewer reads mean fewer pieces to shuffle for the sort.
        self.SOURCE_PARTITION_ROWS = env_int("SOURCE_PARTITION_ROWS", 50_000)
        for name, value in overrides.items():
            setattr(self, name, value)

    @property
    def data_dir(self) -> Path:
        return Path(self.DATA_DIR)

    def limits(self) -> Limits:
        """The request bounds, as the spec builder and the service check them."""
        return Limits(records=self.MAX_RECORDS_PER_REQUEST, columns=self.MAX_COLUMNS,
                      field_name_chars=self.MAX_FIELD_NAME_CHARS, filters=self.MAX_FILTERS,
                      filter_values=self.MAX_FILTER_VALUES)

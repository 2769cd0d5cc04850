"""One configuration object, read from the environment (12-factor)."""
from __future__ import annotations

import os
from pathlib import Path

DEFAULT_SECRET_KEY = "development-only-secret-key"


class ConfigError(RuntimeError):
    """The configuration is unsafe or incomplete; the service refuses to start."""


def env(name: str, default: str | None = None) -> str | None:
    """A value from NAME, or from the file named by NAME_FILE (Docker/systemd secrets)."""
    file_name = os.environ.get(f"{name}_FILE")
    if file_name:
        return Path(file_name).read_text().strip()
    return os.environ.get(name, default)


def env_int(name: str, default: int) -> int:
    return int(env(name, str(default)))  # type: ignore[arg-type]


def env_list(name: str) -> list[str]:
    return [item.strip() for item in (env(name, "") or "").split(",") if item.strip()]


def env_bool(name: str, default: bool) -> bool:
    return (env(name, "1" if default else "0") or "").lower() in {"1", "true", "yes", "on"}


class Config:
    """Every setting, documented in docs/configuration.md. Read when instantiated."""

    API_TITLE = "YBB Data Management Service"
    API_VERSION = "v1"
    OPENAPI_VERSION = "3.0.3"
    OPENAPI_URL_PREFIX = "/"
    OPENAPI_JSON_PATH = "api/v1/openapi.json"
    OPENAPI_SWAGGER_UI_PATH = "docs"
    OPENAPI_SWAGGER_UI_URL = "https://cdn.jsdelivr.net/npm/swagger-ui-dist@5/"
    VERSION = "1.0.0"

    def __init__(self) -> None:
        self.ENV = env("YBB_ENV", "production")
        self.SECRET_KEY = env("SECRET_KEY", DEFAULT_SECRET_KEY)
        self.API_KEYS_FILE = env("API_KEYS_FILE")
        self.DATA_DIR = env("DATA_DIR", "var/data")
        self.DASK_SCHEDULER_ADDRESS = env("DASK_SCHEDULER_ADDRESS", "tcp://127.0.0.1:8786")
        self.DASK_CONNECT_TIMEOUT = env_int("DASK_CONNECT_TIMEOUT", 10)
        self.READY_MIN_WORKERS = env_int("READY_MIN_WORKERS", 1)
        self.PARTITION_ROWS = env_int("PARTITION_ROWS", 5_000)
        self.SYNC_MAX_ROWS = env_int("SYNC_MAX_ROWS", 5_000)
        self.INLINE_MAX_ROWS = env_int("INLINE_MAX_ROWS", 1_000)
        self.SYNC_TIMEOUT = env_int("SYNC_TIMEOUT", 120)
        self.BULK_MIN_BYTES = env_int("BULK_MIN_BYTES", 1 << 20)
        self.BULK_NICE = env_int("BULK_NICE", 10)
        self.RETENTION_HOURS = env_int("RETENTION_HOURS", 24)
        self.USE_X_ACCEL = env_bool("USE_X_ACCEL", False)
        self.X_ACCEL_PREFIX = env("X_ACCEL_PREFIX", "/_protected_files")
        self.MAX_CONTENT_LENGTH = env_int("MAX_CONTENT_LENGTH", 100 * 1024 * 1024)
        self.TRUST_PROXY = env_bool("TRUST_PROXY", True)
        self.SECRET_KEYS_PREVIOUS = env_list("SECRET_KEYS_PREVIOUS")
        self.DOWNLOAD_URL_TTL = env_int("DOWNLOAD_URL_TTL", 3600)
        self.RESULT_CACHE = env_bool("RESULT_CACHE", True)
        self.LOST_JOB_GRACE = env_int("LOST_JOB_GRACE", 30)
        self.WEBHOOK_ALLOWLIST = env_list("WEBHOOK_ALLOWLIST")
        self.WEBHOOK_ATTEMPTS = env_int("WEBHOOK_ATTEMPTS", 4)
        self.WEBHOOK_BACKOFF = float(env("WEBHOOK_BACKOFF", "2.0"))  # type: ignore[arg-type]
        self.CORS_ORIGINS = env_list("CORS_ORIGINS")
        self.COMPAT_KEYLESS_IPS = env_list("COMPAT_KEYLESS_IPS")
        self.COMPAT_TENANT = env("COMPAT_TENANT", "legacy")

    def check(self) -> None:
        """Refuse default or missing secrets outside development."""
        if self.ENV == "development":
            return
        if not self.SECRET_KEY or self.SECRET_KEY == DEFAULT_SECRET_KEY:
            raise ConfigError("SECRET_KEY (or SECRET_KEY_FILE) must be set to a non-default value outside development")
        if not self.API_KEYS_FILE:
            raise ConfigError("API_KEYS_FILE must name the API keys file outside development")


class TestingConfig(Config):
    __test__ = False  # not a pytest test class

    def __init__(self, **overrides: object) -> None:
        super().__init__()
        self.ENV = "testing"
        self.TESTING = True
        self.SECRET_KEY = "testing-secret-key-not-for-production"
        self.DASK_CONNECT_TIMEOUT = 5
        for name, value in overrides.items():
            setattr(self, name, value)

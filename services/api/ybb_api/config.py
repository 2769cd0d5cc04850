"""One configuration object, read from the environment (12-factor)."""
from __future__ import annotations

import os
import time

from ybb_engine.settings import EngineSettings, env, env_bool, env_int, env_list

DEFAULT_SECRET_KEY = "development-only-secret-key"


def _env_count(name: str, default: int) -> int:
    """A count where 0 means off (env_int would read 0 as unset): empty or unset is `default`."""
    value = (env(name) or "").strip()
    count = int(value) if value else default
    if count < 0:
        raise ValueError(f"{name} must be 0 or more, not {count}")
    return count


class ConfigError(RuntimeError):
    """The configuration is unsafe or incomplete; the service refuses to start."""


class Config(EngineSettings):
    """The engine's settings plus the web layer's, documented in docs/configuration.md.
    Read when instantiated; keywords override (tests)."""

    API_TITLE = "YBB Data Management Service"
    API_VERSION = "v1"
    OPENAPI_VERSION = "3.0.3"
    OPENAPI_URL_PREFIX = "/"
    OPENAPI_JSON_PATH = "api/v1/openapi.json"
    OPENAPI_SWAGGER_UI_PATH = "docs"
    # Swagger UI's files come from the pinned swagger-ui-bundle package, served by the app itself
    # (resources/docs.py): /docs works without internet access and loads nothing from other hosts.
    OPENAPI_SWAGGER_UI_URL = "/docs/static/"
    OPENAPI_SWAGGER_UI_CONFIG = {"validatorUrl": None}  # no badge image from validator.swagger.io

    def __init__(self, **overrides: object) -> None:
        super().__init__()
        self.SECRET_KEY = env("SECRET_KEY", DEFAULT_SECRET_KEY)
        self.BULK_MIN_BYTES = env_int("BULK_MIN_BYTES", 1 << 20)
        self.BULK_NICE = env_int("BULK_NICE", 10)
        self.USE_X_ACCEL = env_bool("USE_X_ACCEL", False)
        self.X_ACCEL_PREFIX = env("X_ACCEL_PREFIX", "/_protected_files")
        self.MAX_CONTENT_LENGTH = env_int("MAX_CONTENT_LENGTH", 100 * 1024 * 1024)
        self.TRUST_PROXY = env_bool("TRUST_PROXY", True)
        self.SECRET_KEYS_PREVIOUS = env_list("SECRET_KEYS_PREVIOUS")
        self.DOWNLOAD_URL_TTL = env_int("DOWNLOAD_URL_TTL", 3600)
        self.CORS_ORIGINS = env_list("CORS_ORIGINS")
        self.COMPAT_KEYLESS_IPS = env_list("COMPAT_KEYLESS_IPS")
        self.COMPAT_TENANT = env("COMPAT_TENANT", "legacy")
        # The service's public address (https://exports.example.org): the base of every link it
        # answers (Location, download_url). Empty: the request's own (Nginx only passes known hosts).
        self.PUBLIC_URL = (env("PUBLIC_URL", "") or "").rstrip("/")
        self.METRICS_ALLOW_NETWORKS = env("METRICS_ALLOW_NETWORKS", "127.0.0.0/8,::1/128")
        self.FORWARDED_ALLOW_IPS = env("FORWARDED_ALLOW_IPS", "127.0.0.1")
        self.DEBUG_ERROR_ROUTE = env_bool("DEBUG_ERROR_ROUTE", False)
        # Health probes (/health, /health/ready) answering below 500 write no request line, so they
        # stay out of /monitor's statistics too; 1 logs them like any request.
        self.LOG_HEALTH_PROBES = env_bool("LOG_HEALTH_PROBES", False)
        # Gunicorn's own settings (gunicorn.conf.py reads them here).
        self.GUNICORN_BIND = env("GUNICORN_BIND", "127.0.0.1:8000")
        self.GUNICORN_WORKERS = env_int("GUNICORN_WORKERS", 2 * (os.cpu_count() or 1) + 1)
        self.GUNICORN_THREADS = env_int("GUNICORN_THREADS", 1)
        self.GUNICORN_TIMEOUT = env_int("GUNICORN_TIMEOUT", 300)
        # A worker is replaced after this many requests (plus 0..jitter, so they do not all restart
        # at once): a backstop against slow memory growth. 0 disables it.
        self.GUNICORN_MAX_REQUESTS = _env_count("GUNICORN_MAX_REQUESTS", 2000)
        self.GUNICORN_MAX_REQUESTS_JITTER = _env_count("GUNICORN_MAX_REQUESTS_JITTER", 200)
        # When the Gunicorn master started (it sets YBB_API_STARTED_AT for its workers): /monitor's uptime.
        self.API_STARTED_AT = float(env("YBB_API_STARTED_AT") or time.time())
        for name, value in overrides.items():
            setattr(self, name, value)

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
        defaults: dict[str, object] = {"ENV": "testing", "TESTING": True, "DASK_CONNECT_TIMEOUT": 5,
                                       "SECRET_KEY": "testing-secret-key-not-for-production"}
        super().__init__(**{**defaults, **overrides})

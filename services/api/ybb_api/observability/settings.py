"""The observability settings: app.config wins (tests), else the environment (docs/observability.md)."""
from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import Any

from flask import Flask

from ..config import env

IpNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
DEFAULT_METRICS_NETWORKS = "127.0.0.0/8,::1/128"


def _networks(value: str) -> tuple[IpNetwork, ...]:
    return tuple(ipaddress.ip_network(item.strip(), strict=False) for item in value.split(",") if item.strip())


@dataclass(frozen=True)
class Settings:
    log_dir: str | None
    log_level: str
    sentry_dsn: str | None
    sentry_environment: str
    sentry_traces_sample_rate: float
    debug_error_route: bool
    metrics_networks: tuple[IpNetwork, ...]
    trusted_proxies: tuple[IpNetwork, ...] | None  # None: any peer ("*")

    @classmethod
    def from_app(cls, app: Flask) -> "Settings":
        def value(name: str, default: str | None = None) -> Any:
            return app.config[name] if name in app.config else env(name, default)

        proxies = str(value("FORWARDED_ALLOW_IPS", "127.0.0.1"))
        return cls(
            log_dir=value("LOG_DIR") or None,
            log_level=str(value("LOG_LEVEL", "info")),
            sentry_dsn=value("SENTRY_DSN") or None,
            sentry_environment=str(value("SENTRY_ENVIRONMENT", None) or app.config.get("ENV") or "production"),
            sentry_traces_sample_rate=float(value("SENTRY_TRACES_SAMPLE_RATE", "0") or 0),
            debug_error_route=str(value("DEBUG_ERROR_ROUTE", "0")).lower() in {"1", "true", "yes", "on"},
            metrics_networks=_networks(str(value("METRICS_ALLOW_NETWORKS", DEFAULT_METRICS_NETWORKS))),
            trusted_proxies=None if proxies.strip() == "*" else _networks(proxies),
        )


def settings(app: Flask) -> Settings:
    return app.extensions["ybb_observability"]


def address_in(address: str | None, networks: tuple[IpNetwork, ...] | None) -> bool:
    """Whether `address` belongs to one of `networks` (None: to any)."""
    if networks is None:
        return True
    try:
        ip = ipaddress.ip_address(address or "")
    except ValueError:
        return False
    return any(ip in network for network in networks)

"""The observability settings, taken from the app's config (ybb_api.config; docs/observability.md)."""
from __future__ import annotations

import ipaddress
from dataclasses import dataclass

from flask import Flask

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
    log_health_probes: bool = False  # LOG_HEALTH_PROBES: a request line for passing health probes too

    @classmethod
    def from_app(cls, app: Flask) -> Settings:
        config = app.config
        return cls(
            log_dir=config.get("LOG_DIR") or None,
            log_level=str(config.get("LOG_LEVEL") or "info"),
            sentry_dsn=config.get("SENTRY_DSN") or None,
            sentry_environment=str(config.get("SENTRY_ENVIRONMENT") or config.get("ENV") or "production"),
            sentry_traces_sample_rate=float(config.get("SENTRY_TRACES_SAMPLE_RATE") or 0),
            debug_error_route=_flag(config.get("DEBUG_ERROR_ROUTE", False)),
            metrics_networks=_networks(str(config.get("METRICS_ALLOW_NETWORKS") or DEFAULT_METRICS_NETWORKS)),
            trusted_proxies=proxy_networks(str(config.get("FORWARDED_ALLOW_IPS") or "127.0.0.1")),
            log_health_probes=_flag(config.get("LOG_HEALTH_PROBES", False)),
        )


def _flag(value: object) -> bool:
    return str(value).lower() in {"1", "true", "yes", "on"}


def proxy_networks(value: str) -> tuple[IpNetwork, ...] | None:
    """FORWARDED_ALLOW_IPS: comma-separated addresses and networks; "*": any peer (None)."""
    return None if value.strip() == "*" else _networks(value)


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

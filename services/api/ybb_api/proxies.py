"""Trust X-Forwarded-* only from the proxies in FORWARDED_ALLOW_IPS (Nginx): a client that
reaches Gunicorn directly cannot spoof its address (and so pass COMPAT_KEYLESS_IPS) or the
scheme and host of the links the API builds."""
from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from werkzeug.middleware.proxy_fix import ProxyFix

from .observability.settings import IpNetwork, address_in

FORWARDED = ("HTTP_X_FORWARDED_FOR", "HTTP_X_FORWARDED_PROTO", "HTTP_X_FORWARDED_HOST", "HTTP_X_FORWARDED_PORT",
             "HTTP_X_FORWARDED_PREFIX")


class TrustedProxies:
    """WSGI middleware: one proxy hop is applied (ProxyFix) when the peer is a trusted proxy;
    from any other peer the X-Forwarded-* headers are dropped."""

    def __init__(self, app: Callable[..., Any], proxies: tuple[IpNetwork, ...] | None) -> None:
        self.app = app
        self.fixed = ProxyFix(app, x_for=1, x_proto=1, x_host=1)
        self.proxies = proxies  # None: every peer ("*")

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if address_in(environ.get("REMOTE_ADDR"), self.proxies):
            return self.fixed(environ, start_response)
        for name in FORWARDED:
            environ.pop(name, None)
        return self.app(environ, start_response)

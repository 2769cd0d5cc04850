"""One JSON line and the request metrics per request.

A WSGI middleware around the whole app measures until the last byte is sent; Flask hooks
leave what only Flask knows (route, tenant, error code) in the WSGI environ for it.

Health probes (`quiet_routes`: resources/health.py's PROBE_ROUTES) are counted in the Prometheus
metrics but write no line unless LOG_HEALTH_PROBES=1 or they answer 5xx: a load balancer's probe
every few seconds would otherwise fill the log, and /monitor's statistics are read from the log.
"""
from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import sentry_sdk
from flask import Flask, Response, g, request

from ybb_engine.telemetry import bind_fields, log_fields, unbind_fields

from ..request_id import HEADER, current_request_id
from .metrics import observe_request
from .settings import IpNetwork, address_in

access_log = logging.getLogger("ybb.access")
UNMATCHED_ROUTE = "unmatched"


def client_ip(peer: str | None, forwarded_for: str | None, trusted: tuple[IpNetwork, ...] | None) -> str | None:
    """The client: the last X-Forwarded-For hop when the peer is our proxy (Nginx), else the peer."""
    if forwarded_for and address_in(peer, trusted):
        return forwarded_for.split(",")[-1].strip() or peer
    return peer


class _Body:
    """The response iterable, counting bytes; `on_close` runs once everything was sent."""

    def __init__(self, body: Iterable[bytes], on_close: Callable[[int], None]) -> None:
        self._body, self._on_close, self.sent = body, on_close, 0

    def __iter__(self) -> Iterator[bytes]:
        for chunk in self._body:
            self.sent += len(chunk)
            yield chunk

    def close(self) -> None:
        try:
            if hasattr(self._body, "close"):
                self._body.close()
        finally:
            self._on_close(self.sent)


class RequestObserver:
    def __init__(self, app: Callable, trusted_proxies: tuple[IpNetwork, ...] | None,
                 quiet_routes: frozenset[str] = frozenset()) -> None:
        self.app, self.trusted_proxies, self.quiet_routes = app, trusted_proxies, quiet_routes

    def __call__(self, environ: dict[str, Any], start_response: Callable) -> Iterable[bytes]:
        started = time.perf_counter()
        peer, forwarded = environ.get("REMOTE_ADDR"), environ.get("HTTP_X_FORWARDED_FOR")
        response: dict[str, Any] = {}

        def recording_start_response(status: str, headers: list, exc_info: Any = None) -> Callable:
            response["status"] = int(status.split(" ", 1)[0])
            response["request_id"] = next((v for k, v in headers if k.lower() == HEADER.lower()), None)
            return start_response(status, headers, exc_info)

        def finish(sent: int) -> None:
            self._record(environ, response, time.perf_counter() - started, sent,
                         client_ip(peer, forwarded, self.trusted_proxies))

        try:
            body = self.app(environ, recording_start_response)
        except BaseException:
            response.setdefault("status", 500)
            finish(0)
            raise
        return _Body(body, finish)

    def _record(self, environ: dict[str, Any], response: dict[str, Any], seconds: float, sent: int,
                client: str | None) -> None:
        route = environ.get("ybb.route") or UNMATCHED_ROUTE
        method, status = environ.get("REQUEST_METHOD", "GET"), response.get("status", 500)
        observe_request(method, route, status, seconds, sent)
        if route in self.quiet_routes and status < 500:
            return  # a passing health probe: counted above, not logged (a failing one is news)
        context = {"request_id": environ.get("ybb.request_id") or response.get("request_id"),
                   "tenant": environ.get("ybb.tenant")}
        line = {
            "event": "request", "method": method, "path": environ.get("PATH_INFO", ""), "route": route,
            "status": status, "duration_ms": round(seconds * 1000, 1), "bytes": sent, "client_ip": client,
            "user_agent": environ.get("HTTP_USER_AGENT"), "error_code": environ.get("ybb.error_code"),
        }
        level = logging.ERROR if status >= 500 else logging.INFO
        access_log.log(level, "%s %s %s", method, line["path"], status, extra={"ybb": line, "ybb_context": context})


def _error_code(response: Response) -> str | None:
    if response.status_code < 400 or not response.is_json:
        return None
    body = response.get_json(silent=True)
    return body.get("code") if isinstance(body, dict) else None


def init_request_logging(app: Flask, trusted_proxies: tuple[IpNetwork, ...] | None,
                         quiet_routes: frozenset[str] = frozenset()) -> None:
    """`quiet_routes`: the routes (URL rules) whose answers below 500 write no request line."""
    app.wsgi_app = RequestObserver(app.wsgi_app, trusted_proxies, quiet_routes)  # type: ignore[method-assign]

    @app.before_request
    def bind_request_fields() -> None:
        request_id = current_request_id()
        g.ybb_log_token = bind_fields(request_id=request_id)
        request.environ["ybb.request_id"] = request_id
        sentry_sdk.set_tag("request_id", request_id)

    @app.after_request
    def remember_for_access_log(response: Response) -> Response:
        environ = request.environ
        environ["ybb.route"] = request.url_rule.rule if request.url_rule else UNMATCHED_ROUTE
        key = g.get("api_key")
        if key is not None:
            environ["ybb.tenant"] = key.tenant
            log_fields()["tenant"] = key.tenant
        environ["ybb.error_code"] = _error_code(response)
        return response

    @app.teardown_request
    def unbind_request_fields(_: BaseException | None) -> None:
        token = g.pop("ybb_log_token", None)
        if token is not None:
            unbind_fields(token)

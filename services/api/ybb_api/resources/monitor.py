"""The monitoring page (/monitor: static HTML, CSS and JS; its data comes from
/api/v1/admin/*) and Prometheus metrics (/metrics). Neither is part of the OpenAPI document."""
from __future__ import annotations

from pathlib import Path

from flask import Blueprint, Response, current_app, request, send_from_directory

from .. import jobs
from ..auth import require_scope
from ..observability.metrics import render_metrics
from ..observability.settings import address_in, settings

STATIC = Path(__file__).resolve().parent.parent / "static" / "monitor"
PAGE_CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
            "frame-ancestors 'none'; base-uri 'none'; form-action 'none'")

blp = Blueprint("monitor", __name__, static_folder=str(STATIC), static_url_path="/monitor/static")


@blp.after_request
def strict_policy(response: Response) -> Response:
    response.headers.setdefault("Content-Security-Policy", PAGE_CSP)
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    return response


@blp.get("/monitor")
def page() -> Response:
    """The page itself holds no data: it asks for an admin API key, then calls /api/v1/admin/*."""
    response = send_from_directory(STATIC, "index.html", max_age=0)
    response.headers["Cache-Control"] = "no-store"
    return response


def _from_local_network() -> bool:
    """A direct connection (no proxy header) from METRICS_ALLOW_NETWORKS; behind Nginx, everything
    arrives from 127.0.0.1 with X-Forwarded-For, and needs the admin key."""
    original = request.environ.get("werkzeug.proxy_fix.orig", {})
    peer = original.get("REMOTE_ADDR", request.environ.get("REMOTE_ADDR"))
    forwarded = original.get("HTTP_X_FORWARDED_FOR", request.environ.get("HTTP_X_FORWARDED_FOR"))
    return not forwarded and address_in(peer, settings(current_app).metrics_networks)


@blp.get("/metrics")
def metrics() -> Response:
    """Prometheus text format: from METRICS_ALLOW_NETWORKS directly, or with an admin API key."""
    if not _from_local_network():
        require_scope("admin")(lambda: None)()
    body, content_type = render_metrics(jobs.service())
    return Response(body, content_type=content_type, headers={"Cache-Control": "no-store"})

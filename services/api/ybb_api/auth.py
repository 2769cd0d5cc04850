"""API-key authentication: `X-API-Key: <key>` or `Authorization: Bearer <key>`."""
from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from typing import Any

from flask import Flask, current_app, g, request

from .errors import abort
from .keys import ApiKey, KeyRing

log = logging.getLogger("ybb.auth")
SECURITY: list[dict[str, list[str]]] = [{"ApiKeyHeader": []}, {"BearerAuth": []}]
SECURITY_SCHEMES = {
    "ApiKeyHeader": {"type": "apiKey", "in": "header", "name": "X-API-Key"},
    "BearerAuth": {"type": "http", "scheme": "bearer"},
}


def _presented_key() -> str | None:
    if key := request.headers.get("X-API-Key"):
        return key
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


def current_key() -> ApiKey:
    return g.api_key


def authenticate(scope: str | None) -> ApiKey:
    """The caller's key, which must hold `scope` (or admin; None: any scope); otherwise 401 or 403."""
    keyring: KeyRing = current_app.extensions["ybb_keyring"]
    presented = _presented_key()
    key = keyring.find(presented) if presented else None
    if key is None:
        log.warning("authentication failed from %s", request.remote_addr)
        abort(401, message="A valid API key is required (X-API-Key or Authorization: Bearer).",
              error_code="unauthorized")
    if scope is not None and scope not in key.scopes and "admin" not in key.scopes:
        abort(403, message=f"This API key lacks the '{scope}' scope.", error_code="forbidden")
    g.api_key = key
    return key


def require_scope(scope: str) -> Callable:
    """Decorator: the caller must present a valid key holding `scope` (or admin)."""

    def decorator(view: Callable) -> Callable:
        @functools.wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            authenticate(scope)
            return view(*args, **kwargs)

        return wrapper

    return decorator


def _public(path: str) -> bool:
    """The /api/ routes that need no key: the OpenAPI document, and a download by signed link."""
    return path == "/api/v1/openapi.json" or (path.endswith("/file") and "signature" in request.args)


def init_key_check(app: Flask, keyless_allowed: Callable[[], bool]) -> None:
    """Every /api/ request presents a valid key before anything reads its body (a 401 costs no
    more than the key lookup), except the public routes and the old routes' keyless callers
    (`keyless_allowed`: COMPAT_KEYLESS_IPS). Scopes are checked by each view."""

    @app.before_request
    def key_first() -> None:
        if request.method == "OPTIONS" or not request.path.startswith("/api/") or _public(request.path):
            return  # CORS preflights carry no key
        presents = bool(request.headers.get("X-API-Key") or request.headers.get("Authorization"))
        if not presents and keyless_allowed():
            return
        authenticate(None)

"""API-key authentication: `X-API-Key: <key>` or `Authorization: Bearer <key>`."""
from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from typing import Any

from flask import current_app, g, request

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


def authenticate(scope: str) -> ApiKey:
    """The caller's key, which must hold `scope` (or admin); otherwise 401 or 403."""
    keyring: KeyRing = current_app.extensions["ybb_keyring"]
    presented = _presented_key()
    key = keyring.find(presented) if presented else None
    if key is None:
        log.warning("authentication failed from %s", request.remote_addr)
        abort(401, message="A valid API key is required (X-API-Key or Authorization: Bearer).",
              error_code="unauthorized")
    if scope not in key.scopes and "admin" not in key.scopes:
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

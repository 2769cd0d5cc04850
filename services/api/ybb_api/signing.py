"""Signed download links: usable without an API key until they expire.

The signature is HMAC-SHA256 over "<job id>.<expires>" with SECRET_KEY. Verification
also accepts the keys in SECRET_KEYS_PREVIOUS, so rotating SECRET_KEY breaks no link.
"""
from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Sequence


def sign(job_id: str, expires: int, secret: str) -> str:
    return hmac.new(secret.encode(), f"{job_id}.{expires}".encode(), hashlib.sha256).hexdigest()


def verify(job_id: str, expires: str, given: str, secrets: Sequence[str], now: float | None = None) -> bool:
    try:
        expires_at = int(expires)
    except ValueError:
        return False
    if expires_at < (now or time.time()):
        return False
    # Bytes: compare_digest refuses str with non-ASCII characters (a forged link is a 403, not a 500).
    offered = given.encode("utf-8", "surrogatepass")
    return any(hmac.compare_digest(sign(job_id, expires_at, secret).encode(), offered) for secret in secrets if secret)

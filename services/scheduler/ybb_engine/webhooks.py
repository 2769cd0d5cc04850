"""Webhooks: signed POSTs to the caller's `callback_url` when an export ends.

Signature: `X-YBB-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>">`, keyed
with the API key's webhook secret. URLs that resolve to private, loopback, link-local or
reserved addresses are refused unless WEBHOOK_ALLOWLIST names the host or network (SSRF).
"""
from __future__ import annotations

import hashlib
import hmac
import ipaddress
import socket
import time
from collections.abc import Sequence
from urllib.parse import urlsplit

import orjson
import requests

from .errors import EngineError

SIGNATURE_HEADER = "X-YBB-Signature"


def signature(secret: str, body: bytes, timestamp: int) -> str:
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


def verify(secret: str, body: bytes, header: str, tolerance: int = 300, now: float | None = None) -> bool:
    parts = dict(item.split("=", 1) for item in header.split(",") if "=" in item)
    try:
        timestamp = int(parts["t"])
    except (KeyError, ValueError):
        return False
    if abs((now or time.time()) - timestamp) > tolerance:
        return False
    return hmac.compare_digest(signature(secret, body, timestamp), f"t={timestamp},v1={parts.get('v1', '')}")


def _allowed(host: str, addresses: Sequence[str], allowlist: Sequence[str]) -> bool:
    for entry in allowlist:
        if entry == host:
            return True
        try:
            network = ipaddress.ip_network(entry, strict=False)
        except ValueError:
            continue
        if all(ipaddress.ip_address(a) in network for a in addresses):
            return True
    return False


def check_callback_url(url: str, allowlist: Sequence[str] = ()) -> None:
    """Refuse URLs that could reach the service's own network (SSRF)."""
    parts = urlsplit(url)
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        raise EngineError("callback_url_refused", "callback_url must be an http(s) URL with a host.")
    try:
        infos = socket.getaddrinfo(parts.hostname, parts.port or 443, proto=socket.IPPROTO_TCP)
    except socket.gaierror:
        raise EngineError("callback_url_refused", f"callback_url host {parts.hostname!r} does not resolve.") from None
    addresses = sorted({str(info[4][0]) for info in infos})  # IPv4/IPv6 sockaddrs: the host is a str
    if _allowed(parts.hostname, addresses, allowlist):
        return
    for address in addresses:
        ip = ipaddress.ip_address(address)
        if not ip.is_global or ip.is_multicast:
            raise EngineError(
                "callback_url_refused",
                f"callback_url resolves to a non-public address ({address}); add it to WEBHOOK_ALLOWLIST to allow it.",
            )


def deliver(url: str, payload: dict, secret: str, allowlist: Sequence[str] = (), attempts: int = 4,
            backoff: float = 1.0, timeout: float = 5.0) -> str:
    """POST the payload, retrying with exponential backoff. Returns the outcome for the job row."""
    body = orjson.dumps(payload)
    outcome = "not attempted"
    for attempt in range(attempts):
        if attempt:
            time.sleep(backoff * 2 ** (attempt - 1))
        try:
            check_callback_url(url, allowlist)  # again: DNS may have changed since the request
            headers = {"Content-Type": "application/json", SIGNATURE_HEADER: signature(secret, body, int(time.time())),
                       "User-Agent": "ybb-data-management-service/1"}
            response = requests.post(url, data=body, headers=headers, timeout=timeout, allow_redirects=False)
        except EngineError as exc:
            return f"refused: {exc.message}"
        except requests.RequestException as exc:
            outcome = f"failed after {attempt + 1} attempts: {type(exc).__name__}"
            continue
        if 200 <= response.status_code < 300:
            return f"delivered (HTTP {response.status_code}, attempt {attempt + 1})"
        outcome = f"failed after {attempt + 1} attempts: HTTP {response.status_code}"
    return outcome

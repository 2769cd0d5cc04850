"""Webhooks: signed POSTs to the caller's `callback_url` when an export ends.

Signature: `X-YBB-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>">`, keyed
with the API key's webhook secret, which the worker looks up in the keys file by the key's
id (`secret_for`): the secret itself is never a task argument (Dask logs those).

SSRF: the host is resolved once per delivery and every address it resolves to must be
public (not private, loopback, link-local, reserved, multicast, NAT64, 6to4 or
192.0.0.0/24) unless WEBHOOK_ALLOWLIST names the host or network. The connection then goes
to those checked addresses only, never resolving the host again (DNS rebinding), and the
connected peer is checked before anything is sent; TLS still verifies the certificate for
the host name (SNI). Retries are urllib3's `Retry`: 408, 429 and 5xx answers and
connection failures are retried, other answers are final; `Retry-After` is honoured (at
most RETRY_AFTER_MAX seconds). The outcome stored on the job is coarse ("delivered",
"failed after N attempts[: HTTP s]", "refused"); the details go to the log.
"""
from __future__ import annotations

import hashlib
import hmac
import ipaddress
import logging
import os
import random
import socket
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote, urlsplit

import certifi
import orjson
from urllib3 import HTTPConnectionPool, HTTPSConnectionPool, Timeout
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.exceptions import ConnectTimeoutError, HTTPError, InvalidHeader, MaxRetryError, NewConnectionError
from urllib3.response import BaseHTTPResponse
from urllib3.util import make_headers
from urllib3.util.connection import create_connection
from urllib3.util.retry import Retry

from .errors import EngineError

log = logging.getLogger("ybb.webhooks")

SIGNATURE_HEADER = "X-YBB-Signature"
USER_AGENT = "ybb-data-management-service/1"
RETRY_STATUSES = frozenset({408, 429, *range(500, 600)})  # any other answer is final
RETRY_AFTER_MAX = 60   # seconds: a longer Retry-After is cut to this
JITTER = 0.5           # each backoff is lengthened by up to this share of WEBHOOK_BACKOFF, at random
# Refused although Python counts (some of) them as global: they reach IPv4 hosts, the
# service's own network included, through a translator or a tunnel.
REFUSED_NETWORKS = tuple(ipaddress.ip_network(n) for n in (
    "64:ff9b::/96",     # NAT64, well-known prefix (RFC 6052)
    "64:ff9b:1::/48",   # NAT64, local use (RFC 8215)
    "2002::/16",        # 6to4 (RFC 3056)
    "::/96",            # IPv4-compatible IPv6 (deprecated)
    "::ffff:0:0/96",    # IPv4-mapped IPv6
    "192.0.0.0/24",     # IETF protocol assignments (RFC 6890)
))
_REFUSED = "callback_url must resolve, and only to public addresses (or to a host or network WEBHOOK_ALLOWLIST names)."

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network


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


# -- the webhook secret of an API key ---------------------------------------------------------

_secrets: dict[str, tuple[tuple[int, int, int], dict[str, str]]] = {}
_secrets_lock = threading.Lock()


def secret_for(keys_file: str | None, key_id: str) -> str:
    """The webhook secret of the API key `key_id` in the keys file (API_KEYS_FILE: JSON
    `{"keys": [{"id", ..., "webhook_secret"}]}`), or "" when there is none. The file is
    re-read when it changes, as the API's KeyRing does."""
    if not keys_file or not key_id:
        return ""
    try:
        info = os.stat(keys_file)
        stamp = (info.st_mtime_ns, info.st_ino, info.st_size)
        with _secrets_lock:
            cached = _secrets.get(keys_file)
            if cached is None or cached[0] != stamp:
                entries = orjson.loads(Path(keys_file).read_bytes())["keys"]
                found: dict[str, str] = {}
                for entry in entries:
                    found.setdefault(str(entry["id"]), str(entry.get("webhook_secret") or ""))
                cached = (stamp, found)
                _secrets[keys_file] = cached
    except (OSError, ValueError, KeyError, TypeError) as exc:
        log.error("cannot read the webhook secrets in the keys file %s: %r", keys_file, exc)
        return ""
    return cached[1].get(key_id, "")


# -- the address policy ---------------------------------------------------------------------------

@dataclass(frozen=True)
class Target:
    """A checked callback URL: where to connect (`addresses`, every one allowed) and what to send."""

    scheme: str
    host: str                    # ASCII (IDNA) host name or IP literal, without brackets
    port: int
    target: str                  # the request target: path and query
    addresses: tuple[str, ...]   # what `host` resolved to, once
    userinfo: str | None = None  # "user:password" from the URL, sent as Basic auth


def _public(ip: Address) -> bool:
    return (ip.is_global and not ip.is_multicast
            and not any(ip.version == net.version and ip in net for net in REFUSED_NETWORKS))


def _networks(allowlist: Sequence[str]) -> list[Network]:
    networks = []
    for entry in allowlist:
        try:
            networks.append(ipaddress.ip_network(entry, strict=False))
        except ValueError:
            continue  # a host name
    return networks


def _permitted(address: str, networks: Sequence[Network]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return _public(ip) or any(ip.version == net.version and ip in net for net in networks)


def check_callback_url(url: str, allowlist: Sequence[str] = ()) -> Target:
    """Resolve the URL's host once and refuse it unless every address it resolves to is public
    or allowed by `allowlist` (host names and networks): SSRF. Returns where to connect."""
    try:
        parts = urlsplit(url)
        given_port = parts.port  # ValueError when out of range
        host = (parts.hostname or "").encode("idna").decode("ascii")
    except (ValueError, UnicodeError):
        host, given_port = "", None
    if not host or parts.scheme not in {"http", "https"} or given_port == 0:
        raise EngineError("callback_url_refused",
                          "callback_url must be an http(s) URL with a host (and a port from 1 to 65535).")
    port = given_port or (443 if parts.scheme == "https" else 80)
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP)
    except (OSError, UnicodeError, ValueError) as exc:
        log.info("callback_url host %r does not resolve: %r", host, exc)
        raise EngineError("callback_url_refused", _REFUSED) from None
    addresses = tuple(dict.fromkeys(str(info[4][0]) for info in infos
                                    if info[0] in (socket.AF_INET, socket.AF_INET6)))
    if not addresses:
        raise EngineError("callback_url_refused", _REFUSED)
    if host not in allowlist and (parts.hostname or "") not in allowlist:
        networks = _networks(allowlist)
        refused = [a for a in addresses if not _permitted(a, networks)]
        if refused:
            log.warning("callback_url host %r refused: it resolves to %s", host, ", ".join(refused))
            raise EngineError("callback_url_refused", _REFUSED)
    target = quote((parts.path or "/") + (f"?{parts.query}" if parts.query else ""), safe="/%:@!$&'()*+,;=?~")
    userinfo = None
    if parts.username is not None:
        userinfo = f"{unquote(parts.username)}:{unquote(parts.password or '')}"
    return Target(parts.scheme, host, port, target, addresses, userinfo)


# -- connections to the checked addresses only ------------------------------------------------------

class PeerRefused(Exception):
    """The connected peer is not one of the checked addresses. Not an OSError: urllib3 does
    not retry it."""


def _connect(conn: HTTPConnection, pinned: Sequence[str]) -> socket.socket:
    """Connect to the first of the checked addresses that answers, as urllib3 would to the host's."""
    error: OSError | None = None
    for address in pinned:
        try:
            sock = create_connection((address, conn.port or 0), conn.timeout, source_address=conn.source_address,
                                     socket_options=conn.socket_options)
        except OSError as exc:
            error = exc
            continue
        peer = str(sock.getpeername()[0])
        if not any(ipaddress.ip_address(peer) == ipaddress.ip_address(a) for a in pinned):
            sock.close()
            log.warning("webhook to %r refused: connected to %s, not to a checked address", conn.host, peer)
            raise PeerRefused(peer)
        return sock
    if isinstance(error, TimeoutError):
        raise ConnectTimeoutError(conn, f"Connection to {conn.host} timed out.") from error
    raise NewConnectionError(conn, f"Failed to establish a new connection: {error!r}") from error


def _signed(headers: Mapping[str, str] | None, sign: Callable[[], str] | None) -> Mapping[str, str] | None:
    """Each attempt is signed when it is sent: a retry long after the first try still passes the
    receivers' 5-minute tolerance."""
    return {**(headers or {}), SIGNATURE_HEADER: sign()} if sign else headers


class _PinnedHTTPConnection(HTTPConnection):
    """urllib3's connection, to the `pinned` addresses instead of the host's current ones
    (`_new_conn` makes the TCP connection; TLS, SNI and the Host header still use the host
    name), each request signed by `sign` as it is sent."""

    def __init__(self, *args: Any, pinned: tuple[str, ...] = (), sign: Callable[[], str] | None = None,
                 **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.pinned, self.sign = pinned, sign

    def _new_conn(self) -> socket.socket:
        return _connect(self, self.pinned)

    def request(self, method: str, url: str, body: Any = None, headers: Any = None, **kwargs: Any) -> None:
        super().request(method, url, body, _signed(headers, self.sign), **kwargs)


class _PinnedHTTPSConnection(_PinnedHTTPConnection, HTTPSConnection):
    pass


class _PinnedHTTPPool(HTTPConnectionPool):
    ConnectionCls = _PinnedHTTPConnection


class _PinnedHTTPSPool(HTTPSConnectionPool):
    ConnectionCls = _PinnedHTTPSConnection


# -- retries ---------------------------------------------------------------------------------------

class DeliveryRetry(Retry):
    """urllib3's Retry on the service's schedule: WEBHOOK_BACKOFF seconds before the 2nd
    attempt, doubled for each next one, each lengthened by a random jitter (urllib3 waits
    nothing before the 2nd). A malformed Retry-After falls back to that backoff."""

    RETRY_AFTER_STATUS_CODES = frozenset({429, 503})  # not 413: a 4xx other than 408/429 is final

    def get_backoff_time(self) -> float:
        failures = len(self.history)  # redirects are not followed, so every entry is a failure
        if failures == 0:
            return 0.0
        value = self.backoff_factor * 2 ** (failures - 1) + random.random() * self.backoff_jitter
        return float(max(0.0, min(self.backoff_max, value)))

    def get_retry_after(self, response: BaseHTTPResponse) -> float | None:
        try:
            return super().get_retry_after(response)
        except InvalidHeader:
            return None


def retry_policy(attempts: int, backoff: float) -> DeliveryRetry:
    return DeliveryRetry(total=attempts - 1, allowed_methods=frozenset({"POST"}), status_forcelist=RETRY_STATUSES,
                         backoff_factor=backoff, backoff_jitter=backoff * JITTER, raise_on_status=False,
                         respect_retry_after_header=True, retry_after_max=RETRY_AFTER_MAX)


def _attempts(n: int) -> str:
    return f"{n} attempt{'' if n == 1 else 's'}"


def deliver(url: str, payload: dict, secret: str, allowlist: Sequence[str] = (), attempts: int = 4,
            backoff: float = 1.0, timeout: float = 5.0) -> str:
    """POST the payload, retrying with backoff. Returns the coarse outcome for the job row."""
    if attempts < 1:
        return "not attempted"
    body = orjson.dumps(payload)
    try:
        target = check_callback_url(url, allowlist)  # again, and once: the POST goes to these addresses
    except EngineError:
        return "refused"
    headers = {"Content-Type": "application/json", "User-Agent": USER_AGENT}
    if target.userinfo is not None:
        headers["Authorization"] = make_headers(basic_auth=target.userinfo)["authorization"]

    def sign() -> str:
        return signature(secret, body, int(time.time()))

    pool_kw: dict[str, Any] = {"timeout": Timeout(connect=timeout, read=timeout), "maxsize": 1,
                               "retries": retry_policy(attempts, backoff), "pinned": target.addresses, "sign": sign}
    pool: HTTPConnectionPool
    if target.scheme == "https":
        pool = _PinnedHTTPSPool(target.host, target.port, cert_reqs="CERT_REQUIRED", ca_certs=certifi.where(),
                                **pool_kw)
    else:
        pool = _PinnedHTTPPool(target.host, target.port, **pool_kw)
    try:
        with pool:
            response = pool.urlopen("POST", target.target, body=body, headers=headers, redirect=False,
                                    assert_same_host=False, preload_content=False, release_conn=False)
            status = response.status
            tries = len(response.retries.history) + 1 if response.retries else 1
            response.close()  # the receiver's body is not read
    except PeerRefused:
        return "refused"
    except MaxRetryError as exc:
        log.warning("webhook to %r failed after %s: %r", target.host, _attempts(attempts), exc.reason)
        return f"failed after {_attempts(attempts)}"
    except (HTTPError, OSError, ValueError) as exc:
        log.warning("webhook to %r failed: %r", target.host, exc)
        return "failed"
    if 200 <= status < 300:
        return f"delivered (HTTP {status}, attempt {tries})"
    log.warning("webhook to %r failed after %s: HTTP %s", target.host, _attempts(tries), status)
    return f"failed after {_attempts(tries)}: HTTP {status}"

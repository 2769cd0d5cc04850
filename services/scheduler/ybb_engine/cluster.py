"""The Dask cluster as the service sees it: one client per process, created lazily (after
Gunicorn forks), and the few questions asked of the scheduler.

With DASK_TLS_CA_FILE, DASK_TLS_CERT and DASK_TLS_KEY set, the client speaks mutual TLS
(`tls://`): the scheduler accepts only peers whose certificate our CA signed, and the client
only a scheduler whose certificate it signed (docs/security.md, "The Dask cluster")."""
from __future__ import annotations

import threading
import time
from typing import Any

from distributed import Client
from distributed.security import Security

from .settings import EngineSettings

_lock = threading.Lock()
_clients: dict[str, Client] = {}


class ClusterUnavailable(Exception):
    """The scheduler does not answer."""


def tls_security(settings: EngineSettings) -> Security | None:
    """The client's Security from the DASK_TLS_* settings; None when none is set (plain tcp://).

    ValueError when only some are set: a client with a CA but no certificate would be
    refused by the scheduler on every request, better to fail at start-up."""
    files = {"DASK_TLS_CA_FILE": settings.DASK_TLS_CA_FILE, "DASK_TLS_CERT": settings.DASK_TLS_CERT,
             "DASK_TLS_KEY": settings.DASK_TLS_KEY}
    if not any(files.values()):
        return None
    missing = [name for name, value in files.items() if not value]
    if missing:
        raise ValueError("Dask TLS needs DASK_TLS_CA_FILE, DASK_TLS_CERT and DASK_TLS_KEY; "
                         f"missing: {', '.join(missing)}")
    return Security(tls_ca_file=settings.DASK_TLS_CA_FILE, tls_client_cert=settings.DASK_TLS_CERT,
                    tls_client_key=settings.DASK_TLS_KEY, require_encryption=True)


class Cluster:
    def __init__(self, address: str | None, connect_timeout: float, security: Security | None = None) -> None:
        self.address = address
        self.connect_timeout = connect_timeout
        self.security = security

    @classmethod
    def from_settings(cls, settings: EngineSettings) -> Cluster:
        return cls(settings.DASK_SCHEDULER_ADDRESS, settings.DASK_CONNECT_TIMEOUT, tls_security(settings))

    def client(self) -> Client:
        """This process's client for the scheduler; ClusterUnavailable when it does not answer."""
        with _lock:
            client = _clients.get(str(self.address))
            if client is None or client.status in {"closed", "closing"}:
                tls = str(self.address).startswith("tls://")
                if self.security is not None and not tls:
                    raise ClusterUnavailable(f"DASK_TLS_* are set, so DASK_SCHEDULER_ADDRESS must be tls://, "
                                             f"not {self.address}")
                if self.security is None and tls:
                    raise ClusterUnavailable(f"{self.address} needs DASK_TLS_CA_FILE, DASK_TLS_CERT and DASK_TLS_KEY")
                try:
                    client = Client(self.address, timeout=self.connect_timeout, set_as_default=False,
                                    security=self.security)
                except (OSError, TimeoutError) as exc:
                    raise ClusterUnavailable(str(exc)) from exc
                _clients[str(self.address)] = client
            return client

    def workers(self) -> list[dict[str, Any]]:
        """Each connected worker: address, name, status, threads, memory, CPU, tasks, last seen."""
        try:
            info = self.client().scheduler_info(n_workers=-1)
        except (OSError, TimeoutError) as exc:
            raise ClusterUnavailable(str(exc)) from exc
        return [_worker(address, w) for address, w in sorted(info["workers"].items())]

    def scheduler(self) -> dict[str, Any]:
        """The scheduler's address, uptime and worker count."""
        try:
            info = self.client().scheduler_info(n_workers=-1)
        except (OSError, TimeoutError) as exc:
            raise ClusterUnavailable(str(exc)) from exc
        started = info.get("started")
        return {"address": info.get("address"), "workers": len(info["workers"]),
                "uptime_s": round(time.time() - started) if started else None}


def _worker(address: str, info: dict[str, Any]) -> dict[str, Any]:
    metrics = info.get("metrics") or {}
    counts = metrics.get("task_counts") or {}
    return {"address": address, "name": str(info.get("name")), "status": info.get("status"),
            "nthreads": info.get("nthreads"), "memory_bytes": metrics.get("memory"),
            "memory_limit_bytes": info.get("memory_limit"), "cpu_percent": metrics.get("cpu"),
            "tasks_executing": counts.get("executing", 0), "tasks_in_memory": counts.get("memory", 0),
            "last_seen": info.get("last_seen")}

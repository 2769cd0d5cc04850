"""The Dask cluster as the service sees it: one client per process, created lazily (after
Gunicorn forks), and the few questions asked of the scheduler."""
from __future__ import annotations

import threading
import time
from typing import Any

from distributed import Client

_lock = threading.Lock()
_clients: dict[str, Client] = {}


class ClusterUnavailable(Exception):
    """The scheduler does not answer."""


class Cluster:
    def __init__(self, address: str | None, connect_timeout: float) -> None:
        self.address = address
        self.connect_timeout = connect_timeout

    def client(self) -> Client:
        """This process's client for the scheduler; ClusterUnavailable when it does not answer."""
        with _lock:
            client = _clients.get(str(self.address))
            if client is None or client.status in {"closed", "closing"}:
                try:
                    client = Client(self.address, timeout=self.connect_timeout, set_as_default=False)
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

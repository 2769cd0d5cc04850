"""One Dask client per API process, created lazily (after Gunicorn forks)."""
from __future__ import annotations

import threading

from distributed import Client
from flask import current_app

_lock = threading.Lock()
_clients: dict[str, Client] = {}


def dask_client() -> Client:
    address = current_app.config["DASK_SCHEDULER_ADDRESS"]
    with _lock:
        client = _clients.get(address)
        if client is None or client.status in {"closed", "closing"}:
            client = Client(address, timeout=current_app.config["DASK_CONNECT_TIMEOUT"], set_as_default=False)
            _clients[address] = client
        return client


def worker_count(client: Client) -> int:
    return len(client.scheduler_info(n_workers=-1)["workers"])

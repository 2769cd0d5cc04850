"""Fixtures shared by every test: a Dask cluster, the bare Flask app, API keys."""
from __future__ import annotations

from pathlib import Path
from typing import Iterator

import pytest
from distributed import LocalCluster

from ybb_api import create_app
from ybb_api.config import TestingConfig
from ybb_api.keys import SCOPES, create_key


@pytest.fixture(scope="session")
def cluster() -> Iterator[LocalCluster]:
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=False, dashboard_address=":0") as cluster:
        yield cluster


class Keys:
    """Plaintext API keys written to a keys file: tenants a and b, and an admin."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.a = create_key(path, "tenant-a")
        self.b = create_key(path, "tenant-b")
        self.admin = create_key(path, "ops", SCOPES)
        self.read_only = create_key(path, "tenant-a", ["exports:read"])


@pytest.fixture
def keys(tmp_path: Path) -> Keys:
    return Keys(tmp_path / "api-keys.json")


@pytest.fixture
def app(tmp_path: Path, keys: Keys, cluster: LocalCluster):
    config = TestingConfig(
        DATA_DIR=str(tmp_path / "data"),
        API_KEYS_FILE=str(keys.path),
        DASK_SCHEDULER_ADDRESS=cluster.scheduler_address,
        PARTITION_ROWS=50,
    )
    return create_app(config)


@pytest.fixture
def client(app):
    return app.test_client()

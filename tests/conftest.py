"""Fixtures shared by every test: a Dask cluster, the bare Flask app, API keys, and the real
stack (Nginx, Gunicorn, Dask scheduler and workers on free loopback ports), started once
per session for every end-to-end test that asks for it."""
from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from distributed import LocalCluster
from support import running_stack
from support_sentry import SentryReceiver

from devstack import Stack, find_nginx
from ybb_api import create_app
from ybb_api.config import TestingConfig
from ybb_api.keys import SCOPES, create_key
from ybb_engine.telemetry import bind_fields, unbind_fields

pytest_plugins = ["database_fixtures"]  # the `mariadb` and `postgres` servers (tests/database_fixtures.py)
SLOW_SOURCES = Path(__file__).parent / "e2e" / "slow_sources"


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


@pytest.fixture(scope="session")
def sentry_receiver() -> Iterator[SentryReceiver]:
    """A local Sentry for the shared stack (SENTRY_DSN points at it)."""
    receiver = SentryReceiver().start()
    yield receiver
    receiver.stop()


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory, sentry_receiver: SentryReceiver, mariadb) -> Iterator[Stack]:
    if find_nginx() is None:
        pytest.fail("nginx is not installed: run the tests with `make test`, which installs it")
    var = tmp_path_factory.mktemp("stack") / "var"
    with running_stack(var, workers=2, gunicorn_workers=2, extra_env={
            "PARTITION_ROWS": "500", "SYNC_MAX_ROWS": "100", "LOG_LEVEL": "warning", "LOG_DIR": str(var / "log"),
            "SENTRY_DSN": sentry_receiver.dsn, "SENTRY_ENVIRONMENT": "e2e", "SENTRY_TRACES_SAMPLE_RATE": "1.0",
            "DEBUG_ERROR_ROUTE": "1",
            # The session's MariaDB as the `ybb` source, and a slow source for the worker-loss test.
            "SOURCE_YBB_URL": mariadb.server.readonly_url, "SOURCES_DIRS": str(SLOW_SOURCES),
            "SOURCE_PARTITION_ROWS": "500"}) as stack:
        yield stack


@pytest.fixture(scope="session")
def api(stack: Stack) -> requests.Session:
    """A session through Nginx over TLS, verifying the stack's own certificate, with the dev key."""
    session = requests.Session()
    session.trust_env = False  # REQUESTS_CA_BUNDLE would replace our certificate
    session.verify = str(stack.config.cert)
    session.headers["X-API-Key"] = (stack.config.var / "dev-api-key").read_text().strip()
    return session


@pytest.fixture(scope="session")
def base_url(stack: Stack) -> str:
    return stack.config.base_url


@pytest.fixture(autouse=True)
def fresh_log_context() -> Iterator[None]:
    """Outside a request, a job's transition lines join the current log context (telemetry):
    each test starts with an empty one, as each request does, so no test's fields reach another's."""
    token = bind_fields()
    yield
    unbind_fields(token)

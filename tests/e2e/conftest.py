"""The real stack on free loopback ports: Dask scheduler and workers, Gunicorn, Nginx."""
from __future__ import annotations

from pathlib import Path
from typing import Iterator

import pytest
import requests

from support import free_port
from devstack import Stack, StackConfig, find_nginx


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    if find_nginx() is None:
        pytest.fail("nginx is not installed: run the tests with `make test`, which installs it")
    config = StackConfig(
        var=tmp_path_factory.mktemp("stack") / "var",
        scheduler_port=free_port(), dashboard_port=free_port(), api_port=free_port(),
        https_port=free_port(), http_port=free_port(), workers=2, gunicorn_workers=2,
        extra_env={"PARTITION_ROWS": "500", "SYNC_MAX_ROWS": "100", "LOG_LEVEL": "warning"},
    )
    stack = Stack(config)
    try:
        stack.start()
        stack.wait_ready()
        yield stack
    finally:
        stack.stop()


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

"""An old PHP client of the /api/ybb routes, through Nginx, with a key and without one.

With a key: the session stack of tests/conftest.py and its development key. Without one: a
second small stack whose API lists 127.0.0.1 in COMPAT_KEYLESS_IPS (the migration window of
docs/compat.md). Through Nginx the API sees the client's own address: Nginx connects from
127.0.0.1, which FORWARDED_ALLOW_IPS trusts, and sets X-Forwarded-For to the client's, here
127.0.0.1 too. The shared stack keeps COMPAT_KEYLESS_IPS empty, as every other e2e test
expects: keyless requests to it are refused (test_transport.py).
"""
from __future__ import annotations

from collections.abc import Iterator

import pytest
from oldclient import OldClient, dev_key
from support import running_stack

from devstack import Stack


@pytest.fixture(scope="session")
def keyless_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    var = tmp_path_factory.mktemp("keyless-stack") / "var"
    with running_stack(
        var, workers=1, gunicorn_workers=2,
        extra_env={"COMPAT_KEYLESS_IPS": "127.0.0.1", "COMPAT_TENANT": "legacy", "PARTITION_ROWS": "500",
                   "LOG_LEVEL": "warning", "LOG_DIR": str(var / "log")},
        # This stack serves the replay alone: no need to pace it under the production rate limits.
        nginx_limits={"RATE_LIMIT_PER_IP": "500r/s", "RATE_LIMIT_PER_KEY": "500r/s", "RATE_LIMIT_BURST": "1000"},
    ) as stack:
        yield stack


@pytest.fixture(params=["with-key", "keyless"])
def old_client(request: pytest.FixtureRequest) -> OldClient:
    if request.param == "with-key":
        stack = request.getfixturevalue("stack")
        return OldClient("with-key", stack, dev_key(stack))
    return OldClient("keyless", request.getfixturevalue("keyless_stack"), None)

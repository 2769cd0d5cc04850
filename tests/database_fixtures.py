"""Pytest plugin with the session's database servers (tests/conftest.py loads it through
`pytest_plugins`): `mariadb`, a MariaDB server with YBB's schema and 3,000 seeded participants, and
`postgres`, a PostgreSQL server with the generic `ambassadors` table. Each starts only when a test
asks for it, once per session; both fail (never skip) when the server cannot be had."""
from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from databases import DatabaseServer, MariaDBServer, PostgresServer
from ybb_database import SeedSummary, create_generic_postgres, create_schema, seed

MARIADB_PARTICIPANTS = 3000
POSTGRES_ROWS = 2000


@dataclass(frozen=True)
class SeededMariaDB:
    """The session's MariaDB server and what `seed` wrote into its database."""

    server: MariaDBServer
    summary: SeedSummary


@dataclass(frozen=True)
class SeededPostgres:
    """The session's PostgreSQL server and how many rows its `ambassadors` table has."""

    server: PostgresServer
    rows: int


def require_server(cls: type[DatabaseServer]) -> None:
    """Fail the test, with what to do, when `cls` can neither start a server nor use a running one."""
    if not cls.available():
        pytest.fail(f"the {cls.kind} server is not installed and {cls.env_var} names no running server: run "
                    f"`make test` (it installs mariadb-server and postgresql through scripts/ensure_databases.sh), "
                    f"or set {cls.env_var} to the admin SQLAlchemy URL of a running server", pytrace=False)


DATABASE_FIXTURES = frozenset({"mariadb", "postgres", "ybb_source"})


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Tests that need a database server are marked `database` (make test-fast leaves them out)."""
    for item in items:
        if DATABASE_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.database)


@pytest.fixture(scope="session")
def mariadb(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SeededMariaDB]:
    require_server(MariaDBServer)
    with MariaDBServer.start(tmp_path_factory.mktemp("mariadb")) as server:
        create_schema(server.admin_url)
        yield SeededMariaDB(server, seed(server.admin_url, participants=MARIADB_PARTICIPANTS))


@pytest.fixture(scope="session")
def postgres(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SeededPostgres]:
    require_server(PostgresServer)
    with PostgresServer.start(tmp_path_factory.mktemp("postgres")) as server:
        yield SeededPostgres(server, create_generic_postgres(server.admin_url, rows=POSTGRES_ROWS))


@pytest.fixture
def ybb_source(mariadb: SeededMariaDB, monkeypatch: pytest.MonkeyPatch) -> Iterator[SeededMariaDB]:
    """The session's MariaDB as the `ybb` source connection (SOURCE_YBB_URL, the read-only user)."""
    from ybb_engine.sources import connections

    monkeypatch.setenv("SOURCE_YBB_URL", mariadb.server.readonly_url)
    yield mariadb
    connections.dispose_all()

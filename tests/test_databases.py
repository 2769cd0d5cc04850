"""Quick checks of the test databases: tests/databases.py (servers and users), tests/ybb_database.py
(schema and seeder) and tests/database_fixtures.py (the session's seeded servers)."""
from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy
from database_fixtures import SeededMariaDB, SeededPostgres, require_server
from databases import DatabaseServer, MariaDBServer, PostgresServer
from sqlalchemy import create_engine, text
from ybb_database import TABLES, connect_mariadb, create_schema, seed

CHECKSUM = """SELECT
    (SELECT SUM(CRC32(CONCAT_WS('|', id, user_id, full_name, institution, nationality, program_id, score_status,
                                category, is_active, is_deleted, created_at))) FROM participants),
    (SELECT SUM(CRC32(CONCAT_WS('|', id, participant_id, amount, currency, status, payment_date, notes)))
     FROM payments),
    (SELECT SUM(CRC32(CONCAT_WS('|', id, participant_id, form_status, general_status, is_active)))
     FROM participant_statuses)"""


def run(url: str, statement: str) -> list[tuple[object, ...]]:
    """Run one statement in its own connection (committed) and return its rows, if any."""
    engine = create_engine(url)
    try:
        with engine.begin() as conn:
            result = conn.execute(text(statement))
            return [tuple(row) for row in result] if result.returns_rows else []
    finally:
        engine.dispose()


def test_mariadb_readonly_user_can_only_select(mariadb: SeededMariaDB) -> None:
    server = mariadb.server
    assert run(server.readonly_url, "SELECT COUNT(*) FROM participants") == [(mariadb.summary.participants,)]
    for statement in ("INSERT INTO users VALUES (999999, 'x@example.org', 1, 0)",
                      "UPDATE participants SET full_name = 'x' WHERE id = 1",
                      "CREATE TABLE intruder (id INT)"):
        with pytest.raises(sqlalchemy.exc.DBAPIError) as denied:
            run(server.readonly_url, statement)
        assert denied.value.orig.args[0] == 1142, denied.value  # ER_TABLEACCESS_DENIED_ERROR


def test_postgres_readonly_user_can_only_select(postgres: SeededPostgres) -> None:
    server = postgres.server
    assert run(server.readonly_url, "SELECT COUNT(*) FROM ambassadors") == [(postgres.rows,)]
    run(server.admin_url, "CREATE TABLE IF NOT EXISTS later (id INT)")  # default privileges: readable too
    assert run(server.readonly_url, "SELECT COUNT(*) FROM later") == [(0,)]
    for statement in ("INSERT INTO ambassadors (id) VALUES (999999)", "UPDATE ambassadors SET name = 'x'",
                      "CREATE TABLE intruder (id INT)", "CREATE TEMP TABLE intruder (id INT)"):
        with pytest.raises(sqlalchemy.exc.DBAPIError) as denied:
            run(server.readonly_url, statement)
        assert denied.value.orig.sqlstate == "42501", denied.value  # insufficient_privilege


def test_postgres_running_server_gets_a_database_of_its_own(postgres: SeededPostgres) -> None:
    """YBB_TEST_POSTGRES_URL's path: a uniquely named database and users, dropped at exit."""
    superuser_url = postgres.server.superuser_url
    with PostgresServer.start(env={PostgresServer.env_var: superuser_url}) as other:
        assert other.database.startswith("ybb_") and other.process is None
        run(other.admin_url, "CREATE TABLE t (id INT)")
        assert run(other.readonly_url, "SELECT COUNT(*) FROM t") == [(0,)]
    left = run(superuser_url, f"SELECT (SELECT COUNT(*) FROM pg_database WHERE datname = '{other.database}'), "
                              f"(SELECT COUNT(*) FROM pg_roles WHERE rolname LIKE '%{other.database[3:]}')")
    assert left == [(0, 0)]


def test_seed_counts_match_summary(mariadb: SeededMariaDB) -> None:
    url = mariadb.server.admin_url
    counts = {table: run(url, f"SELECT COUNT(*) FROM {table}")[0][0] for table in TABLES}
    assert counts == mariadb.summary.as_dict()
    assert mariadb.summary.participants > mariadb.summary.users > 0
    assert mariadb.summary.payments > mariadb.summary.participants // 2


def test_seeding_is_deterministic(mariadb: SeededMariaDB) -> None:
    """The same seed into a second database (on the same server, through YBB_TEST_MARIADB_URL's
    path) gives the same rows; another seed gives others; that database is dropped at exit."""
    expected = run(mariadb.server.admin_url, CHECKSUM)
    env = {MariaDBServer.env_var: mariadb.server.superuser_url}
    with MariaDBServer.start(env=env) as other:
        assert other.database.startswith("ybb_") and other.process is None
        create_schema(other.admin_url)
        assert seed(other.admin_url, mariadb.summary.participants) == mariadb.summary
        assert run(other.admin_url, CHECKSUM) == expected
        seed(other.admin_url, mariadb.summary.participants, seed=8)
        assert run(other.admin_url, CHECKSUM) != expected
    with connect_mariadb(mariadb.server.superuser_url) as conn, conn.cursor() as cur:
        cur.execute("SELECT COUNT(*) FROM information_schema.schemata WHERE schema_name = %s", (other.database,))
        assert cur.fetchone() == (0,)


@pytest.mark.parametrize("cls", [MariaDBServer, PostgresServer])
def test_kill_makes_new_connections_fail(cls: type[DatabaseServer], tmp_path: Path) -> None:
    if not cls.binaries():
        require_server(cls)  # fails unless a running server is named, which cannot be killed from here
        pytest.skip(f"{cls.kind} is not installed: kill() needs a server of our own")
    with cls.start(tmp_path, env={}) as server:
        assert server.running
        assert run(server.admin_url, "SELECT 1") == [(1,)]
        server.kill()
        assert not server.running
        with pytest.raises(sqlalchemy.exc.OperationalError):
            run(server.admin_url, "SELECT 1")
    assert server.directory is not None and not server.directory.exists()

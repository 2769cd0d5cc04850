"""Job stores for the tests, on both backends: SQLite in the test's temporary folder, PostgreSQL
in a fresh schema of the session's server (`postgres`, tests/database_fixtures.py), dropped after.

    from jobstores import store, store_url  # noqa: F401  (fixtures, parametrized over both)

`store_url` is what JOB_STORE_URL or open_store take: the SQLite file's path, or the PostgreSQL
URL with its password and `options=-c search_path=<schema>`, so that every test has its own
tables. `contend` is what the concurrency test's processes run (importable by `spawn`).
"""
from __future__ import annotations

import secrets
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import quote

import psycopg
import pytest
from psycopg import sql

from ybb_engine import jobstore_postgres
from ybb_engine.jobstore import JobStore, SqliteJobStore, open_store
from ybb_engine.jobstore_postgres import PostgresJobStore
from ybb_engine.lifecycle import State

BACKENDS = ["sqlite", "postgres"]


def plain_url(admin_url: str) -> str:
    """The server's SQLAlchemy URL as libpq takes it."""
    return admin_url.replace("postgresql+psycopg://", "postgresql://", 1)


@contextmanager
def postgres_schema(admin_url: str) -> Iterator[str]:
    """A fresh schema; yields a store URL whose sessions use it (postgresql+psycopg://, as
    an operator may write JOB_STORE_URL). Drops it, and closes the stores opened on it, after."""
    name = f"jobs_{secrets.token_hex(6)}"
    with psycopg.connect(plain_url(admin_url), autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(name)))
    try:
        yield f"{admin_url}?options={quote(f'-c search_path={name}')}"
    finally:
        jobstore_postgres.close_all()
        for opened in list(jobstore_postgres._forkable):  # and those a test made itself (even if it failed):
            opened.close()  # an open session would hold the server's shutdown at the end of the session
        with psycopg.connect(plain_url(admin_url), autocommit=True) as conn:
            conn.execute(sql.SQL("DROP SCHEMA {} CASCADE").format(sql.Identifier(name)))


@pytest.fixture(params=BACKENDS)
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield str(tmp_path / "jobs.sqlite3")
        return
    postgres = request.getfixturevalue("postgres")
    with postgres_schema(postgres.server.admin_url) as url:
        yield url


@pytest.fixture
def store(store_url: str) -> Iterator[JobStore]:
    """A new, empty store of each backend (not the per-process one open_store caches)."""
    if "://" not in store_url:
        yield SqliteJobStore(store_url)
        return
    opened = PostgresJobStore(store_url)
    try:
        yield opened
    finally:
        opened.close()


def backend(store: Any) -> str:
    return "postgres" if isinstance(store, PostgresJobStore) else "sqlite"


# -- concurrency ---------------------------------------------------------------------------------

ROWS_PER_BATCH = 3
PARTITIONS_PER_BATCH = 2


def hammer(store: JobStore, job_id: str, rounds: int, go: Any) -> list[int]:
    """After `go`: `rounds` times add_progress(1), reserve_batch, finish_batch; the first
    partition numbers reserve_batch handed out."""
    go.wait()
    firsts = []
    for _ in range(rounds):
        store.add_progress(job_id, 1)
        first = store.reserve_batch(job_id, PARTITIONS_PER_BATCH)
        assert first is not None
        firsts.append(first)
        store.finish_batch(job_id, ROWS_PER_BATCH, stored=True)
    return firsts


def commit_once(store: JobStore, job_id: str, tag: str, rows_total: int, go: Any) -> bool:
    """After `go`: try commit's compare-and-set once, leaving `tag` as the winner's mark."""
    go.wait()
    return store.transition(job_id, (State.AWAITING_RECORDS,), when={"pending_batches": 0, "rows_total": rows_total},
                            state=State.QUEUED, request_id=tag)


def in_threads(count: int, target: Any, *args: Any) -> list[Any]:
    """Run target(*args, index) in `count` threads; their results, in order (re-raises the first failure)."""
    results: list[Any] = [None] * count
    errors: list[BaseException] = []

    def run(index: int) -> None:
        try:
            results[index] = target(*args, index)
        except BaseException as exc:  # noqa: BLE001  reported to the test below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    if errors:
        raise errors[0]
    return results


def contend(url: str, job_id: str, name: str, threads: int, rounds: int, rows_total: int,
            ready: Any, go: Any, go_commit: Any, results: Any) -> None:
    """One process of the concurrency test: `threads` threads hammer, then each tries the commit once."""
    store = open_store(url)  # opened (and for PostgreSQL, migrated) before the start signal
    ready.put(name)
    firsts = in_threads(threads, lambda i: hammer(store, job_id, rounds, go))
    results.put(("hammered", name, [f for per_thread in firsts for f in per_thread]))
    won = in_threads(threads, lambda i: commit_once(store, job_id, f"{name}-{i}", rows_total, go_commit))
    results.put(("committed", name, [f"{name}-{i}" for i, ok in enumerate(won) if ok]))

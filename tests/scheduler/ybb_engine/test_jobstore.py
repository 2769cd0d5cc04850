"""The SQLite job store's lookups on the request path use an index, not a walk of every job."""
from __future__ import annotations

import time
from pathlib import Path

import pytest

from jobfactory import make_job
from ybb_engine.jobstore import SqliteJobStore
from ybb_engine.lifecycle import Job

# the store's call, and what its index search must be on
LOOKUPS = {
    "find_cached": (lambda store: store.find_cached("t", "key7", time.time()), "cache_key=?"),
    "unfinished": (lambda store: store.unfinished(), "state=?"),
    "expired": (lambda store: store.expired(time.time()), "expires_at<"),
}


def _job(n: int, tenant: str = "t", **fields) -> Job:
    fields = {"created_at": time.time() + n, "cache_key": f"key{n}", "state": "succeeded", **fields}
    return make_job(id=f"job{n}", tenant=tenant, **fields)


@pytest.fixture
def store(tmp_path: Path) -> SqliteJobStore:
    store = SqliteJobStore(tmp_path / "jobs.sqlite3")
    for n in range(200):
        store.create(_job(n))
    return store


@pytest.mark.parametrize("name", sorted(LOOKUPS))
def test_lookup_searches_an_index(store: SqliteJobStore, name: str) -> None:
    call, searched_on = LOOKUPS[name]
    conn = store._connect()
    statements: list[str] = []
    conn.set_trace_callback(statements.append)  # the SQL the store runs, values bound
    call(store)
    conn.set_trace_callback(None)
    (sql,) = statements
    plan = " ".join(row[3] for row in conn.execute(f"EXPLAIN QUERY PLAN {sql}"))
    assert "USING INDEX" in plan and searched_on in plan, plan
    assert "SCAN" not in plan and "TEMP B-TREE" not in plan, plan


def test_find_cached_takes_the_newest_unexpired_success(store: SqliteJobStore) -> None:
    now = time.time()
    store.create(_job(1000, cache_key="same", created_at=now + 5000))
    store.create(_job(1001, cache_key="same", created_at=now + 6000))
    store.create(_job(1002, cache_key="same", created_at=now + 7000, state="failed"))
    store.create(_job(1003, cache_key="same", created_at=now + 8000, expires_at=now - 1))
    store.create(_job(1004, tenant="other", cache_key="same", created_at=now + 9000))
    assert store.find_cached("t", "same", now).id == "job1001"
    assert store.find_cached("t", "absent", now) is None


def test_an_old_store_gets_the_new_indexes(tmp_path: Path) -> None:
    path = tmp_path / "jobs.sqlite3"
    old = SqliteJobStore(path)._connect()
    old.execute("DROP INDEX jobs_cache_key")
    old.execute("CREATE INDEX jobs_cache ON jobs (tenant, cache_key) WHERE cache_key IS NOT NULL")
    indexes = {row[0] for row in SqliteJobStore(path)._connect().execute(
        "SELECT name FROM sqlite_master WHERE type = 'index'")}
    assert "jobs_cache_key" in indexes and "jobs_cache" not in indexes

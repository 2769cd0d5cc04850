"""The job stores, SQLite and PostgreSQL, against the same tests: what the JobStore protocol
promises (round trips, idempotency, compare-and-set, counters, paging, histograms, deletion),
and that the request path's lookups use an index, not a walk of every job."""
from __future__ import annotations

import json
import time
from pathlib import Path

import psycopg
import pytest

from jobfactory import make_job
from jobstores import backend, plain_url, store, store_url  # noqa: F401  (fixtures over both backends)
from ybb_engine.jobstore import ID_BATCH, DuplicateJob, JobStore, SqliteJobStore
from ybb_engine.lifecycle import Job, State

# the store's call, and the index its search must use (SQLite: what EXPLAIN QUERY PLAN names)
LOOKUPS = {
    "find_cached": (lambda store: store.find_cached("t", "key7", time.time()), "cache_key=?", "jobs_cache_key"),
    "unfinished": (lambda store: store.unfinished(), "state=?", "jobs_unfinished"),
    "expired": (lambda store: store.expired(time.time()), "expires_at<", "jobs_expires"),
}


def _job(n: int, tenant: str = "t", **fields) -> Job:
    fields = {"created_at": time.time() + n, "cache_key": f"key{n}", "state": "succeeded", **fields}
    return make_job(id=f"job{n}", tenant=tenant, **fields)


@pytest.fixture
def filled(store: JobStore) -> JobStore:
    for n in range(200):
        store.create(_job(n))
    return store


@pytest.mark.parametrize("name", sorted(LOOKUPS))
def test_lookup_searches_an_index(filled: JobStore, store_url: str, name: str, monkeypatch) -> None:
    call, searched_on, index = LOOKUPS[name]
    if backend(filled) == "sqlite":
        conn = filled._connect()  # type: ignore[attr-defined]
        statements: list[str] = []
        conn.set_trace_callback(statements.append)  # the SQL the store runs, values bound
        call(filled)
        conn.set_trace_callback(None)
        (sql,) = statements
        plan = " ".join(row[3] for row in conn.execute(f"EXPLAIN QUERY PLAN {sql}"))
        assert "USING INDEX" in plan and searched_on in plan, plan
        assert "SCAN" not in plan and "TEMP B-TREE" not in plan, plan
        return
    ran: list[tuple[str, list]] = []
    run = filled._run  # type: ignore[attr-defined]
    monkeypatch.setattr(filled, "_run", lambda sql, params=(), **kw: ran.append((sql, list(params))) or run(
        sql, params, **kw))
    call(filled)
    (sql, params), = ran
    with psycopg.connect(plain_url(store_url)) as conn:  # a transaction: the SET ends with it
        conn.execute("ANALYZE jobs")
        conn.execute("SET LOCAL enable_seqscan = off")
        plan = json.dumps(conn.execute(f"EXPLAIN (FORMAT JSON) {sql}", params).fetchone()[0])
    assert f'"Index Name": "{index}"' in plan, plan
    assert '"Sort"' not in plan, plan


def test_find_cached_takes_the_newest_unexpired_success(filled: JobStore) -> None:
    now = time.time()
    filled.create(_job(1000, cache_key="same", created_at=now + 5000))
    filled.create(_job(1001, cache_key="same", created_at=now + 6000))
    filled.create(_job(1002, cache_key="same", created_at=now + 7000, state="failed"))
    filled.create(_job(1003, cache_key="same", created_at=now + 8000, expires_at=now - 1))
    filled.create(_job(1004, tenant="other", cache_key="same", created_at=now + 9000))
    assert filled.find_cached("t", "same", now).id == "job1001"
    assert filled.find_cached("t", "absent", now) is None


def test_an_old_sqlite_store_gets_the_new_indexes(tmp_path: Path) -> None:
    """SQLite's own upgrade path (PostgreSQL has numbered migrations: test_jobstore_postgres.py)."""
    path = tmp_path / "jobs.sqlite3"
    old = SqliteJobStore(path)._connect()
    old.execute("DROP INDEX jobs_cache_key")
    old.execute("CREATE INDEX jobs_cache ON jobs (tenant, cache_key) WHERE cache_key IS NOT NULL")
    indexes = {row[0] for row in SqliteJobStore(path)._connect().execute(
        "SELECT name FROM sqlite_master WHERE type = 'index'")}
    assert "jobs_cache_key" in indexes and "jobs_cache" not in indexes


def test_a_job_comes_back_as_it_went_in(store: JobStore) -> None:
    job = make_job(state="failed", template="participants/standard", format="csv", filename="Zoë export.csv",
                   spec={"columns": [{"field": "naïve", "header": "Ünïcode ✓"}], "nested": {"n": [1, 2.5, None]},
                         "nul": "a\x00b", "big": 2**53},
                   request_id="req-1", idempotency_key="key-1", partitions=3, rows_total=10, rows_done=7, rows=9,
                   size_bytes=12345678901, warnings={"truncated": 2}, error_code="invalid_records",
                   error_message="Row 3 is bad", error_detail={"rows": [3], "why": "bad"}, started_at=1.5,
                   finished_at=2.25, expected_rows=10, batches=2, pending_batches=1, request_digest="d" * 64,
                   callback_url="https://example.org/hook", cache_key="c", webhook_status="delivered",
                   created_at=1700000000.123456, expires_at=1700003600.5)
    assert store.create(job) == job
    assert store.get(job.id) == job
    assert store.get("absent") is None and store.get("a\x00b") is None  # a NUL matches nothing, on both
    bare = store.create(make_job())
    assert bare.warnings is None and bare.error_detail is None and bare.rows is None


def test_an_idempotency_key_is_unique_per_tenant(store: JobStore) -> None:
    first = store.create(make_job(idempotency_key="k"))
    with pytest.raises(DuplicateJob):
        store.create(make_job(idempotency_key="k"))  # a concurrent retry of the same tenant
    with pytest.raises(DuplicateJob):
        store.create(make_job(id=first.id))
    other = store.create(make_job(tenant="other", idempotency_key="k"))
    store.create(make_job())
    store.create(make_job())  # any number of jobs without a key
    assert store.find_idempotent("t", "k").id == first.id
    assert store.find_idempotent("other", "k").id == other.id
    assert store.find_idempotent("t", "absent") is None
    assert store.list(None, 10, 0)[1] == 4


def test_transition_is_a_compare_and_set(store: JobStore) -> None:
    job = store.create(make_job(state="awaiting_records", rows_total=5))
    assert not store.transition(job.id, (State.RUNNING,), state=State.SUCCEEDED)  # not in a source state
    assert not store.transition(job.id, (State.AWAITING_RECORDS,), when={"rows_total": 4}, state=State.QUEUED)
    assert not store.transition(job.id, (State.AWAITING_RECORDS,), when={"rows": None}, state=State.QUEUED)
    assert store.get(job.id).state is State.AWAITING_RECORDS
    assert store.transition(job.id, (State.AWAITING_RECORDS, State.QUEUED), when={"rows_total": 5,
                            "pending_batches": 0}, state=State.QUEUED, warnings={"w": 1})
    assert not store.transition(job.id, (State.AWAITING_RECORDS,), state=State.QUEUED)  # once only
    now = store.get(job.id)
    assert now.state is State.QUEUED and now.warnings == {"w": 1}
    store.update(job.id, webhook_status="sent", error_detail=["x"])  # no state condition
    assert store.get(job.id).webhook_status == "sent" and store.get(job.id).error_detail == ["x"]
    assert not store.transition("absent", (), state=State.FAILED)
    with pytest.raises(ValueError, match="unknown job column"):
        store.transition(job.id, (), when={"nope": 1}, state=State.FAILED)
    with pytest.raises(ValueError, match="unknown job column"):
        store.update(job.id, nope=1)


def test_progress_and_batches_count(store: JobStore) -> None:
    job = store.create(make_job(state="awaiting_records"))
    store.add_progress(job.id, 7)
    store.add_progress(job.id, 3)
    assert store.reserve_batch(job.id, 2) == 0
    assert store.reserve_batch(job.id, 3) == 2
    assert store.reserve_batch(job.id, 1) == 5
    store.finish_batch(job.id, 100, stored=True)
    store.finish_batch(job.id, 50, stored=False)  # given up: nothing of it counts
    now = store.get(job.id)
    assert (now.rows_done, now.partitions, now.pending_batches, now.batches, now.rows_total) == (10, 6, 1, 1, 100)
    store.update(job.id, state=State.QUEUED)
    assert store.reserve_batch(job.id, 1) is None  # no longer accepting records
    assert store.reserve_batch("absent", 1) is None
    assert store.get(job.id).partitions == 6


def test_list_pages_newest_first_with_the_total(store: JobStore) -> None:
    for n in range(25):
        store.create(_job(n, tenant="a" if n % 5 else "b", created_at=1000.0 + n))
    page, total = store.list("a", 7, 0)
    assert total == 20 and [j.id for j in page] == [f"job{n}" for n in (24, 23, 22, 21, 19, 18, 17)]
    page, _ = store.list("a", 7, 14)
    assert [j.id for j in page] == [f"job{n}" for n in (7, 6, 4, 3, 2, 1)]
    assert store.list("a", 7, 10**9) == ([], 20)
    everyone, total = store.list(None, 100, 0)
    assert total == 25 and [j.id for j in everyone] == [f"job{n}" for n in range(24, -1, -1)]
    assert store.list("nobody", 10, 0) == ([], 0)


def test_recent_counts_expired_and_unfinished(store: JobStore) -> None:
    states = ["queued", "running", "succeeded", "failed", "awaiting_records", "running", "expired"]
    for n, state in enumerate(states):
        store.create(_job(n, state=state, created_at=1000.0 + n, expires_at=5000.0 + n))
    assert [j.id for j in store.recent(None, 3)] == ["job6", "job5", "job4"]
    assert [j.id for j in store.recent([State.RUNNING, State.QUEUED], 10)] == ["job5", "job1", "job0"]
    assert store.recent([State.CANCELLED], 10) == []
    assert store.count_by_state() == {"queued": 1, "running": 2, "succeeded": 1, "failed": 1,
                                      "awaiting_records": 1, "expired": 1}
    assert sorted(j.id for j in store.unfinished()) == ["job0", "job1", "job5"]
    assert sorted(j.id for j in store.expired(5003.0)) == ["job0", "job1", "job2", "job3"]
    assert sorted(j.id for j in store.expired(9999.0)) == [f"job{n}" for n in range(6)]  # job6 is expired already
    assert store.expired(4999.0) == []


def test_statistics_histograms(store: JobStore) -> None:
    finished = [("xlsx", 1000, 0.5), ("xlsx", 3000, 1.5), ("xlsx", 10, 10.0), ("csv", 500, 2.0)]
    for n, (fmt, rows, seconds) in enumerate(finished):
        store.create(_job(n, format=fmt, template=None if n else "participants/standard", rows=rows,
                          size_bytes=100 * (n + 1), started_at=100.0, finished_at=100.0 + seconds))
    store.create(_job(10, state="running", started_at=100.0))                         # not finished
    store.create(_job(11, state="failed", size_bytes=None, rows=None, finished_at=1.0))
    store.create(_job(12, rows=5, size_bytes=7, started_at=100.0, finished_at=100.0))  # no duration: left out
    stats = store.statistics([1.0, 2.0], [100.0, 1000.0, 2000.0])
    assert sorted(stats.by_state_and_template) == [("failed", "custom", 1), ("running", "custom", 1),
                                                   ("succeeded", "custom", 4),
                                                   ("succeeded", "participants/standard", 1)]
    durations = {row.format: row for row in stats.durations}
    assert set(durations) == {"xlsx", "csv"}
    assert (durations["xlsx"].cumulative, durations["xlsx"].count, durations["xlsx"].total) == ([1, 2], 3, 12.0)
    assert (durations["csv"].cumulative, durations["csv"].count, durations["csv"].total) == ([0, 1], 1, 2.0)
    speeds = {row.format: row for row in stats.speeds}
    assert speeds["xlsx"].cumulative == [1, 1, 3] and speeds["xlsx"].total == pytest.approx(2000 + 2000 + 1)
    assert speeds["csv"].cumulative == [0, 1, 1] and speeds["csv"].total == pytest.approx(250.0)
    assert (stats.bytes_written, stats.rows_written) == (100 + 200 + 300 + 400 + 7, 1000 + 3000 + 10 + 500 + 5)
    assert all(isinstance(c, int) for row in stats.durations + stats.speeds for c in row.cumulative)
    assert isinstance(stats.bytes_written, int) and isinstance(stats.rows_written, int)


def test_statistics_of_an_empty_store(store: JobStore) -> None:
    stats = store.statistics([1.0], [1.0])
    assert (stats.by_state_and_template, stats.durations, stats.speeds, stats.bytes_written,
            stats.rows_written) == ([], [], [], 0, 0)


def test_delete_expired_removes_old_expired_rows_in_batches(store: JobStore) -> None:
    for n in range(7):
        store.create(_job(n, state="expired", expires_at=100.0 + n))
    store.create(_job(20, state="succeeded", expires_at=50.0))                      # not marked expired yet
    store.create(_job(21, state="expired", expires_at=50.0, finished_at=500.0))     # finished after the cutoff
    store.create(_job(22, state="expired", expires_at=300.0))                       # expired after the cutoff
    assert sorted(store.delete_expired(200.0, 3)) == ["job0", "job1", "job2"]  # the oldest first
    assert sorted(store.delete_expired(200.0, 3) + store.delete_expired(200.0, 3)) == ["job3", "job4", "job5",
                                                                                       "job6"]
    assert store.delete_expired(200.0, 3) == []
    assert sorted(j.id for j in store.list(None, 10, 0)[0]) == ["job20", "job21", "job22"]


def test_existing_says_which_ids_have_a_row(store: JobStore) -> None:
    store.create(_job(1))
    store.create(_job(2))
    assert store.existing(["job1", "job3", "job2", "a\x00b"]) == {"job1", "job2"}
    assert store.existing([]) == set()
    many = [f"job{n}" for n in range(ID_BATCH * 2 + 5)]
    assert store.existing(many) == {"job1", "job2"}

"""No lost update on either store: threads of this process and of two more processes (spawned:
nothing inherited) add progress and reserve and finish batches on one job at once, then all
try commit's compare-and-set at once. Every counter ends exact, every reserved partition
range is distinct, and exactly one contender wins the compare-and-set."""
from __future__ import annotations

import multiprocessing
import queue

import pytest

import jobstores
from jobfactory import make_job
from jobstores import store, store_url  # noqa: F401  (fixtures over both backends)
from ybb_engine.jobstore import JobStore
from ybb_engine.lifecycle import State

pytestmark = pytest.mark.slow

PROCESSES = 2
THREADS = 6           # in this process and in each of the others
ROUNDS = 25           # add_progress + reserve_batch + finish_batch, per thread


def _get(results: multiprocessing.Queue, kind: str, count: int, procs: list) -> list[list]:
    found = []
    while len(found) < count:
        try:
            got_kind, _name, values = results.get(timeout=120)
        except queue.Empty:
            pytest.fail(f"a contending process went silent; exit codes {[p.exitcode for p in procs]}")
        assert got_kind == kind
        found.append(values)
    return found


def test_concurrent_counters_lose_no_update_and_one_commit_wins(store: JobStore, store_url: str) -> None:
    job = store.create(make_job(state="awaiting_records"))
    contenders = THREADS * (PROCESSES + 1)
    batches = contenders * ROUNDS
    rows_total = batches * jobstores.ROWS_PER_BATCH
    ctx = multiprocessing.get_context("spawn")
    ready, results = ctx.Queue(), ctx.Queue()
    go, go_commit = ctx.Event(), ctx.Event()
    procs = [ctx.Process(target=jobstores.contend, args=(store_url, job.id, f"p{n}", THREADS, ROUNDS, rows_total,
                                                         ready, go, go_commit, results), daemon=True)
             for n in range(PROCESSES)]
    for proc in procs:
        proc.start()
    try:
        for _ in procs:
            ready.get(timeout=120)  # each has opened the store
        go.set()
        local = jobstores.in_threads(THREADS, lambda i: jobstores.hammer(store, job.id, ROUNDS, go))
        firsts = [f for per_thread in local for f in per_thread]
        for values in _get(results, "hammered", PROCESSES, procs):
            firsts += values

        hammered = store.get(job.id)
        assert hammered.rows_done == batches
        assert hammered.partitions == batches * jobstores.PARTITIONS_PER_BATCH
        assert (hammered.batches, hammered.pending_batches, hammered.rows_total) == (batches, 0, rows_total)
        assert sorted(firsts) == list(range(0, batches * jobstores.PARTITIONS_PER_BATCH,
                                            jobstores.PARTITIONS_PER_BATCH))  # no two batches share a partition

        go_commit.set()
        won = jobstores.in_threads(THREADS, lambda i: jobstores.commit_once(store, job.id, f"local-{i}", rows_total,
                                                                              go_commit))
        winners = [f"local-{i}" for i, ok in enumerate(won) if ok]
        for values in _get(results, "committed", PROCESSES, procs):
            winners += values
        assert len(winners) == 1, winners
        committed = store.get(job.id)
        assert committed.state is State.QUEUED and committed.request_id == winners[0]
        for proc in procs:
            proc.join(60)
            assert proc.exitcode == 0
    finally:
        go.set()
        go_commit.set()
        for proc in procs:
            if proc.is_alive():
                proc.kill()

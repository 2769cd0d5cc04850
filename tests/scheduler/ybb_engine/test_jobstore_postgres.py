"""What only the PostgreSQL job store has: versioned migrations under an advisory lock, the
URL (JOB_STORE_URL) and the password kept out of task arguments, a pool per process that a
fork never shares, and the service and its tasks running on it."""
from __future__ import annotations

import multiprocessing
import os
import pickle
import subprocess
import sys
import textwrap
import threading
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from jobfactory import make_job
from jobstores import plain_url, postgres_schema
from support import free_port
from ybb_engine import jobstore_postgres, tasks
from ybb_engine.jobstore import InvalidStoreURL, open_store, parse_store_url
from ybb_engine.jobstore_postgres import MIGRATIONS, JobStoreUnavailable, Migration, PostgresJobStore, migrate
from ybb_engine.lifecycle import ACTIVE, State
from ybb_engine.service import ExportRequest, ExportService
from ybb_engine.settings import EngineSettings

ROOT = Path(__file__).resolve().parents[3]
COLUMNS = [{"field": "name", "header": "Name", "type": "string"}]


@pytest.fixture
def url(postgres) -> Iterator[str]:
    """A store URL (with the password) of a fresh, empty schema."""
    with postgres_schema(postgres.server.admin_url) as schema_url:
        yield schema_url


def _versions(url: str) -> list[tuple]:
    with psycopg.connect(plain_url(url)) as conn:
        return conn.execute("SELECT version, description, applied_at FROM schema_version ORDER BY 1").fetchall()


# -- migrations ----------------------------------------------------------------------------------

def test_the_first_open_migrates_and_records_the_version_and_a_second_is_a_no_op(url: str) -> None:
    PostgresJobStore(url).close()
    (recorded,) = _versions(url)
    assert recorded[:2] == (1, MIGRATIONS[0].description)
    with psycopg.connect(plain_url(url), autocommit=True) as conn:
        assert migrate(conn) == []
        tables = {row[0] for row in conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = current_schema()")}
    PostgresJobStore(url).close()
    assert _versions(url) == [recorded] and tables == {"jobs", "schema_version"}


def test_concurrent_starters_migrate_once(url: str) -> None:
    barrier = threading.Barrier(8)
    applied: list[list[int]] = []

    def start() -> None:
        with psycopg.connect(plain_url(url), autocommit=True) as conn:
            barrier.wait()
            applied.append(migrate(conn))

    threads = [threading.Thread(target=start) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert sorted(applied) == [[]] * 7 + [[1]]
    assert [v[0] for v in _versions(url)] == [1]


def test_a_new_migration_runs_once_on_the_next_open(url: str, monkeypatch) -> None:
    store = PostgresJobStore(url)
    job = store.create(make_job())
    store.close()
    added = Migration(2, "test: a column", ("ALTER TABLE jobs ADD COLUMN extra TEXT NOT NULL DEFAULT 'x'",))
    monkeypatch.setattr(jobstore_postgres, "MIGRATIONS", (*MIGRATIONS, added))
    again = PostgresJobStore(url)
    assert again.get(job.id) == job  # the store reads its own columns only
    again.close()
    PostgresJobStore(url).close()  # the ALTER would fail if it ran twice
    assert [v[:2] for v in _versions(url)] == [(1, MIGRATIONS[0].description), (2, "test: a column")]


def test_a_store_newer_than_the_code_is_left_alone(url: str, monkeypatch) -> None:
    monkeypatch.setattr(jobstore_postgres, "MIGRATIONS", (*MIGRATIONS, Migration(2, "newer", ("SELECT 1",))))
    PostgresJobStore(url).close()
    monkeypatch.undo()
    PostgresJobStore(url).close()  # an older version of the code, during a rolling upgrade
    assert [v[0] for v in _versions(url)] == [1, 2]


def test_the_migrated_unfinished_index_matches_the_active_states() -> None:
    """Migrations are literal SQL: if ACTIVE changes, a new migration must rebuild the index."""
    (statement,) = [s for s in MIGRATIONS[0].statements if "jobs_unfinished" in s]
    assert statement.endswith("WHERE state IN (" + ", ".join(f"'{s.value}'" for s in ACTIVE) + ")")


# -- the URL and its password ----------------------------------------------------------------------

@pytest.mark.parametrize(("given", "location"), [
    ("postgresql://ybb:s3cr%40t@db.example:5432/jobs", "postgresql://ybb@db.example:5432/jobs"),
    ("postgresql+psycopg://ybb:s3cret@db.example/jobs", "postgresql://ybb@db.example/jobs"),
    ("postgres://ybb@db.example:6543/jobs?sslmode=require", "postgresql://ybb@db.example:6543/jobs?sslmode=require"),
    ("postgresql://ybb@h/jobs?password=s3cret&sslmode=verify-full&sslpassword=k3y",
     "postgresql://ybb@h/jobs?sslmode=verify-full"),
    ("postgresql://h/jobs?options=-c%20search_path%3Dx", "postgresql://h/jobs?options=-c%20search_path%3Dx"),
    ("postgresql://ybb:s3cr@t@[::1]:5432,h2:5433/jobs", "postgresql://ybb@[::1]:5432,h2:5433/jobs"),
])
def test_the_location_is_the_url_without_its_password(given: str, location: str) -> None:
    parsed = parse_store_url(given)
    assert parsed.location == location and parse_store_url(location).location == location
    assert parsed.has_password == ("s3cr" in given)
    assert parsed.url.startswith("postgresql://") and not parse_store_url(location).has_password


@pytest.mark.parametrize(("given", "message"), [
    ("sqlite:///var/data/jobs.sqlite3", "must be postgresql://"),
    ("mysql://u:s3cret@h/db", "must be postgresql://"),
    ("/var/data/jobs.sqlite3", "must be postgresql://"),
    ("postgresql://u:s3cret@h:5432", "names no database"),
    ("postgresql://u:s3cret@h:5432/", "names no database"),
    ("postgresql://u:s3cret@h/db?sslmode", "malformed"),
    ("postgresql://u:pw9x/s3cret@h/db", "names no database"),     # an unencoded / in the password
    ("postgresql://u:pw9x?s3cret@h/db", "malformed"),             # an unencoded ?
    ("postgresql://u:s3cret/db", "port that is not a number"),  # no @host: the password looks like a port
    ("postgresql://u:p@h:54x2/db", "port that is not a number"),
])
def test_a_bad_url_is_refused_at_start_up_without_its_password(tmp_path: Path, given: str, message: str) -> None:
    settings = EngineSettings(DATA_DIR=str(tmp_path), JOB_STORE_URL=given)
    with pytest.raises(InvalidStoreURL, match=message) as refused:
        ExportService.from_settings(settings)
    assert "s3cret" not in str(refused.value) and "pw9x" not in str(refused.value)


def test_a_url_libpq_refuses_is_refused_without_its_password() -> None:
    with pytest.raises(InvalidStoreURL, match="invalid") as refused:
        PostgresJobStore("postgresql://u:s3cret@127.0.0.1/db?no_such_option=1")
    assert "s3cret" not in str(refused.value) and "postgresql://u@127.0.0.1/db" in str(refused.value)


def test_an_unreachable_server_is_a_clear_error_without_the_password() -> None:
    with pytest.raises(JobStoreUnavailable, match="cannot connect to the job store") as failed:
        PostgresJobStore(f"postgresql://u:s3cret@127.0.0.1:{free_port()}/db?connect_timeout=2")
    assert "s3cret" not in str(failed.value) and "JOB_STORE_URL" in str(failed.value)


def test_a_jobref_refuses_a_password() -> None:
    with pytest.raises(ValueError, match="without a password"):
        tasks.JobRef("j", "postgresql://u:pw@h/db", "/data", {}, "x.csv")
    tasks.JobRef("j", "postgresql://u@h/db", "/data", {}, "x.csv")
    tasks.JobRef("j", "/data/jobs.sqlite3", "/data", {}, "x.csv")


def test_a_worker_takes_the_password_from_its_own_environment(url: str, tmp_path: Path, monkeypatch) -> None:
    store = open_store(url)
    job = store.create(make_job(state="running"))
    location = store.location
    assert parse_store_url(url).has_password and not parse_store_url(location).has_password
    jobstore_postgres.close_all()  # as in a new worker process: nothing opened yet
    monkeypatch.delenv("JOB_STORE_URL", raising=False)
    monkeypatch.delenv("JOB_STORE_URL_FILE", raising=False)
    with pytest.raises(JobStoreUnavailable, match="JOB_STORE_URL"):
        open_store(location)  # no password anywhere: the server refuses
    secret = tmp_path / "job-store-url"
    secret.write_text(url + "\n")
    monkeypatch.setenv("JOB_STORE_URL_FILE", str(secret))
    assert open_store(location).get(job.id) == job
    jobstore_postgres.close_all()
    monkeypatch.delenv("JOB_STORE_URL_FILE")
    monkeypatch.setenv("JOB_STORE_URL", url.replace("postgresql+psycopg://", "postgres://"))  # any accepted spelling
    assert open_store(location).get(job.id) == job


def test_a_separate_process_opens_the_location_with_its_own_url(url: str) -> None:
    """What a Dask worker process does with a JobRef: its environment has JOB_STORE_URL."""
    store = open_store(url)
    job = store.create(make_job(state="running"))
    ref = tasks.JobRef(job.id, store.location, "/nonexistent", {}, job.filename)
    code = textwrap.dedent(f"""
        import pickle, sys
        ref = pickle.loads({pickle.dumps(ref)!r})
        ref.job_store().add_progress(ref.job_id, 5)
        print(ref.job_store().get(ref.job_id).rows_done)
    """)
    env = {**os.environ, "JOB_STORE_URL": url, "PYTHONPATH": os.pathsep.join(
        str(ROOT / "services" / d) for d in ("api", "scheduler"))}
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "5" and store.get(job.id).rows_done == 5


# -- processes ---------------------------------------------------------------------------------------

def _in_forked_child(store: PostgresJobStore, job_id: str, answers) -> None:
    (backend,), = store._run("SELECT pg_backend_pid()")[0]
    store.add_progress(job_id, 1)
    answers.put((backend, store.get(job_id).rows_done))


def test_a_forked_process_opens_its_own_pool_and_leaves_the_parents_alone(url: str) -> None:
    """Gunicorn forks its workers from the preloaded app; multiprocessing forks too."""
    store = PostgresJobStore(url)
    job = store.create(make_job())
    ctx = multiprocessing.get_context("fork")
    answers = ctx.Queue()
    children_backends = set()
    for expected in (1, 2):  # one after the other, each forked from a parent whose pool is in use
        child = ctx.Process(target=_in_forked_child, args=(store, job.id, answers))
        child.start()
        child.join(60)
        backend, rows_done = answers.get(timeout=5)
        assert child.exitcode == 0 and rows_done == expected
        children_backends.add(backend)
        assert store.get(job.id).rows_done == expected
    parent_backends = {store._run("SELECT pg_backend_pid()")[0][0][0] for _ in range(4)}
    assert not parent_backends & children_backends  # each child had sessions of its own
    stats = store._pool.get_stats()  # the parent's sessions survived their children
    assert stats.get("connections_lost", 0) == 0 and stats.get("returns_bad", 0) == 0, stats
    store.close()


def test_open_store_gives_one_store_per_location(url: str) -> None:
    first = open_store(url)
    assert open_store(first.location) is first and open_store(url.replace("+psycopg", "")) is first


# -- the service on PostgreSQL ---------------------------------------------------------------------

def test_exports_run_on_the_postgres_store_and_tasks_carry_no_password(url: str, tmp_path: Path, cluster) -> None:
    service = ExportService.from_settings(EngineSettings(
        DATA_DIR=str(tmp_path / "data"), DASK_SCHEDULER_ADDRESS=cluster.scheduler_address, PARTITION_ROWS=2,
        JOB_STORE_URL=url))
    assert isinstance(service.store, PostgresJobStore)
    password = parse_store_url(url).url.split(":")[2].split("@")[0]
    records = [{"name": f"n{i}"} for i in range(5)]
    inline = service.create(ExportRequest(tenant="t", body={"columns": COLUMNS, "records": records, "format": "csv"}))
    assert inline.state is State.SUCCEEDED and inline.rows == 5
    on_cluster = service.create(ExportRequest(tenant="t", body={"columns": COLUMNS, "records": records,
                                                                "format": "csv", "mode": "async"}))
    done = service.wait(on_cluster, timeout=60)
    assert done.state is State.SUCCEEDED and done.rows_done == 5 and done.partitions == 3
    assert service.file(done).path.read_text().splitlines() == ["Name", *(r["name"] for r in records)]
    ref = service._ref(done)
    assert password not in pickle.dumps(ref).decode("latin-1") and ref.store == service.store.location

"""The PostgreSQL job store, for more than one host: JOB_STORE_URL=postgresql://user:pw@host:5432/db.

The same logical schema and the same semantics as SqliteJobStore: every change of a row is
one statement (`UPDATE ... RETURNING`, `DELETE ... RETURNING`), so the compare-and-set of
`transition`, the counters of `add_progress`, `reserve_batch` and `finish_batch` never lose
an update, whichever processes and hosts run them at once. JSON columns are `text` holding
orjson's output, as in SQLite (jsonb refuses the `\\u0000` escape a record may hold).
PostgreSQL's text cannot hold NUL characters: a NUL in a string parameter is stored (and
looked up) as U+FFFD, where SQLite would keep it.

Connections: one `psycopg_pool.ConnectionPool` per process and store (POOL_MIN..POOL_MAX
connections), opened on first use in the process that uses it. A process forked from
one that had a pool (Gunicorn's preload, multiprocessing) never touches its parent's
connections: it opens a pool of its own.

Schema: the numbered MIGRATIONS, each applied once, in order, recorded in `schema_version`.
Every process opening the store checks the version; the first to find it behind applies
what is missing under a transaction-level advisory lock, so concurrent starters never race.

Credentials: the store's `location` (JobRef.store, pickled into the Dask scheduler) is the
URL without its password. `open_store(location)` in another process takes the password from
that process's JOB_STORE_URL (or JOB_STORE_URL_FILE) when it names the same user, host, port,
database and parameters; otherwise libpq's own PGPASSWORD / PGPASSFILE (~/.pgpass) apply.
"""
from __future__ import annotations

import builtins
import dataclasses
import logging
import os
import threading
import weakref
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

import psycopg
from psycopg.conninfo import conninfo_to_dict
from psycopg.rows import dict_row, tuple_row
from psycopg_pool import ConnectionPool

from .jobstore import (
    DELETABLE,
    SECRET_PARAMETERS,
    DuplicateJob,
    HistogramRow,
    InvalidStoreURL,
    JobQueries,
    JobStatistics,
    StoreURL,
    _decode,
    _encode,
    parse_store_url,
    transition_sql,
)
from .lifecycle import COLUMNS, Job, State
from .settings import env

POOL_MIN = 1
POOL_MAX = 4
POOL_TIMEOUT = 10.0    # seconds to wait for a free connection (or for the server)
CONNECT_TIMEOUT = 10   # libpq's connect_timeout, unless the URL sets one
MIGRATION_LOCK = 0x7962625F6A6F6273  # pg_advisory_xact_lock key: "ybb_jobs" in ASCII
SELECT_COLUMNS = ", ".join(COLUMNS)

logging.getLogger("psycopg.pool").setLevel(logging.WARNING)  # it logs every checkout at INFO


@dataclass(frozen=True)
class Migration:
    version: int
    description: str
    statements: tuple[str, ...]


# Append only: a migration that has run somewhere is never edited. Its SQL is literal (no
# constants from the code), so that what version N means never changes.
MIGRATIONS: tuple[Migration, ...] = (
    Migration(1, "jobs: the SQLite store's table and indexes", (
        """CREATE TABLE jobs (
            id TEXT PRIMARY KEY,
            tenant TEXT NOT NULL,
            state TEXT NOT NULL,
            template TEXT,
            format TEXT NOT NULL,
            filename TEXT NOT NULL,
            spec TEXT NOT NULL,
            request_id TEXT,
            idempotency_key TEXT,
            partitions BIGINT NOT NULL DEFAULT 0,
            rows_total BIGINT NOT NULL DEFAULT 0,
            rows_done BIGINT NOT NULL DEFAULT 0,
            rows BIGINT,
            size_bytes BIGINT,
            warnings TEXT,
            error_code TEXT,
            error_message TEXT,
            error_detail TEXT,
            created_at DOUBLE PRECISION NOT NULL,
            started_at DOUBLE PRECISION,
            finished_at DOUBLE PRECISION,
            expires_at DOUBLE PRECISION NOT NULL,
            expected_rows BIGINT,
            batches BIGINT NOT NULL DEFAULT 0,
            pending_batches BIGINT NOT NULL DEFAULT 0,
            request_digest TEXT,
            callback_url TEXT,
            cache_key TEXT,
            webhook_status TEXT
        )""",
        "CREATE INDEX jobs_tenant_created ON jobs (tenant, created_at)",
        "CREATE INDEX jobs_cache_key ON jobs (tenant, cache_key, created_at) WHERE cache_key IS NOT NULL",
        "CREATE INDEX jobs_expires ON jobs (expires_at)",
        "CREATE INDEX jobs_unfinished ON jobs (state) WHERE state IN ('queued', 'running')",
        "CREATE UNIQUE INDEX jobs_idempotency ON jobs (tenant, idempotency_key) WHERE idempotency_key IS NOT NULL",
    )),
)

_SCHEMA_VERSION = """CREATE TABLE IF NOT EXISTS schema_version (
    version INTEGER PRIMARY KEY,
    description TEXT NOT NULL,
    applied_at TIMESTAMPTZ NOT NULL DEFAULT now()
)"""


def schema_version(conn: psycopg.Connection[Any]) -> int:
    """The highest migration recorded (0: none, or no schema_version table yet)."""
    if conn.execute("SELECT to_regclass('schema_version')").fetchone() == (None,):
        return 0
    row = conn.execute("SELECT COALESCE(MAX(version), 0) FROM schema_version").fetchone()
    return int(row[0]) if row else 0


def migrate(conn: psycopg.Connection[Any], migrations: Sequence[Migration] | None = None) -> list[int]:
    """Apply the migrations (default: MIGRATIONS) newer than the recorded version, in order, in
    one transaction, under the advisory lock; returns the versions applied (none when up to date)."""
    migrations = MIGRATIONS if migrations is None else migrations
    if schema_version(conn) >= max(m.version for m in migrations):
        return []  # up to date: no lock, no write (every worker process passes here)
    applied: list[int] = []
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (MIGRATION_LOCK,))
        conn.execute(_SCHEMA_VERSION)
        current = schema_version(conn)  # another starter may have migrated while we waited
        for migration in sorted(migrations, key=lambda m: m.version):
            if migration.version <= current:
                continue
            for statement in migration.statements:
                conn.execute(statement)
            conn.execute("INSERT INTO schema_version (version, description) VALUES (%s, %s)",
                         (migration.version, migration.description))
            applied.append(migration.version)
    return applied


class JobStoreUnavailable(RuntimeError):
    """The PostgreSQL job store cannot be reached or refused us (the message holds no password)."""


class PostgresJobStore(JobQueries):
    """A job store in PostgreSQL; thread-safe, fork-safe, one pool per process."""

    MARK = "%s"
    FINISHED = "rows IS NOT NULL AND started_at IS NOT NULL AND finished_at > started_at"

    def __init__(self, url: str, min_size: int = POOL_MIN, max_size: int = POOL_MAX) -> None:
        parsed = parse_store_url(url)
        self.location = parsed.location
        self._url = parsed.url
        self._kwargs = _connection_kwargs(parsed)
        self._sizes = (min_size, max_size)
        self._lock = threading.Lock()
        self._pool: ConnectionPool[Any] | None = None
        self._pool_pid = 0
        with self._connect() as conn:  # not the pool: the process that opens the store may fork next
            migrate(conn)
        _forkable.add(self)

    # -- connections -------------------------------------------------------------------------

    def _connect(self) -> psycopg.Connection[Any]:
        """One connection outside the pool (migrations)."""
        try:
            return psycopg.connect(self._url, **self._kwargs)
        except psycopg.OperationalError as exc:
            raise JobStoreUnavailable(
                f"cannot connect to the job store {self.location}: {exc}".strip() + " (a Dask worker or sweeper "
                "takes the password from its own JOB_STORE_URL or JOB_STORE_URL_FILE, which must name the same "
                "user, host, port and database)") from None

    def _pool_here(self) -> ConnectionPool[Any]:
        pid = os.getpid()
        pool = self._pool
        if pool is not None and self._pool_pid == pid:
            return pool
        with self._lock:
            if self._pool is None or self._pool_pid != pid:
                self._abandon_pool()
                pool = ConnectionPool(self._url, kwargs=self._kwargs, min_size=self._sizes[0],
                                      max_size=self._sizes[1], open=False, name="ybb-jobstore",
                                      timeout=POOL_TIMEOUT, check=ConnectionPool.check_connection, num_workers=1)
                pool.open()
                self._pool, self._pool_pid = pool, pid
            return self._pool

    def _abandon_pool(self) -> None:
        """After a fork: the parent's pool is the parent's. Closing it here would end the
        parent's sessions; keep it referenced (its __del__ would try to stop its threads)."""
        if self._pool is not None and self._pool_pid != os.getpid():
            _inherited_pools.append(self._pool)
            self._pool = None

    def _after_fork(self) -> None:
        self._lock = threading.Lock()  # another thread may have held it at the fork
        self._abandon_pool()

    def close(self) -> None:
        """Close this process's pool (tests; a process that is done with the store)."""
        with self._lock:
            if self._pool is not None and self._pool_pid == os.getpid():
                self._pool.close()
            self._pool = None

    def _run(self, sql: str, params: Sequence[Any] = (), as_dicts: bool = False) -> tuple[list[Any], int]:
        """Run one statement on a pooled connection (autocommit): its rows and its row count."""
        with self._pool_here().connection() as conn:
            cursor = conn.cursor(row_factory=dict_row if as_dicts else tuple_row)
            cursor.execute(sql, [_text(p) for p in params])
            return (cursor.fetchall() if cursor.description is not None else []), cursor.rowcount

    def _select(self, where: str, params: Sequence[Any] = ()) -> list[Job]:
        rows, _ = self._run(f"SELECT {SELECT_COLUMNS} FROM jobs {where}", params, as_dicts=True)
        return [_decode(row) for row in rows]

    def _one(self, where: str, params: Sequence[Any]) -> Job | None:
        found = self._select(where, params)
        return found[0] if found else None

    # -- the JobStore protocol -------------------------------------------------------------------

    def create(self, job: Job) -> Job:
        row = _encode(dataclasses.asdict(job))
        marks = ", ".join("%s" for _ in row)
        try:
            rows, _ = self._run(f"INSERT INTO jobs ({', '.join(row)}) VALUES ({marks}) RETURNING {SELECT_COLUMNS}",
                                list(row.values()), as_dicts=True)
        except psycopg.IntegrityError as exc:
            raise DuplicateJob(job.id) from exc
        return _decode(rows[0])

    def transition(self, job_id: str, from_states: Iterable[State], when: dict[str, Any] | None = None,
                   **fields: Any) -> bool:
        """Update `fields`; with `from_states`, only when the job is in one of them, and with
        `when`, only when those columns have those values (one UPDATE: compare-and-set)."""
        sql, params = transition_sql("%s", job_id, from_states, when, fields)
        return self._run(sql, params)[1] == 1

    def add_progress(self, job_id: str, rows: int) -> None:
        self._run("UPDATE jobs SET rows_done = rows_done + %s WHERE id = %s", (rows, job_id))

    def reserve_batch(self, job_id: str, partitions: int) -> int | None:
        """See SqliteJobStore.reserve_batch: one UPDATE ... RETURNING, so concurrent batches never collide."""
        rows, _ = self._run(
            "UPDATE jobs SET partitions = partitions + %s, pending_batches = pending_batches + 1 "
            "WHERE id = %s AND state = %s RETURNING partitions", (partitions, job_id, State.AWAITING_RECORDS.value))
        return int(rows[0][0]) - partitions if rows else None

    def finish_batch(self, job_id: str, rows: int, stored: bool) -> None:
        self._run("UPDATE jobs SET pending_batches = pending_batches - 1, rows_total = rows_total + %s, "
                  "batches = batches + %s WHERE id = %s", (rows if stored else 0, 1 if stored else 0, job_id))

    def list(self, tenant: str | None, limit: int, offset: int) -> tuple[list[Job], int]:
        where, params = ("WHERE tenant = %s", [tenant]) if tenant is not None else ("", [])
        total = int(self._run(f"SELECT COUNT(*) FROM jobs {where}", params)[0][0][0])
        return self._select(f"{where} ORDER BY created_at DESC LIMIT %s OFFSET %s", [*params, limit, offset]), total

    def count_by_state(self) -> dict[str, int]:
        return {state: int(count) for state, count in self._run("SELECT state, COUNT(*) FROM jobs GROUP BY state")[0]}

    def delete_expired(self, before: float, limit: int) -> builtins.list[str]:
        """See SqliteJobStore.delete_expired."""
        rows, _ = self._run(
            f"DELETE FROM jobs WHERE id IN (SELECT id FROM jobs WHERE {DELETABLE.format(m='%s')} "
            "ORDER BY expires_at LIMIT %s) RETURNING id", (State.EXPIRED.value, before, before, limit))
        return [row[0] for row in rows]

    def existing(self, job_ids: Sequence[str]) -> set[str]:
        if not job_ids:
            return set()
        rows, _ = self._run("SELECT id FROM jobs WHERE id = ANY(%s)", ([_text(i) for i in job_ids],))
        return {row[0] for row in rows}

    def statistics(self, duration_bounds: Sequence[float], speed_bounds: Sequence[float]) -> JobStatistics:
        by_state = [(str(state), str(template), int(count)) for state, template, count in self._run(
            "SELECT state, COALESCE(template, 'custom'), COUNT(*) FROM jobs GROUP BY 1, 2")[0]]
        written, rows = self._run("SELECT COALESCE(SUM(size_bytes), 0)::bigint, COALESCE(SUM(rows), 0)::bigint "
                                  "FROM jobs WHERE size_bytes IS NOT NULL")[0][0]
        return JobStatistics(
            by_state_and_template=by_state,
            durations=self._histogram("(finished_at - started_at)", duration_bounds),
            speeds=self._histogram("(rows / (finished_at - started_at))", speed_bounds),
            bytes_written=int(written), rows_written=int(rows))

    def _histogram(self, expression: str, bounds: Sequence[float]) -> builtins.list[HistogramRow]:
        counts = ", ".join(f"COUNT(*) FILTER (WHERE {expression} <= %s)" for _ in bounds)
        sql = f"SELECT format, COUNT(*), SUM({expression}), {counts} FROM jobs WHERE {self.FINISHED} GROUP BY format"
        return [HistogramRow(fmt, [int(c) for c in cumulative], int(total), float(value_sum or 0.0))
                for fmt, total, value_sum, *cumulative in self._run(sql, [float(b) for b in bounds])[0]]


def _text(value: Any) -> Any:
    """PostgreSQL's text holds no NUL: U+FFFD stands in for it (a NUL-bearing id simply matches nothing)."""
    if isinstance(value, str) and "\x00" in value:
        return value.replace("\x00", "\ufffd")
    return value


def _connection_kwargs(parsed: StoreURL) -> dict[str, Any]:
    """psycopg.connect's keywords: autocommit (each statement is its own transaction, as in
    SQLite), and a connect timeout and application name unless the URL sets them. Checks the
    URL as libpq reads it (InvalidStoreURL)."""
    try:
        given = conninfo_to_dict(parsed.url)
    except psycopg.ProgrammingError as exc:
        raise InvalidStoreURL(f"the job store URL {parsed.location} is invalid: "
                              f"{_redacted(str(exc), parsed.url)}") from None
    kwargs: dict[str, Any] = {"autocommit": True}
    if "connect_timeout" not in given:
        kwargs["connect_timeout"] = CONNECT_TIMEOUT
    if "application_name" not in given:
        kwargs["application_name"] = "ybb-jobstore"
    return kwargs


def _redacted(message: str, url: str) -> str:
    """`message` (libpq's, which may quote a part of the URL) with the URL's secrets masked."""
    parts = urlsplit(url)
    password = parts.netloc.rpartition("@")[0].partition(":")[2]
    secrets = {password, unquote(password)}
    secrets |= {value for name, value in parse_qsl(parts.query) if name in SECRET_PARAMETERS}
    for secret in sorted(secrets - {""}, key=len, reverse=True):
        message = message.replace(secret, "***")
    return message


# -- one store per process and location ------------------------------------------------------------

_stores: dict[str, PostgresJobStore] = {}
_stores_lock = threading.Lock()
_forkable: weakref.WeakSet[PostgresJobStore] = weakref.WeakSet()
_inherited_pools: list[ConnectionPool[Any]] = []


def resolve_url(parsed: StoreURL) -> str:
    """The URL to connect to `parsed` with: as given when it has a password; else this process's
    JOB_STORE_URL (or _FILE) when that names the same location; else the location itself."""
    if parsed.has_password:
        return parsed.url
    configured = env("JOB_STORE_URL")
    if configured:
        mine = parse_store_url(configured)
        if mine.location == parsed.location:
            return mine.url
    return parsed.url


def open_postgres(url_or_location: str) -> PostgresJobStore:
    """This process's store for the URL (with its password) or the location (without it)."""
    parsed = parse_store_url(url_or_location)
    with _stores_lock:
        store = _stores.get(parsed.location)
        if store is None:
            store = _stores[parsed.location] = PostgresJobStore(resolve_url(parsed))
    return store


def close_all() -> None:
    """Close and forget every store this process opened (tests)."""
    with _stores_lock:
        for store in _stores.values():
            store.close()
        _stores.clear()


def _after_fork_in_child() -> None:
    global _stores_lock
    _stores_lock = threading.Lock()
    for store in list(_forkable):
        store._after_fork()


os.register_at_fork(after_in_child=_after_fork_in_child)

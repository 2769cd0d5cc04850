"""Database connections of the sources, from the environment of each process (API and workers).

A connection `name` is configured by `SOURCE_<NAME>_URL` (or `SOURCE_<NAME>_URL_FILE`), an
SQLAlchemy URL: `mysql+pymysql://user:password@host:3306/db` or
`postgresql+psycopg://user:password@host:5432/db`. The `ybb` connection also takes the old
service's `DB_HOST`, `DB_PORT`, `DB_USER`, `DB_PASSWORD` (or `DB_PASSWORD_FILE`) and `DB_NAME`,
so its `.env` moves over unchanged. There is no default user or password.

Task arguments carry the connection's name, never its URL: each worker resolves it from its
own environment. Every session is read-only and has a statement time limit
(SOURCE_STATEMENT_TIMEOUT); each process keeps a small pool per connection.
"""
from __future__ import annotations

import re
import threading
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from pymysql.constants import FIELD_TYPE
from pymysql.converters import conversions
from sqlalchemy.engine import URL, Engine, make_url

from ..errors import EngineError
from ..settings import env, env_int

# MySQL values the engine parses itself from their text, as it parses the PHP apps' JSON:
# decoding them into Python objects first would cost more than the rest of the read.
_TEXT_TYPES = (FIELD_TYPE.DATETIME, FIELD_TYPE.TIMESTAMP, FIELD_TYPE.DATE, FIELD_TYPE.TIME,
               FIELD_TYPE.DECIMAL, FIELD_TYPE.NEWDECIMAL, FIELD_TYPE.YEAR)
MYSQL_CONVERSIONS = {k: v for k, v in conversions.items() if k not in _TEXT_TYPES}
POOL_SIZE = 2
_engines: dict[tuple[str, str], Engine] = {}
_lock = threading.Lock()


@dataclass(frozen=True)
class ConnectionInfo:
    """What may be shown of a connection: never the user or the password."""

    name: str
    dialect: str
    host: str
    database: str


def env_name(connection: str) -> str:
    return "SOURCE_" + re.sub(r"[^A-Za-z0-9]", "_", connection).upper() + "_URL"


def connection_url(connection: str) -> URL:
    """The connection's URL from the environment; 503 source_not_configured when it has none."""
    text = env(env_name(connection))
    if not text and connection == "ybb":
        return _old_service_url()
    if not text:
        raise not_configured(connection, f"{env_name(connection)} is not set")
    try:
        url = make_url(text)
    except sa.exc.ArgumentError:
        raise not_configured(connection, f"{env_name(connection)} is not an SQLAlchemy URL") from None
    # The drivers this service ships, for URLs that name none (mysql://, postgres://).
    driver = {"mysql": "mysql+pymysql", "mariadb": "mariadb+pymysql", "postgres": "postgresql+psycopg",
              "postgresql": "postgresql+psycopg"}.get(url.drivername)
    return url.set(drivername=driver) if driver else url


def _old_service_url() -> URL:
    host, user = env("DB_HOST"), env("DB_USER")
    if not host or not user:
        raise not_configured("ybb", "set SOURCE_YBB_URL, or DB_HOST, DB_USER, DB_PASSWORD and DB_NAME")
    return URL.create("mysql+pymysql", username=user, password=env("DB_PASSWORD") or "", host=host,
                      port=env_int("DB_PORT", 3306), database=env("DB_NAME") or "ybb_database",
                      query={"charset": "utf8mb4"})


def not_configured(connection: str, why: str) -> EngineError:
    return EngineError("source_not_configured", f"The database connection '{connection}' is not configured "
                       f"({why}).", status=503)


def describe(connection: str) -> ConnectionInfo:
    url = connection_url(connection)
    return ConnectionInfo(connection, url.get_backend_name(), url.host or "", url.database or "")


def engine_for(connection: str) -> Engine:
    """This process's pooled engine of the connection (created on first use)."""
    url = connection_url(connection)
    key = (connection, url.render_as_string(hide_password=False))
    with _lock:
        engine = _engines.get(key)
        if engine is None:
            engine = _engines[key] = _create_engine(url)
    return engine


def _create_engine(url: URL) -> Engine:
    timeout = env_int("SOURCE_STATEMENT_TIMEOUT", 300)
    connect_args: dict[str, Any] = {"connect_timeout": env_int("SOURCE_CONNECT_TIMEOUT", 10)}
    backend = url.get_backend_name()
    if backend in ("mysql", "mariadb"):
        backend = "mysql"
        connect_args["conv"] = MYSQL_CONVERSIONS
    elif backend != "postgresql":
        raise EngineError("source_not_configured", f"Unsupported database '{backend}': use MySQL/MariaDB or "
                          "PostgreSQL.", status=503)
    engine = sa.create_engine(url, pool_size=POOL_SIZE, max_overflow=POOL_SIZE, pool_pre_ping=True,
                              pool_recycle=1800, connect_args=connect_args, hide_parameters=True)
    sa.event.listen(engine, "connect", lambda dbapi, _record: _read_only_session(dbapi, backend, timeout))
    return engine


def _read_only_session(dbapi_connection: Any, backend: str, timeout: int) -> None:
    """Every session reads only, and no statement runs longer than `timeout` seconds."""
    cursor = dbapi_connection.cursor()
    if backend == "mysql":
        cursor.execute("SET SESSION TRANSACTION READ ONLY")
        if "mariadb" in dbapi_connection.get_server_info().lower():
            cursor.execute(f"SET SESSION max_statement_time = {int(timeout)}")
        else:
            cursor.execute(f"SET SESSION max_execution_time = {int(timeout) * 1000}")
    else:
        cursor.execute("SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY")
        cursor.execute(f"SET statement_timeout = {int(timeout) * 1000}")
    cursor.close()
    dbapi_connection.commit()  # PostgreSQL undoes a SET in a transaction that is rolled back


def dispose_all() -> None:
    """Close every pooled connection (tests)."""
    with _lock:
        for engine in _engines.values():
            engine.dispose()
        _engines.clear()


def unavailable(connection: str, error: BaseException) -> EngineError:
    """A database that is down or refused us: 503, with the driver's error class only (its
    message may hold the host or user)."""
    return EngineError("source_unavailable", f"The database of the connection '{connection}' is unavailable "
                       f"({type(getattr(error, 'orig', None) or error).__name__}); retry later.", status=503,
                       headers={"Retry-After": "30"})


"""Reading a source: a plan cuts the key's range into reads of about PARTITION_ROWS rows, and
each Dask task runs one read with a streaming cursor into Arrow (docs/sources.md).

The plan runs where the export is created (one aggregate query: the count and the key's
bounds), so a database that is down answers 503 at once. The reads are equal-width ranges
of the integer key, as Spark's JDBC reader cuts them: a gap in the keys makes one read
smaller, never wrong. A read with a `limit` is a single one, in sort order.

Values reach the engine as the PHP apps' JSON did: texts, numbers, booleans and nulls.
Dates, times and decimals come as text, which the template's column types parse.
"""
from __future__ import annotations

import logging
import math
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa
import sqlalchemy as sa

from ..errors import EngineError
from .connections import engine_for, unavailable
from .query import BoundQuery

FETCH_ROWS = 10_000
READ_RETRY_DELAYS = (1.0, 5.0)
log = logging.getLogger("ybb.sources")
_AS_TEXT = (pa.types.is_timestamp, pa.types.is_date, pa.types.is_time, pa.types.is_decimal, pa.types.is_duration)


@dataclass(frozen=True)
class SourceRange:
    """One read of an export, as a task argument: the connection's name (never its URL), the
    SQL of the source file and the bound values."""

    connection: str
    sql: str
    values: Mapping[str, Any] = field(default_factory=dict)
    fields: tuple[str, ...] = ()
    index: int = 0


@dataclass(frozen=True)
class SourcePlan:
    rows: int                      # counted when planned; the reads may find a few more or fewer
    ranges: tuple[SourceRange, ...]


def plan(query: BoundQuery, fields: Sequence[str], partition_rows: int, max_rows: int) -> SourcePlan:
    """Count the rows and cut the key's range; 413 too_many_rows above `max_rows`."""
    connection = query.source.connection
    row = run_one(connection, query.plan_sql(), query.values)
    count, low, high = int(row["row_count"] or 0), row["low_key"], row["high_key"]
    cap = min(max_rows, query.source.max_rows or max_rows)
    if count > cap and (query.limit is None or query.limit > cap):
        raise EngineError("too_many_rows", f"The source would export {count:,} rows; at most {cap:,} may be "
                          "exported at once. Narrow the parameters, or pass a limit.", status=413,
                          errors={"rows": count, "max_rows": cap})
    names = tuple(fields)
    if query.limit is not None:
        sql = query.read_sql(names, ranged=False)
        return SourcePlan(min(count, query.limit), (SourceRange(connection, sql, query.read_values(), names),))
    sql = query.read_sql(names, ranged=True)
    if count == 0 or low is None or high is None:
        return SourcePlan(0, (SourceRange(connection, sql, query.read_values(0, 0), names),))
    low, high = _integer_key(low, query), _integer_key(high, query)
    reads = max(1, math.ceil(count / max(partition_rows, 1)))
    width = max(1, math.ceil((high - low + 1) / reads))
    ranges = tuple(SourceRange(connection, sql, query.read_values(start, min(start + width, high + 1)), names, index)
                   for index, start in enumerate(range(low, high + 1, width)))
    return SourcePlan(count, ranges)


def _integer_key(value: Any, query: BoundQuery) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        raise EngineError("source_misconfigured", f"The key of the source {query.source.name} is not an integer.",
                          status=500) from None


def read(source_range: SourceRange, retry_delays: Sequence[float] = READ_RETRY_DELAYS) -> pa.Table:
    """One read, streamed in batches of FETCH_ROWS rows into an Arrow table. A lost connection
    (the database restarting, a network blip) is retried after each of `retry_delays` seconds;
    other errors are not: they would fail again."""
    for delay in retry_delays:
        try:
            return _read_once(source_range)
        except EngineError as error:
            if error.code != "source_unavailable":
                raise
            log.warning("source read %d of connection %s failed (%s); retrying in %.0f s", source_range.index,
                        source_range.connection, error.code, delay)
            time.sleep(delay)
    return _read_once(source_range)


def _read_once(source_range: SourceRange) -> pa.Table:
    names = list(source_range.fields)  # a limited read selects a few helper columns more
    batches: list[pa.Table] = []
    try:
        with engine_for(source_range.connection).connect() as connection:
            result = connection.execution_options(stream_results=True, max_row_buffer=FETCH_ROWS).execute(
                sa.text(source_range.sql), dict(source_range.values))
            names = list(result.keys())
            for rows in result.partitions(FETCH_ROWS):
                columns = list(zip(*rows, strict=True))
                batches.append(pa.table([_array(column) for column in columns], names=names))
    except sa.exc.DBAPIError as exc:
        raise database_error(source_range.connection, exc) from None
    if not batches:
        return pa.table({name: pa.array([], pa.null()) for name in names})
    table = pa.concat_tables(batches, promote_options="permissive") if len(batches) > 1 else batches[0]
    return pa.table([_json_like(table.column(i).combine_chunks()) for i in range(table.num_columns)], names=names)


def records(source_range: SourceRange) -> list[dict[str, Any]]:
    """A read's rows as records, the shape the engine's prepare step takes."""
    return read(source_range).to_pylist()


def run_one(connection: str, sql: str, values: Mapping[str, Any]) -> dict[str, Any]:
    rows = run_all(connection, sql, values)
    return rows[0] if rows else {}


def run_all(connection: str, sql: str, values: Mapping[str, Any]) -> list[dict[str, Any]]:
    """A small query (plan, statistics, connection test) in this process, read-only like the reads."""
    try:
        with engine_for(connection).connect() as conn:
            return [dict(row._mapping) for row in conn.execute(sa.text(sql), dict(values))]
    except sa.exc.DBAPIError as exc:
        raise database_error(connection, exc) from None


def database_error(connection: str, error: sa.exc.DBAPIError) -> EngineError:
    text = str(error.orig).lower()
    if "max_statement_time" in text or "statement timeout" in text or "max_execution_time" in text:
        return EngineError("source_timeout", "The database query ran longer than SOURCE_STATEMENT_TIMEOUT.",
                           status=503, headers={"Retry-After": "60"})
    if _connection_failure(error):
        return unavailable(connection, error)
    return EngineError("source_query_failed", f"The database refused the source's query "
                       f"({type(error.orig).__name__}).", status=500)


# MySQL server errors that mean "cannot reach or use the database", not "bad query": too many
# connections, access denied, unknown database, shutting down, server gone; 2000+ are the client's.
_MYSQL_UNAVAILABLE = frozenset({1040, 1044, 1045, 1049, 1053, 1077, 1927})


def _connection_failure(error: sa.exc.DBAPIError) -> bool:
    if error.connection_invalidated or isinstance(error, sa.exc.InterfaceError):
        return True
    if not isinstance(error, sa.exc.OperationalError):
        return False
    code = error.orig.args[0] if error.orig is not None and error.orig.args else None
    if isinstance(code, int):  # PyMySQL
        return code >= 2000 or code in _MYSQL_UNAVAILABLE
    state = getattr(error.orig, "sqlstate", None)  # psycopg: connection exceptions, shutdown, resources
    return state is None or str(state).startswith(("08", "57", "53"))


def _array(values: Sequence[Any]) -> pa.Array:
    try:
        return pa.array(values)
    except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError):  # mixed types, or an integer past 64 bits
        return pa.array([None if v is None else _text(v) for v in values], pa.string())


def _text(value: Any) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes | bytearray) else str(value)


def _json_like(column: pa.Array) -> pa.Array:
    """Dates, times and decimals as text, bytes decoded: the values of a JSON record."""
    kind = column.type
    if any(test(kind) for test in _AS_TEXT):
        return column.cast(pa.string())
    if pa.types.is_binary(kind) or pa.types.is_large_binary(kind):
        return pa.array([None if v is None else _text(v) for v in column.to_pylist()], pa.string())
    return column

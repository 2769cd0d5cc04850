"""Named, read-only SQL sources: an export can read its rows from the application's database
instead of receiving them (docs/sources.md).

    catalog = SourceCatalog.load()
    query = catalog.bind("ybb/participants", {"program_id": 101}, max_rows=2_000_000)
    plan = catalog.plan(query, ["id", "full_name"], partition_rows=5_000, max_rows=2_000_000)
    # one Dask task per plan.ranges item: reader.records(source_range)
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from ..errors import EngineError, TemplateError
from .connections import ConnectionInfo, describe
from .definition import SOURCES_DIR, SourceDefinition, load_sources
from .query import BoundQuery, bind
from .reader import SourcePlan, SourceRange, plan, run_all, run_one

__all__ = ["BoundQuery", "ConnectionInfo", "SourceCatalog", "SourceDefinition", "SourcePlan", "SourceRange"]


class SourceCatalog:
    """The sources this deployment declares, and the small queries run where exports are created."""

    def __init__(self, definitions: Mapping[str, SourceDefinition]) -> None:
        self.definitions = dict(definitions)

    @classmethod
    def load(cls, extra_dirs: Sequence[str] = ()) -> SourceCatalog:
        """The shipped sources (services/scheduler/sources) and those of SOURCES_DIRS."""
        return cls(load_sources([SOURCES_DIR, *(Path(d) for d in extra_dirs)]))

    def check_templates(self, templates: Any) -> None:
        """At start-up: every source's template exists (a TemplateError names the first that doesn't)."""
        for source in self.definitions.values():
            try:
                templates.get(*source.template.split("/", 1))
            except (EngineError, TypeError) as exc:
                raise TemplateError(f"source {source.name}: its template {source.template!r} does not exist") from exc

    def get(self, name: Any) -> SourceDefinition:
        source = self.definitions.get(name) if isinstance(name, str) else None
        if source is None:
            raise EngineError("unknown_source", f"No source is named {name!r}.", status=422,
                              errors={"source": {"name": [f"Must be one of {sorted(self.definitions)}."]}})
        return source

    def describe(self) -> list[dict[str, Any]]:
        return [source.describe() for _, source in sorted(self.definitions.items())]

    def bind(self, name: Any, params: Mapping[str, Any], max_rows: int, strict: bool = True) -> BoundQuery:
        return bind(self.get(name), params, max_rows, strict)

    def plan(self, query: BoundQuery, fields: Sequence[str], partition_rows: int, max_rows: int) -> SourcePlan:
        return plan(query, fields, partition_rows, max_rows)

    def statistics(self, query: BoundQuery) -> dict[str, Any]:
        """The row count and the source's grouped counts, for the parameters of `query`."""
        connection = query.source.connection
        total = run_one(connection, query.count_sql(), query.values).get("total") or 0
        breakdown = run_all(connection, query.statistics_sql(), query.values)
        measures = set(query.source.statistics.measures) if query.source.statistics else set()
        return {"total_count": int(total), "breakdown": [_plain(row, measures) for row in breakdown]}

    def check_connection(self, connection: str) -> ConnectionInfo:
        """Runs SELECT 1 on the connection; 503 when it is not configured or down."""
        info = describe(connection)
        run_one(connection, "SELECT 1 AS ok", {})
        return info


def _plain(row: Mapping[str, Any], measures: set[str]) -> dict[str, Any]:
    """JSON-ready values: measures as numbers (MySQL sends sums of decimals as text), the rest as read."""
    out: dict[str, Any] = {}
    for name, value in row.items():
        if name in measures and value is not None and not isinstance(value, bool | int | float):
            out[name] = _number(value)
        elif value is None or isinstance(value, bool | int | float | str):
            out[name] = value
        else:
            out[name] = str(value)
    return out


def _number(value: Any) -> int | float | str:
    text = str(value)
    try:
        number = float(text)
    except ValueError:
        return text
    return int(number) if number.is_integer() and "." not in text else number

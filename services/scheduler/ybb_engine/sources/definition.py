"""Named SQL sources: YAML files under services/scheduler/sources/ (docs/sources.md).

A source declares the connection it reads, the FROM clause (joins included) and the base
predicate, one SQL expression per output field, the integer key its reads are partitioned
on, the parameters a caller may pass and the predicate each adds (values are always bound,
never formatted into the SQL), the fields a caller may sort by, and the template its rows
feed. No SQL ever comes from a request: a caller names a source and passes values.
"""
from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from ..errors import TemplateError

SOURCES_DIR = Path(__file__).resolve().parents[2] / "sources"
SOURCE_NAME = re.compile(r"[a-z][a-z0-9_-]{0,31}(/[a-z][a-z0-9_-]{0,31})?")
FIELD = re.compile(r"[a-z_][a-z0-9_]{0,63}")
PARAM_TYPES = ("integer", "number", "string", "date", "boolean")
KEYS = {"description", "connection", "template", "key", "from", "where", "distinct", "columns", "params",
        "sort", "limit", "max_rows", "statistics", "as_text"}
PARAM_KEYS = {"type", "sql", "choices", "like", "end_of_day", "on_invalid", "description"}


@dataclass(frozen=True)
class Param:
    """One parameter: a value of `type` bound into `sql` (its `:value`), or one of `choices`,
    each a fixed predicate ("" for none). `like` wraps the value in % for a LIKE match;
    `end_of_day` makes a bare date mean its last second; `on_invalid: ignore` drops a value
    that does not parse instead of refusing the request (the old API's payments `status`)."""

    name: str
    type: str = "string"
    sql: str | None = None
    choices: Mapping[str, str] = field(default_factory=dict)
    like: bool = False
    end_of_day: bool = False
    on_invalid: str = "error"
    description: str = ""


@dataclass(frozen=True)
class Statistics:
    """Counts for the old API's /db/export/statistics: grouped by `group_by` fields."""

    group_by: tuple[str, ...]
    measures: Mapping[str, str]


@dataclass(frozen=True)
class SourceDefinition:
    name: str
    connection: str
    template: str
    key: str                      # an integer SQL expression: the reads are ranges of it
    from_clause: str
    where: str
    columns: Mapping[str, str]    # output field -> SQL expression
    params: Mapping[str, Param]
    sort_fields: Mapping[str, str]  # sort name -> output field; every output field is also one
    default_sort: tuple[str, str] = ("", "asc")
    distinct: bool = False
    limit: bool = True            # whether callers may pass `limit`
    max_rows: int | None = None
    description: str = ""
    statistics: Statistics | None = None
    as_text: tuple[str, ...] = ()  # fields read as final labels: the template's type and value map don't apply

    def sort_field(self, name: str) -> str | None:
        return self.sort_fields.get(name) or (name if name in self.columns else None)

    def describe(self) -> dict[str, Any]:
        """What GET /api/v1/sources lists: never the connection's address or the SQL."""
        params = [{"name": p.name, "type": p.type, "choices": sorted(p.choices), "description": p.description}
                  for p in self.params.values()]
        if self.limit:
            params.append({"name": "limit", "type": "integer", "choices": [], "description": "At most this many rows"})
        params += [{"name": "sort_by", "type": "string", "choices": sorted({*self.sort_fields, *self.columns}),
                    "description": f"Sort field (default {self.default_sort[0]})"},
                   {"name": "sort_order", "type": "string", "choices": ["asc", "desc"],
                    "description": f"Sort direction (default {self.default_sort[1]})"}]
        return {"name": self.name, "description": self.description, "template": self.template,
                "fields": list(self.columns), "params": params, "max_rows": self.max_rows}


def load_sources(directories: list[Path] | None = None) -> dict[str, SourceDefinition]:
    """Every source under the directories (default: SOURCES_DIR), named by its path: ybb/participants."""
    found: dict[str, SourceDefinition] = {}
    for directory in directories if directories is not None else [SOURCES_DIR]:
        if not Path(directory).is_dir():
            raise TemplateError(f"SOURCES_DIRS: {directory} is not a directory")
        # A later directory's file of the same name replaces a shipped one (e.g. your own ybb/participants).
        for path in sorted(Path(directory).rglob("*.yaml")):
            name = path.relative_to(directory).with_suffix("").as_posix()
            found[name] = parse_source(name, yaml.safe_load(path.read_text(encoding="utf-8")), path)
    return found


def parse_source(name: str, data: Any, origin: Path | str = "<source>") -> SourceDefinition:
    def fail(message: str) -> TemplateError:
        return TemplateError(f"{origin}: {message}")

    if not SOURCE_NAME.fullmatch(name):
        raise fail(f"source name {name!r} must look like 'app/table' (lower case)")
    if not isinstance(data, Mapping):
        raise fail("a source file is a mapping")
    if unknown := set(data) - KEYS:
        raise fail(f"unknown keys {sorted(unknown)}")
    for required in ("connection", "template", "key", "from", "columns"):
        if not data.get(required):
            raise fail(f"'{required}' is required")
    columns = _mapping(data["columns"], "columns", fail)
    for field_name in columns:
        if not FIELD.fullmatch(field_name):
            raise fail(f"field name {field_name!r} must be lower-case letters, digits and _")
    declared = _mapping(data.get("params") or {}, "params", fail)
    params = {key: _param(key, value, fail) for key, value in declared.items()}
    if reserved := {"limit", "sort_by", "sort_order"} & set(params):
        raise fail(f"{sorted(reserved)} are built in; do not declare them")
    sort = data.get("sort") or {}
    sort_fields = _mapping(sort.get("fields") or {}, "sort.fields", fail)
    for alias, target in sort_fields.items():
        if target not in columns:
            raise fail(f"sort field {alias!r} names {target!r}, which is not in columns")
    default_sort = (str(sort.get("default") or next(iter(columns))), str(sort.get("order") or "asc").lower())
    if default_sort[0] not in columns or default_sort[1] not in ("asc", "desc"):
        raise fail(f"sort default {default_sort} must be a column and asc or desc")
    as_text = tuple(str(f) for f in data.get("as_text") or ())
    if unknown_text := [f for f in as_text if f not in columns]:
        raise fail(f"as_text names unknown fields {unknown_text}")
    max_rows = data.get("max_rows")
    if max_rows is not None and (not isinstance(max_rows, int) or max_rows < 1):
        raise fail("max_rows must be a positive integer")
    return SourceDefinition(
        name=name, connection=str(data["connection"]), template=str(data["template"]), key=str(data["key"]),
        from_clause=str(data["from"]).strip(), where=str(data.get("where") or "").strip(),
        columns={k: str(v).strip() for k, v in columns.items()}, params=params,
        sort_fields={str(k): str(v) for k, v in sort_fields.items()}, default_sort=default_sort,
        distinct=bool(data.get("distinct", False)), limit=bool(data.get("limit", True)), max_rows=max_rows,
        description=str(data.get("description") or "").strip(), statistics=_statistics(data, columns, fail),
        as_text=as_text)


def _mapping(value: Any, where: str, fail: Any) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise fail(f"'{where}' must be a mapping")
    return value


def _param(name: str, data: Any, fail: Any) -> Param:
    if not FIELD.fullmatch(name):
        raise fail(f"parameter name {name!r} must be lower-case letters, digits and _")
    data = _mapping(data, f"params.{name}", fail)
    if unknown := set(data) - PARAM_KEYS:
        raise fail(f"params.{name}: unknown keys {sorted(unknown)}")
    type_ = str(data.get("type", "string"))
    if type_ not in PARAM_TYPES:
        raise fail(f"params.{name}: type must be one of {PARAM_TYPES}")
    sql = data.get("sql")
    if sql is not None and ":value" not in str(sql):
        raise fail(f"params.{name}: sql must use the bound :value")
    choices = {str(k).lower(): str(v or "") for k, v in _mapping(data.get("choices") or {}, f"params.{name}.choices",
                                                                   fail).items()}
    if sql is None and not choices:
        raise fail(f"params.{name}: needs sql, choices or both")
    on_invalid = str(data.get("on_invalid", "error"))
    if on_invalid not in ("error", "ignore"):
        raise fail(f"params.{name}: on_invalid is error or ignore")
    return Param(name, type_, str(sql) if sql is not None else None, choices, bool(data.get("like")),
                 bool(data.get("end_of_day")), on_invalid, str(data.get("description") or ""))


def _statistics(data: Mapping[str, Any], columns: Mapping[str, str], fail: Any) -> Statistics | None:
    stats = data.get("statistics")
    if stats is None:
        return None
    stats = _mapping(stats, "statistics", fail)
    group_by = tuple(str(f) for f in stats.get("group_by") or ())
    if missing := [f for f in group_by if f not in columns]:
        raise fail(f"statistics.group_by names unknown fields {missing}")
    measures = {str(k): str(v) for k, v in _mapping(stats.get("measures") or {}, "statistics.measures", fail).items()}
    if not measures or not all(FIELD.fullmatch(k) for k in measures):
        raise fail("statistics.measures: at least one, named in lower case")
    return Statistics(group_by, measures)

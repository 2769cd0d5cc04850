"""A caller's parameters, checked against a source's declaration, and the SQL built from them.

Every value is bound (`:p_<name>`); the only SQL is the source file's. Sorting names an
allow-listed field, whose expression comes from the source file too.
"""
from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time
from typing import Any

from ..errors import EngineError
from .definition import Param, SourceDefinition

MAX_TEXT = 1_000
NULLS_LAST, TIE_FIELD = "sort_nulls_last", "sort_tie_key"  # helper columns of a limited read
MAX_INTEGER = 2**63 - 1
BUILT_IN = ("limit", "sort_by", "sort_order")
_TRUE = frozenset({"1", "true", "yes", "y", "on"})
_FALSE = frozenset({"0", "false", "no", "n", "off"})


@dataclass(frozen=True)
class BoundQuery:
    """A source with checked parameters: the predicates they add and the values bound into them."""

    source: SourceDefinition
    predicates: tuple[str, ...] = ()
    values: Mapping[str, Any] = field(default_factory=dict)
    applied: tuple[str, ...] = ()      # parameter names that added a predicate (or set sort/limit)
    ignored: tuple[str, ...] = ()      # unknown names, or invalid values of on_invalid: ignore
    sort: tuple[str, str] = ("", "asc")  # (output field, direction)
    limit: int | None = None

    # -- SQL -------------------------------------------------------------------------------

    def where(self, *extra: str) -> str:
        conditions = [c for c in (self.source.where, *self.predicates, *extra) if c]
        return " WHERE " + " AND ".join(f"({c})" for c in conditions) if conditions else ""

    def plan_sql(self) -> str:
        """The row count and the key's range, which the read is cut by."""
        key = self.source.key
        return (f"SELECT COUNT(*) AS row_count, MIN({key}) AS low_key, MAX({key}) AS high_key "
                f"FROM {self.source.from_clause}{self.where()}")

    def read_sql(self, fields: Sequence[str], ranged: bool) -> str:
        """The rows of `fields`: of one key range [:range_low, :range_high), or, with a limit,
        the first `limit` rows in sort order (one read, nulls last as the engine sorts)."""
        columns = self.source.columns
        select = ", ".join(f"{columns[name]} AS {name}" for name in fields)
        distinct = "DISTINCT " if self.source.distinct else ""
        key = self.source.key
        extra = (f"{key} >= :range_low", f"{key} < :range_high") if ranged else ()
        if self.limit is None:
            return f"SELECT {distinct}{select} FROM {self.source.from_clause}{self.where(*extra)}"
        # ORDER BY names selected columns only: with DISTINCT, MySQL 8 and PostgreSQL refuse others.
        field_name = self.sort[0]
        nulls = f"CASE WHEN {columns[field_name]} IS NULL THEN 1 ELSE 0 END AS {NULLS_LAST}"
        select += f", {nulls}" + ("" if field_name in fields else f", {columns[field_name]} AS {field_name}")
        tie = next((name for name in fields if columns[name] == key), None)
        if tie is None:
            select += f", {key} AS {TIE_FIELD}"
            tie = TIE_FIELD
        return (f"SELECT {distinct}{select} FROM {self.source.from_clause}{self.where(*extra)} "
                f"ORDER BY {NULLS_LAST}, {field_name} {self.sort[1].upper()}, {tie} LIMIT :row_limit")

    def read_values(self, low: int | None = None, high: int | None = None) -> dict[str, Any]:
        values = dict(self.values)
        if low is not None:
            values.update(range_low=low, range_high=high)
        if self.limit is not None:
            values["row_limit"] = self.limit
        return values

    def statistics_sql(self) -> str:
        stats = self.source.statistics
        if stats is None:
            raise EngineError("no_statistics", f"The source {self.source.name} has no statistics.", status=404)
        groups = [self.source.columns[name] for name in stats.group_by]
        select = [f"{expression} AS {name}" for name, expression in zip(stats.group_by, groups, strict=True)]
        select += [f"{expression} AS {name}" for name, expression in stats.measures.items()]
        group_by = f" GROUP BY {', '.join(groups)}" if groups else ""
        return f"SELECT {', '.join(select)} FROM {self.source.from_clause}{self.where()}{group_by}"

    def count_sql(self) -> str:
        return f"SELECT COUNT(*) AS total FROM {self.source.from_clause}{self.where()}"


def bind(source: SourceDefinition, params: Mapping[str, Any], max_rows: int, strict: bool = True) -> BoundQuery:
    """Check `params` against the source; a 422 lists every bad one. `strict=False` (the old
    API) ignores unknown names instead of refusing them."""
    errors: dict[str, list[str]] = {}
    predicates: list[str] = []
    values: dict[str, Any] = {}
    applied: list[str] = []
    ignored: list[str] = []
    for name, raw in params.items():
        param = source.params.get(name)
        if param is None:
            if name in BUILT_IN:
                continue
            if strict:
                errors[name] = [f"Unknown parameter; this source takes {sorted([*source.params, *BUILT_IN])}."]
            else:
                ignored.append(name)
            continue
        if _absent(raw):
            continue
        try:
            predicate = _predicate(param, raw, values)
        except ValueError as exc:
            if param.on_invalid == "ignore":
                ignored.append(name)
                continue
            errors[name] = [str(exc)]
            continue
        if predicate:
            predicates.append(predicate)
            applied.append(name)
    sort = _sort(source, params, errors, applied)
    limit = _limit(source, params.get("limit"), max_rows, errors, applied)
    if errors:
        raise EngineError("invalid_source_params", f"Invalid parameters for the source {source.name}.",
                          errors={"source": {"params": errors}})
    return BoundQuery(source, tuple(predicates), values, tuple(applied), tuple(ignored), sort, limit)


def _absent(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _predicate(param: Param, raw: Any, values: dict[str, Any]) -> str:
    """The predicate `raw` adds ("" for none); its value goes into `values`. ValueError if invalid."""
    choice = _choice_key(param, raw)
    if choice is not None and choice in param.choices:
        return param.choices[choice]
    if param.sql is None:
        raise ValueError(f"Must be one of {sorted(param.choices)}.")
    value = _parse(param, raw)
    bind_name = f"p_{param.name}"
    values[bind_name] = value
    return param.sql.replace(":value", f":{bind_name}")


def _choice_key(param: Param, raw: Any) -> str | None:
    if isinstance(raw, bool):
        return "yes" if raw else "no"
    if isinstance(raw, str):
        text = raw.strip().lower()
        if param.type == "boolean":
            return "yes" if text in _TRUE else "no" if text in _FALSE else text
        return text
    if isinstance(raw, int) and param.type == "boolean":
        return "yes" if raw else "no"
    return str(raw).lower() if isinstance(raw, int | float) else None


def _parse(param: Param, raw: Any) -> Any:
    type_ = param.type
    if isinstance(raw, list | dict):
        raise ValueError("Must be a single value, not a list or an object.")
    if type_ == "integer":
        return _integer(raw)
    if type_ == "number":
        return _number(raw)
    if type_ == "date":
        return _date(raw, param.end_of_day)
    if type_ == "boolean":
        raise ValueError(f"Must be one of {sorted(param.choices)} (or true/false).")
    text = str(raw)
    if len(text) > MAX_TEXT:
        raise ValueError(f"Longer than {MAX_TEXT} characters.")
    if param.like:
        text = "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
    return text


def _integer(raw: Any) -> int:
    if isinstance(raw, bool):
        raise ValueError("Must be an integer.")
    if isinstance(raw, float) and raw.is_integer():
        raw = int(raw)
    if isinstance(raw, str) and len(raw.strip()) <= 20:
        try:
            raw = int(raw.strip(), 10) if raw.strip().lstrip("+-").isascii() else raw
        except ValueError:
            raise ValueError("Must be an integer.") from None
    if not isinstance(raw, int) or abs(raw) > MAX_INTEGER:
        raise ValueError("Must be an integer.")
    return raw


def _number(raw: Any) -> float:
    if isinstance(raw, bool):
        raise ValueError("Must be a number.")
    try:
        value = float(raw) if isinstance(raw, int | float) or (isinstance(raw, str) and len(raw) <= 40) else None
    except ValueError:
        value = None
    if value is None or not math.isfinite(value):
        raise ValueError("Must be a number.")
    return value


def _date(raw: Any, end_of_day: bool) -> datetime:
    text = str(raw).strip()
    try:
        if len(text) == 10:
            day = date.fromisoformat(text)
            return datetime.combine(day, time(23, 59, 59) if end_of_day else time())
        if len(text) > 32:
            raise ValueError
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError("Must be a date, YYYY-MM-DD (or YYYY-MM-DD HH:MM:SS).") from None
    return moment.replace(tzinfo=None) if moment.tzinfo is None else moment


def _sort(source: SourceDefinition, params: Mapping[str, Any], errors: dict[str, list[str]],
          applied: list[str]) -> tuple[str, str]:
    by, order = params.get("sort_by"), params.get("sort_order")
    field_name = source.default_sort[0]
    if not _absent(by):
        found = source.sort_field(str(by)) if isinstance(by, str) else None
        if found is None:
            errors["sort_by"] = [f"Must be one of {sorted({*source.sort_fields, *source.columns})}."]
        else:
            field_name = found
            applied.append("sort_by")
    direction = source.default_sort[1]
    if not _absent(order):
        if not isinstance(order, str) or order.strip().lower() not in ("asc", "desc"):
            errors["sort_order"] = ["Must be asc or desc."]
        else:
            direction = order.strip().lower()
            applied.append("sort_order")
    return field_name, direction


def _limit(source: SourceDefinition, raw: Any, max_rows: int, errors: dict[str, list[str]],
           applied: list[str]) -> int | None:
    if _absent(raw):
        return None
    if not source.limit:
        errors["limit"] = ["This source takes no limit."]
        return None
    try:
        value = _integer(raw)
    except ValueError:
        value = 0
    if not 1 <= value <= max_rows:
        errors["limit"] = [f"Must be an integer from 1 to {max_rows}."]
        return None
    applied.append("limit")
    return value

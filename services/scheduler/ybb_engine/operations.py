"""Declarative operations: filters, sort, dedupe, select/rename/order. No eval anywhere:
every operator is a Python function chosen from a fixed table."""
from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from datetime import date, datetime
from typing import Any

from .errors import EngineError
from .limits import DEFAULT_LIMITS, Limits, limit_exceeded
from .templates import Column, is_label
from .values import Blank, TimeContext, make_parser, map_key

COMPARE_OPS = ("eq", "ne", "gt", "gte", "lt", "lte")
LIST_OPS = ("in", "not_in")
TEXT_OPS = ("contains", "startswith")
NULL_OPS = ("is_null", "not_null")
OPERATORS = COMPARE_OPS + LIST_OPS + ("between",) + TEXT_OPS + NULL_OPS
ORDERED_TYPES = ("string", "integer", "number", "currency", "date", "datetime", "enum")
MAX_FILTER_DEPTH = 4
MAX_SORT_KEYS = 10
_DATE_ONLY = re.compile(r"\d{4}-\d{2}-\d{2}")

Row = tuple
Predicate = Callable[[Row], bool]


def _invalid(message: str, where: str) -> EngineError:
    return EngineError("invalid_operation", message, errors={where: message})


def _unknown(field: Any, where: str, columns: Mapping[str, Column]) -> EngineError:
    message = f"Unknown field '{field}' in {where}."
    return EngineError(
        "unknown_field", message, errors={where: f"unknown field '{field}'", "available": sorted(columns)}
    )


def _field(value: Any, where: str, columns: Mapping[str, Column], limits: Limits = DEFAULT_LIMITS) -> str:
    limits.check_field_name(value, where)
    if not isinstance(value, str) or value not in columns:
        raise _unknown(value, where, columns)
    return value


# --- filters -------------------------------------------------------------------------

def validate_filters(data: Any, columns: Mapping[str, Column], ctx: TimeContext | None = None,
                     limits: Limits = DEFAULT_LIMITS) -> list[dict]:
    """Check `filters` (a list of conditions and {"any": [...]}/{"all": [...]} groups, ANDed): at
    most `limits.filters` conditions in all, counted across groups."""
    if data is None:
        return []
    if not isinstance(data, list):
        raise _invalid("filters must be a list of conditions.", "filters")
    if len(data) > limits.filters:
        raise limit_exceeded("filters", f"at most {limits.filters} conditions", limits.filters)
    checker = _FilterChecker(columns, ctx or TimeContext(), limits)
    return [checker.node(node, f"filters[{i}]", 1) for i, node in enumerate(data)]


class _FilterChecker:
    """Validates filter nodes, counting conditions against the limit as it goes (so a hostile
    list is refused after at most `limits.filters` conditions' work)."""

    def __init__(self, columns: Mapping[str, Column], ctx: TimeContext, limits: Limits) -> None:
        self.columns, self.ctx, self.limits = columns, ctx, limits
        self.conditions = 0

    def node(self, node: Any, where: str, depth: int) -> dict:
        if isinstance(node, Mapping) and not any(k in node for k in ("any", "all")):
            self.conditions += 1
            if self.conditions > self.limits.filters:
                raise limit_exceeded("filters", f"at most {self.limits.filters} conditions, counted across groups",
                                     self.limits.filters)
        return _validate_node(node, where, self.columns, self.ctx, depth, self)


def _validate_node(node: Any, where: str, columns: Mapping[str, Column], ctx: TimeContext, depth: int,
                   checker: _FilterChecker) -> dict:
    limits = checker.limits
    if not isinstance(node, Mapping):
        raise _invalid("a filter must be an object.", where)
    group = [k for k in ("any", "all") if k in node]
    if group:
        key = group[0]
        if depth >= MAX_FILTER_DEPTH:
            raise _invalid(f"filter groups nest at most {MAX_FILTER_DEPTH} deep.", where)
        items = node[key]
        if len(node) != 1 or not isinstance(items, list) or not items:
            raise _invalid(f"'{key}' must be the only key and hold a non-empty list of conditions.", where)
        if len(items) > limits.filters:
            raise limit_exceeded("filters", f"at most {limits.filters} conditions", limits.filters)
        return {key: [checker.node(n, f"{where}.{key}[{i}]", depth + 1) for i, n in enumerate(items)]}
    extra = set(node) - {"field", "op", "value"}
    if extra:
        raise _invalid(f"unknown key(s) {', '.join(sorted(map(str, extra)))} in a condition.", where)
    field = _field(node.get("field"), where, columns, limits)
    op = node.get("op")
    if op not in OPERATORS:
        raise _invalid(f"unknown operator {op!r}; use one of {', '.join(OPERATORS)}.", f"{where}.op")
    column = columns[field]
    condition = {"field": field, "op": op}
    if op in NULL_OPS:
        if node.get("value") is not None:
            raise _invalid(f"'{op}' takes no value.", f"{where}.value")
        return condition
    if "value" not in node:
        raise _invalid(f"'{op}' needs a value.", f"{where}.value")
    value = node["value"]
    if op in ("gt", "gte", "lt", "lte", "between") and column.type not in ORDERED_TYPES:
        raise _invalid(f"'{op}' does not apply to the {column.type} field '{field}'.", f"{where}.op")
    if op in TEXT_OPS:
        if not isinstance(value, str) or not value:
            raise _invalid(f"'{op}' needs a non-empty text value.", f"{where}.value")
    elif op in LIST_OPS:
        if not isinstance(value, list) or not value:
            raise _invalid(f"'{op}' needs a list of 1 to {limits.filter_values} values.", f"{where}.value")
        if len(value) > limits.filter_values:
            raise limit_exceeded(f"{where}.value", f"'{op}' takes at most {limits.filter_values} values",
                                 limits.filter_values)
        for i, item in enumerate(value):
            _filter_value(item, column, f"{where}.value[{i}]", ctx)
    elif op == "between":
        if not isinstance(value, list) or len(value) != 2 or value == [None, None]:
            raise _invalid("'between' needs [low, high]; one of them may be null for an open range.", f"{where}.value")
        for i, item in enumerate(value):
            if item is not None:
                _filter_value(item, column, f"{where}.value[{i}]", ctx)
    else:
        _filter_value(value, column, f"{where}.value", ctx)
    condition["value"] = value
    return condition


def _filter_value(value: Any, column: Column, where: str, ctx: TimeContext) -> Any:
    """The typed comparison value of a filter value; raises invalid_operation."""
    if value is None or isinstance(value, (list, dict)):
        raise _invalid("filter values must be texts, numbers or booleans (use is_null for null).", where)
    if column.type == "enum":
        return value
    if column.type == "datetime" and isinstance(value, str) and _DATE_ONLY.fullmatch(value.strip()):
        parser = make_parser("date", ctx)
    else:
        parser = make_parser(column.type, ctx)
    try:
        return parser(value)
    except (ValueError, Blank, OverflowError) as exc:
        shown = value if not isinstance(value, str) or len(value) <= 40 else value[:40] + "…"
        raise _invalid(f"{shown!r} is not a valid {column.type} for '{column.field}': {exc}", where) from None


def compile_filters(filters: Sequence[dict], columns: Sequence[Column], ctx: TimeContext) -> Predicate | None:
    """One predicate over a row tuple (values in the order of `columns`), or None for no filters."""
    if not filters:
        return None
    index = {c.field: i for i, c in enumerate(columns)}
    by_field = {c.field: c for c in columns}
    predicates = [_compile(node, index, by_field, ctx) for node in filters]
    return lambda row: all(p(row) for p in predicates)


def _compile(node: dict, index: dict, columns: dict, ctx: TimeContext) -> Predicate:
    if "any" in node:
        parts = [_compile(n, index, columns, ctx) for n in node["any"]]
        return lambda row: any(p(row) for p in parts)
    if "all" in node:
        parts = [_compile(n, index, columns, ctx) for n in node["all"]]
        return lambda row: all(p(row) for p in parts)
    column, i, op = columns[node["field"]], index[node["field"]], node["op"]
    if op == "is_null":
        return lambda row: row[i] is None
    if op == "not_null":
        return lambda row: row[i] is not None
    test = _value_test(op, node["value"], column, ctx)
    # Null rows: only the negative operators (ne, not_in) match them.
    null_result = op in ("ne", "not_in")

    def predicate(row: Row) -> bool:
        value = row[i]
        if value is None:
            return null_result
        try:
            return test(value)
        except TypeError:  # a coerced text among numbers or dates
            return op in ("ne", "not_in")
    return predicate


def _value_test(op: str, raw: Any, column: Column, ctx: TimeContext) -> Callable[[Any], bool]:
    if op in TEXT_OPS:
        needle = raw.casefold()
        if op == "contains":
            return lambda v: any(needle in t.casefold() for t in _texts(v, column))
        return lambda v: any(t.casefold().startswith(needle) for t in _texts(v, column))
    if column.type == "enum":
        return _enum_test(op, raw, column)
    if op in LIST_OPS:
        found = _member_test([_typed(item, column, ctx) for item in raw])
        return found if op == "in" else (lambda v: not found(v))
    if op == "between":
        low, high = (_typed(b, column, ctx) if b is not None else None for b in raw)
        return lambda v: (low is None or _cmp(v, low) >= 0) and (high is None or _cmp(v, high) <= 0)
    target = _typed(raw, column, ctx)
    if op == "eq":
        return lambda v: _equal(v, target)
    if op == "ne":
        return lambda v: not _equal(v, target)
    sign = {"gt": lambda c: c > 0, "gte": lambda c: c >= 0, "lt": lambda c: c < 0, "lte": lambda c: c <= 0}[op]
    return lambda v: sign(_cmp(v, target))


def _member_test(targets: list[Any]) -> Callable[[Any], bool]:
    """`any(_equal(v, t) for t in targets)` in one set lookup, not one comparison per value (an
    `in` list has up to MAX_FILTER_VALUES values, tested on every row). Parsed values are texts,
    numbers, booleans, dates and date-times, all hashable, and hash like they compare."""
    texts = {t for t in targets if isinstance(t, str)}
    others = {t for t in targets if not isinstance(t, str)}
    dates = {t for t in others if isinstance(t, date) and not isinstance(t, datetime)}

    def found(value: Any) -> bool:
        if isinstance(value, str):
            return value in texts
        if value in others:
            return True
        # A date-time matches a date filter value on its calendar date (_align).
        return bool(dates) and isinstance(value, datetime) and value.date() in dates
    return found


def _typed(value: Any, column: Column, ctx: TimeContext) -> Any:
    return _filter_value(value, column, "filters", ctx)


def _align(value: Any, target: Any) -> Any:
    """Compare a datetime with a date filter value on its calendar date (date ranges)."""
    if isinstance(value, datetime) and not isinstance(target, datetime) and isinstance(target, date):
        return value.date()
    return value


def _equal(value: Any, target: Any) -> bool:
    value = _align(value, target)
    if type(value) is not type(target) and isinstance(value, str) != isinstance(target, str):
        return False
    return value == target


def _cmp(value: Any, target: Any) -> int:
    value = _align(value, target)
    if isinstance(value, str) != isinstance(target, str):
        raise TypeError("mixed types")
    return (value > target) - (value < target)


def _enum_test(op: str, raw: Any, column: Column) -> Callable[[Any], bool]:
    # label -> its keys, built once: an `in` list of MAX_FILTER_VALUES labels must not scan the map for each.
    by_label: dict[Any, set[str]] = {}
    for key, label in (column.value_map or {}).items():
        by_label.setdefault(label, set()).add(key)

    def keys_of(item: Any) -> set[str]:
        keys = {map_key(item)}
        if isinstance(item, str):  # labels are texts
            keys.update(by_label.get(item, ()))
        return keys

    if op in ("eq", "ne", "in", "not_in"):
        keys = set().union(*(keys_of(item) for item in (raw if op in LIST_OPS else [raw])))
        positive = op in ("eq", "in")
        return lambda v: (map_key(v) in keys) == positive
    if op == "between":
        low, high = raw
        return lambda v: (low is None or _cmp(v, _like(v, low)) >= 0) and (high is None or _cmp(v, _like(v, high)) <= 0)
    sign = {"gt": lambda c: c > 0, "gte": lambda c: c >= 0, "lt": lambda c: c < 0, "lte": lambda c: c <= 0}[op]
    return lambda v: sign(_cmp(v, _like(v, raw)))


def _like(value: Any, target: Any) -> Any:
    """Enum values are ints or texts; compare like with like."""
    if isinstance(value, int) and isinstance(target, str):
        try:
            return int(target)
        except ValueError:
            raise TypeError("mixed types") from None
    if isinstance(value, str) and not isinstance(target, str):
        return map_key(target)
    return target


def _texts(value: Any, column: Column) -> list[str]:
    texts = [value if isinstance(value, str) else map_key(value) if not isinstance(value, date) else value.isoformat()]
    if column.value_map:
        label = column.value_map.get(map_key(value))
        if label is not None:
            texts.append(label)
    return texts


# --- sort and dedupe ----------------------------------------------------------------

def validate_sort(data: Any, columns: Mapping[str, Column], limits: Limits = DEFAULT_LIMITS) -> list[dict]:
    """`sort`: ["field", "-field", {"field": ..., "direction": "asc"|"desc"}, ...]."""
    if data is None:
        return []
    if isinstance(data, (str, Mapping)):
        data = [data]
    if not isinstance(data, list) or len(data) > MAX_SORT_KEYS:
        raise _invalid(f"sort must be a list of at most {MAX_SORT_KEYS} keys.", "sort")
    keys = []
    for i, item in enumerate(data):
        where = f"sort[{i}]"
        if isinstance(item, str):
            direction = "desc" if item.startswith("-") else "asc"
            field: Any = item.lstrip("-")  # or a mapping's "field", checked by _field
        elif isinstance(item, Mapping):
            if set(item) - {"field", "direction"}:
                raise _invalid("a sort key has only 'field' and 'direction'.", where)
            field, direction = item.get("field"), item.get("direction", "asc")
        else:
            raise _invalid("a sort key is a field name or {field, direction}.", where)
        if direction not in ("asc", "desc"):
            raise _invalid("direction must be 'asc' or 'desc'.", f"{where}.direction")
        keys.append({"field": _field(field, where, columns, limits), "direction": direction})
    return keys


def validate_dedupe(data: Any, columns: Mapping[str, Column], limits: Limits = DEFAULT_LIMITS) -> list[str]:
    """`dedupe`: a field name or a list of them."""
    if data is None:
        return []
    if isinstance(data, str):
        data = [data]
    if not isinstance(data, list) or not data or len(data) > MAX_SORT_KEYS:
        raise _invalid(f"dedupe must be a field name or a list of 1 to {MAX_SORT_KEYS} names.", "dedupe")
    fields = [_field(f, f"dedupe[{i}]", columns, limits) for i, f in enumerate(data)]
    return list(dict.fromkeys(fields))


def sort_key(value: Any) -> tuple:
    """A total order over the values of one column: numbers, then dates, then texts."""
    if isinstance(value, bool):
        return (0, int(value))
    if isinstance(value, (int, float)):
        return (1, value)
    if isinstance(value, datetime):
        return (2, value)
    if isinstance(value, date):
        return (3, value)
    return (4, value.casefold(), value)


def sort_rows(rows: list[Row], keys: Sequence[tuple[int, bool]]) -> list[Row]:
    """Stable multi-key sort; `keys` are (column index, descending). Nulls go last either way."""
    for i, descending in reversed(keys):
        present = [r for r in rows if r[i] is not None]
        missing = [r for r in rows if r[i] is None]
        # reverse=True keeps equal rows in their order, so every pass stays stable.
        present.sort(key=lambda r: sort_key(r[i]), reverse=descending)
        rows = present + missing
    return rows


def dedupe_rows(rows: list[Row], indexes: Sequence[int]) -> list[Row]:
    """Keep the first row of each key. Rows whose key fields are all null are always kept."""
    seen: set = set()
    kept = []
    for row in rows:
        key = tuple(row[i] for i in indexes)
        if all(v is None for v in key):
            kept.append(row)
            continue
        marked = tuple((type(v).__name__ if isinstance(v, (str, bool)) else "", v) for v in key)
        if marked not in seen:
            seen.add(marked)
            kept.append(row)
    return kept


# --- select / rename / order -----------------------------------------------------------

def shape_columns(columns: Sequence[Column], select: Any, rename: Any, order: Any,
                  limits: Limits = DEFAULT_LIMITS) -> list[Column]:
    """The output columns: `select` keeps and orders, `order` moves fields first, `rename` relabels."""
    by_field = {c.field: c for c in columns}
    result = list(columns)
    for name, value in (("select", select), ("order", order), ("rename", rename)):
        if isinstance(value, (list, Mapping)):
            limits.check_columns(len(value), name)
    if select is not None:
        if not isinstance(select, list) or not select:
            raise _invalid("select must be a non-empty list of field names.", "select")
        fields = [_field(f, f"select[{i}]", by_field, limits) for i, f in enumerate(select)]
        if len(set(fields)) != len(fields):
            raise _invalid("select lists a field twice.", "select")
        result = [by_field[f] for f in fields]
    if order is not None:
        if not isinstance(order, list) or not order:
            raise _invalid("order must be a non-empty list of field names.", "order")
        current = {c.field: c for c in result}
        fields = [_field(f, f"order[{i}]", current, limits) for i, f in enumerate(order)]
        if len(set(fields)) != len(fields):
            raise _invalid("order lists a field twice.", "order")
        placed = set(fields)
        result = [current[f] for f in fields] + [c for c in result if c.field not in placed]
    if rename is not None:
        if not isinstance(rename, Mapping) or not rename:
            raise _invalid("rename must be an object of field -> new header.", "rename")
        current = {c.field: c for c in result}
        for field, header in rename.items():
            limits.check_field_name(field, "rename")
            _field(field, f"rename.{field}", current)
            if not is_label(header):
                raise _invalid("a header is a non-empty text of at most 255 characters.", f"rename.{field}")
        result = [replace(c, header=rename[c.field]) if c.field in rename else c for c in result]
    # One count of every header (list.count per header took 4 s for 16,384 columns).
    duplicates = sorted(h for h, n in Counter(c.header for c in result).items() if n > 1)
    if duplicates:
        raise _invalid(f"headers must be unique; repeated: {', '.join(duplicates)}.", "rename")
    return result

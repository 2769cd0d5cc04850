"""Export templates: declarative YAML files in templates/, validated at start-up."""
from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field as dc_field
from pathlib import Path
from typing import Any, TypeGuard

import yaml

from .errors import EngineError, TemplateError
from .limits import DEFAULT_LIMITS, Limits
from .safety import has_forbidden_chars
from .values import COLUMN_TYPES, parse_boolean, parse_number

TEMPLATES_DIR = Path(__file__).with_name("templates")
FIELD_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}")
TEMPLATE_NAME = re.compile(r"[a-z][a-z0-9_-]{0,31}")
COLUMN_KEYS = ("field", "header", "type", "format", "width", "value_map", "currency_field")
MAX_HEADER = 255
MAX_FORMAT = 100


@dataclass(frozen=True)
class Column:
    field: str
    header: str
    type: str
    format: str | None = None
    width: float | None = None
    value_map: Mapping[str, str] | None = None
    currency_field: str | None = None

    def to_dict(self) -> dict:
        return {
            "field": self.field,
            "header": self.header,
            "type": self.type,
            "format": self.format,
            "width": self.width,
            "value_map": dict(self.value_map) if self.value_map is not None else None,
            "currency_field": self.currency_field,
        }


@dataclass(frozen=True)
class Template:
    type: str
    name: str
    title: str
    columns: tuple[Column, ...] = dc_field(default=())

    def to_dict(self) -> dict:
        return {
            "type": self.type,
            "name": self.name,
            "title": self.title,
            "columns": [column.to_dict() for column in self.columns],
        }


class TemplateRegistry:
    def __init__(self, templates: Sequence[Template]):
        self._templates = {(t.type, t.name): t for t in templates}

    def get(self, type_: str, name: str) -> Template:
        try:
            return self._templates[(type_, name)]
        except KeyError:
            available = [f"{t}/{n}" for t, n in sorted(self._templates)]
            raise EngineError(
                "unknown_template",
                f"Unknown template '{type_}/{name}'.",
                errors={"available": available},
                status=404,
            ) from None

    def all(self) -> list[Template]:
        return [self._templates[key] for key in sorted(self._templates)]


def humanize(field: str) -> str:
    """A header label from a field name: "created_at" -> "Created At", "id" -> "ID"."""
    acronyms = {"id": "ID", "url": "URL", "usd": "USD", "ref": "Ref"}
    words = [w for w in field.split("_") if w]
    return " ".join(acronyms.get(w.lower(), w[:1].upper() + w[1:]) for w in words) or field


def column_problems(data: Any) -> tuple[Column | None, list[str]]:
    """Validate one column definition; returns the Column or the list of problems."""
    if not isinstance(data, Mapping):
        return None, ["must be an object"]
    problems = [f"unknown key '{key}'" for key in data if key not in COLUMN_KEYS]
    field = data.get("field")
    if not isinstance(field, str) or not FIELD_NAME.fullmatch(field):
        problems.append("field must be a name of letters, digits and '_' (at most 64)")
        field = None
    type_ = data.get("type", "string")
    if type_ not in COLUMN_TYPES:
        problems.append(f"type must be one of {', '.join(COLUMN_TYPES)}, not {type_!r}")
    header = data.get("header", humanize(field) if field else "")
    if not is_label(header):
        problems.append(f"header must be a non-empty text of at most {MAX_HEADER} characters "
                        "without control characters")
    fmt = data.get("format")
    if fmt is not None and not (is_label(fmt) and len(fmt) <= MAX_FORMAT):
        problems.append(f"format must be a text of at most {MAX_FORMAT} characters")
    width = data.get("width")
    if width is not None and (isinstance(width, bool) or not isinstance(width, (int, float)) or not 1 <= width <= 255):
        problems.append("width must be a number from 1 to 255")
    value_map, map_problems = _value_map(data.get("value_map"), type_)
    problems += map_problems
    currency_field = data.get("currency_field")
    if currency_field is not None:
        if type_ != "currency":
            problems.append("currency_field is only for columns of type currency")
        elif not isinstance(currency_field, str) or not FIELD_NAME.fullmatch(currency_field):
            problems.append("currency_field must be a field name")
    if problems:
        return None, problems
    assert field is not None  # no problems: a valid field name
    column = Column(
        field=field,
        header=header,
        type=type_,
        format=fmt,
        width=float(width) if width is not None else None,
        value_map=value_map,
        currency_field=currency_field,
    )
    return column, []


def is_label(value: Any) -> TypeGuard[str]:
    return (isinstance(value, str) and 0 < len(value.strip()) and len(value) <= MAX_HEADER
            and not has_forbidden_chars(value))


def _value_map(data: Any, type_: str) -> tuple[Mapping[str, str] | None, list[str]]:
    if data is None:
        return None, []
    if not isinstance(data, Mapping) or not data:
        return None, ["value_map must be a non-empty object of value -> label"]
    result, problems = {}, []
    for key, label in data.items():
        if isinstance(key, (dict, list)) or key is None:
            problems.append(f"value_map key {key!r} must be a text, a number or a boolean")
            continue
        if type_ == "boolean":
            try:
                norm = "true" if parse_boolean(key) else "false"
            except ValueError:
                problems.append(f"value_map key {key!r} is not a boolean")
                continue
        elif isinstance(key, bool):
            norm = "true" if key else "false"
        else:
            norm = str(key)
        if not isinstance(label, str) or len(label) > MAX_HEADER or has_forbidden_chars(label):
            problems.append(f"value_map label for {key!r} must be a text of at most {MAX_HEADER} characters")
            continue
        result[norm] = label
    return result, problems


def column_from_dict(data: Mapping) -> Column:
    """A column given in a request."""
    column, problems = column_problems(data)
    if column is None:
        raise EngineError("invalid_columns", "Invalid column: " + "; ".join(problems), errors={"0": problems})
    return column


def columns_from_request(items: Any, limits: Limits = DEFAULT_LIMITS) -> list[Column]:
    """The `columns` key of a request, with per-index errors."""
    if not isinstance(items, list) or not items:
        raise EngineError("invalid_columns", "columns must be a non-empty list of column objects.")
    limits.check_columns(len(items), "columns")
    for index, item in enumerate(items):
        if isinstance(item, Mapping):
            limits.check_field_name(item.get("field"), f"columns[{index}].field")
            limits.check_field_name(item.get("currency_field"), f"columns[{index}].currency_field")
    columns: list[Column] = []
    errors: dict[str, list[str]] = {}
    for index, item in enumerate(items):
        column, problems = column_problems(item)
        if problems:
            errors[str(index)] = problems
        else:
            assert column is not None  # no problems: a Column
            columns.append(column)
    seen: set[str] = set()  # not fields[:index]: quadratic in the columns
    for index, name in enumerate(c.field for c in columns):
        if name in seen:
            errors.setdefault(str(index), []).append(f"field '{name}' is given twice")
        seen.add(name)
    if errors:
        raise EngineError("invalid_columns", f"{len(errors)} column(s) are invalid.", errors=errors)
    return columns


# --- template files ----------------------------------------------------------------

def load_templates(directory: Path | None = None) -> TemplateRegistry:
    """Load and validate every *.yaml file of `directory` (default: the package's templates/)."""
    directory = Path(directory) if directory is not None else TEMPLATES_DIR
    files = sorted(directory.glob("*.yaml"))
    if not files:
        raise TemplateError(f"{directory}: no template files (*.yaml)")
    templates: list[Template] = []
    seen_types: dict[str, str] = {}
    for path in files:
        loaded = _load_file(path)
        if loaded and loaded[0].type in seen_types:
            raise TemplateError(
                f"{path.name}: type '{loaded[0].type}' is already defined in {seen_types[loaded[0].type]}")
        if loaded:
            seen_types[loaded[0].type] = path.name
        templates += loaded
    return TemplateRegistry(templates)


def _load_file(path: Path) -> list[Template]:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise TemplateError(f"{path.name}: not valid YAML: {exc}") from None
    where = path.name
    if not isinstance(data, dict):
        raise TemplateError(f"{where}: must be a mapping with keys type, fields and templates")
    unknown = set(data) - {"type", "fields", "templates"}
    if unknown:
        raise TemplateError(f"{where}: unknown key(s) {', '.join(sorted(map(str, unknown)))}")
    type_ = data.get("type")
    if not isinstance(type_, str) or not TEMPLATE_NAME.fullmatch(type_):
        raise TemplateError(f"{where}: 'type' must be a lowercase name such as 'participants'")
    fields = data.get("fields") or {}
    if not isinstance(fields, dict):
        raise TemplateError(f"{where}: 'fields' must map field names to column definitions")
    templates = data.get("templates")
    if not isinstance(templates, dict) or not templates:
        raise TemplateError(f"{where}: 'templates' must map template names to templates")
    return [_template(where, type_, name, body, fields) for name, body in templates.items()]


def _template(where: str, type_: str, name: Any, body: Any, fields: dict) -> Template:
    if not isinstance(name, str) or not TEMPLATE_NAME.fullmatch(name):
        raise TemplateError(f"{where}: template name {name!r} must be a lowercase name")
    where = f"{where}: template '{name}'"
    if not isinstance(body, dict) or set(body) - {"title", "columns"}:
        raise TemplateError(f"{where}: must be a mapping with keys title and columns")
    title = body.get("title")
    if not is_label(title):
        raise TemplateError(f"{where}: 'title' must be a non-empty text")
    items = body.get("columns")
    if not isinstance(items, list) or not items:
        raise TemplateError(f"{where}: 'columns' must be a non-empty list")
    columns: list[Column] = []
    for index, item in enumerate(items, start=1):
        column = _template_column(f"{where} column {index}", item, fields)
        if any(c.field == column.field for c in columns):
            raise TemplateError(f"{where} column {index} ('{column.field}'): field is listed twice")
        columns.append(column)
    names = {c.field for c in columns}
    for index, column in enumerate(columns, start=1):
        if column.currency_field and column.currency_field not in names:
            raise TemplateError(
                f"{where} column {index} ('{column.field}'): currency_field '{column.currency_field}' "
                "is not a column of the template"
            )
    return Template(type=type_, name=name, title=title, columns=tuple(columns))


def _template_column(where: str, item: Any, fields: dict) -> Column:
    if isinstance(item, str):
        item = {"field": item}
    if not isinstance(item, dict):
        raise TemplateError(f"{where}: must be a field name or a column mapping")
    name = item.get("field")
    base = fields.get(name, {}) if isinstance(name, str) else {}
    if not isinstance(base, dict):
        raise TemplateError(f"{where} ('{name}'): the definition under fields must be a mapping")
    merged = {**base, **item}
    if "type" not in merged:
        raise TemplateError(f"{where} ('{name}'): no type (define the field under 'fields' or give a type)")
    column, problems = column_problems(merged)
    if column is None:
        raise TemplateError(f"{where} ('{name}'): " + "; ".join(problems))
    return column


# --- inference ---------------------------------------------------------------------

_PLAIN_NUMBER = re.compile(r"-?(0|[1-9]\d{0,14})(\.\d+)?")
_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_ISO_DATETIME = re.compile(r"\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?")


def infer_columns(records: Sequence[Mapping], limits: Limits = DEFAULT_LIMITS) -> list[Column]:
    """Columns for records sent without template or columns: every key, in first-seen order.
    A key longer than the field-name limit, or more keys than the column limit, is refused."""
    seen: dict[str, list[Any]] = {}
    for index, record in enumerate(records):
        if not isinstance(record, Mapping):
            continue
        for key, value in record.items():
            limits.check_field_name(key, f"records[{index}]")
            if isinstance(key, str) and FIELD_NAME.fullmatch(key):
                values = seen.get(key)
                if values is None:
                    limits.check_columns(len(seen) + 1, "columns (inferred from the records' keys)")
                    values = seen[key] = []
                if value is not None and value != "":
                    values.append(value)
    if not seen:
        raise EngineError("invalid_columns",
                          "Cannot infer columns: the records have no fields; give a template or columns.")
    return [Column(field=key, header=humanize(key), type=_infer_type(values)) for key, values in seen.items()]


def _infer_type(values: list[Any]) -> str:
    if not values:
        return "string"
    if all(isinstance(v, bool) for v in values):
        return "boolean"
    if all(isinstance(v, int) and not isinstance(v, bool) for v in values):
        return "integer"
    if all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values):
        return "number"
    if all(isinstance(v, str) for v in values):
        if all(_ISO_DATE.fullmatch(v) for v in values):
            return "date"
        if all(_ISO_DATETIME.fullmatch(v) or _ISO_DATE.fullmatch(v) for v in values):
            return "datetime"
        # Numeric strings become numbers only without leading zeros or "+" and within 15 digits:
        # phone numbers and codes such as "0812..." stay text.
        if all(_PLAIN_NUMBER.fullmatch(v) for v in values):
            parsed = [parse_number(v) for v in values]
            return "integer" if all(isinstance(p, int) for p in parsed) else "number"
    return "string"

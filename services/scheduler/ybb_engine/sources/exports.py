"""What an export of a source needs before it is submitted: its spec and its read plan.

The sort comes from the source's `sort_by`/`sort_order` (an allow-list) unless the request
gives its own `sort`; a sort field the template does not show is read as a hidden column,
typed as any template of the same export type defines it.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from ..errors import EngineError
from ..limits import Limits
from ..spec import ExportSpec, build_spec
from ..templates import Column, TemplateRegistry, humanize
from . import SourceCatalog, SourcePlan
from .query import BoundQuery

KEY_FIELD = "source_row_key"  # the key, selected with DISTINCT so that distinct rows stay distinct


@dataclass(frozen=True)
class SourceExport:
    query: BoundQuery
    spec: ExportSpec
    plan: SourcePlan


def prepare_source_export(catalog: SourceCatalog, source: Mapping[str, Any], request: Mapping[str, Any],
                          templates: TemplateRegistry, limits: Limits, partition_rows: int,
                          max_rows: int) -> SourceExport:
    """Bind the parameters, build the spec, plan the reads (this runs the count query)."""
    if not isinstance(source, Mapping) or not isinstance(source.get("params") or {}, Mapping):
        raise EngineError("validation_error", "source is {name, params}: a name and an object of parameters.",
                          errors={"json": {"source": ["Must be an object with a name and params."]}})
    query = catalog.bind(source.get("name"), source.get("params") or {}, max_rows)
    spec = source_spec(query, request, templates, limits)
    fields = [column.field for column in spec.all_columns]
    if missing := [name for name in fields if name not in query.source.columns]:
        raise EngineError("unknown_field", f"The source {query.source.name} has no field {missing[0]!r}.",
                          errors={"fields": missing, "available": sorted(query.source.columns)})
    if query.source.distinct and KEY_FIELD not in fields:
        query = _with_key(query)
        fields.append(KEY_FIELD)
    return SourceExport(query, spec, catalog.plan(query, fields, partition_rows, max_rows))


def source_spec(query: BoundQuery, request: Mapping[str, Any], templates: TemplateRegistry,
                limits: Limits) -> ExportSpec:
    request = dict(request)
    if request.get("columns") is None:
        request.setdefault("template", query.source.template)
    if request.get("sort"):
        return _as_text(build_spec(request, templates, (), limits), query.source.as_text)
    request.pop("sort", None)
    spec = _as_text(build_spec(request, templates, (), limits), query.source.as_text)
    field_name, direction = query.sort
    if field_name not in {column.field for column in spec.all_columns}:
        spec.extra_columns.append(_typed_column(templates, request.get("template"), field_name))
    spec.sort = [{"field": field_name, "direction": direction}]
    return spec


def _as_text(spec: ExportSpec, fields: tuple[str, ...]) -> ExportSpec:
    """The source's label fields (e.g. a payment method's name where the template maps ids) as text."""
    def text(column: Column) -> Column:
        return replace(column, type="string", value_map=None, format=None) if column.field in fields else column
    spec.columns = [text(c) for c in spec.columns]
    spec.extra_columns = [text(c) for c in spec.extra_columns]
    return spec


def _typed_column(templates: TemplateRegistry, template: Any, field_name: str) -> Column:
    export_type = template.split("/")[0] if isinstance(template, str) else None
    for candidate in templates.all():
        if candidate.type == export_type:
            for column in candidate.columns:
                if column.field == field_name:
                    return column
    return Column(field=field_name, header=humanize(field_name), type="string")


def _with_key(query: BoundQuery) -> BoundQuery:
    source = query.source
    return replace(query, source=replace(source, columns={**source.columns, KEY_FIELD: source.key}))

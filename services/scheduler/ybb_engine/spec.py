"""ExportSpec: one validated export request, JSON-serialisable for the job row and Dask workers."""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from .errors import EngineError
from .limits import DEFAULT_LIMITS, Limits
from .operations import shape_columns, validate_dedupe, validate_filters, validate_sort
from .options import Options, parse_options
from .templates import Column, TemplateRegistry, column_problems, columns_from_request, humanize, infer_columns

FORMATS = ("xlsx", "csv", "json", "ndjson")
DEFAULT_TITLE = "Export"


@dataclass
class ExportSpec:
    columns: list[Column]            # the output columns, in order, headers already renamed
    format: str
    filters: list[dict]
    sort: list[dict]                 # [{"field": ..., "direction": "asc"|"desc"}]
    dedupe: list[str]
    options: Options
    title: str
    # Columns parsed only for filters, sort, dedupe, split_by or a currency code; never written.
    extra_columns: list[Column] = field(default_factory=list)

    @property
    def all_columns(self) -> list[Column]:
        return self.columns + self.extra_columns

    def to_dict(self) -> dict:
        return {
            "columns": [c.to_dict() for c in self.columns],
            "extra_columns": [c.to_dict() for c in self.extra_columns],
            "format": self.format,
            "filters": self.filters,
            "sort": self.sort,
            "dedupe": self.dedupe,
            "options": self.options.to_dict(),
            "title": self.title,
        }

    @classmethod
    def from_dict(cls, data: Mapping) -> ExportSpec:
        return cls(
            columns=[_column(c) for c in data["columns"]],
            extra_columns=[_column(c) for c in data.get("extra_columns", [])],
            format=data["format"],
            filters=list(data.get("filters", [])),
            sort=list(data.get("sort", [])),
            dedupe=list(data.get("dedupe", [])),
            options=parse_options(data.get("options")),
            title=data.get("title", DEFAULT_TITLE),
        )


def _column(data: Mapping) -> Column:
    column, problems = column_problems({k: v for k, v in data.items() if v is not None})
    if column is None:
        raise EngineError("invalid_columns", "; ".join(problems))
    return column


def build_spec(request: Mapping, registry: TemplateRegistry, sample: Sequence[Mapping] = (),
               limits: Limits = DEFAULT_LIMITS) -> ExportSpec:
    """Validate an export request (the POST body minus "records") into an ExportSpec, within `limits`
    (the request's bounds but the record count, which the service checks)."""
    if not isinstance(request, Mapping):
        raise EngineError("invalid_request", "The request body must be a JSON object.")
    title = DEFAULT_TITLE
    template, columns = request.get("template"), request.get("columns")
    if template is not None and columns is not None:
        raise EngineError("invalid_columns", "Give either template or columns, not both.",
                          errors={"template": "remove template or columns"})
    if template is not None:
        if not isinstance(template, str) or template.count("/") != 1:
            raise EngineError("unknown_template", "template must be 'type/name', such as 'participants/standard'.",
                              errors={"template": "must be 'type/name'"}, status=404)
        found = registry.get(*template.split("/"))
        available, title = list(found.columns), found.title
    elif columns is not None:
        available = columns_from_request(columns, limits)
    else:
        available = infer_columns(sample, limits)

    fmt = request.get("format", "xlsx")
    if fmt not in FORMATS:
        raise EngineError("invalid_format", f"format must be one of {', '.join(FORMATS)}.",
                          errors={"format": f"must be one of {', '.join(FORMATS)}"})
    options = parse_options(request.get("options"))
    by_field = {c.field: c for c in available}
    ctx = options.time_context()
    output = shape_columns(available, request.get("select"), request.get("rename"), request.get("order"), limits)
    filters = validate_filters(request.get("filters"), by_field, ctx, limits)
    sort = validate_sort(request.get("sort"), by_field, limits)
    dedupe = validate_dedupe(request.get("dedupe"), by_field, limits)
    if options.split_by is not None:
        limits.check_field_name(options.split_by, "options.split_by")
        if fmt != "xlsx":
            raise EngineError("invalid_option", "split_by applies to xlsx exports only.",
                              errors={"split_by": "only for format xlsx"})
        if options.split_by not in by_field:
            raise EngineError("unknown_field", f"Unknown field '{options.split_by}' in options.split_by.",
                              errors={"options.split_by": f"unknown field '{options.split_by}'",
                                      "available": sorted(by_field)})

    needed = list(_filter_fields(filters)) + [k["field"] for k in sort] + dedupe
    needed += [options.split_by] if options.split_by else []
    needed += [c.currency_field for c in output if c.currency_field]
    output_fields = {c.field for c in output}
    extra: dict[str, Column] = {}
    for name in needed:
        if name not in output_fields and name not in extra:
            # A currency code field missing from the columns is read from the records as text.
            extra[name] = by_field.get(name) or Column(field=name, header=humanize(name), type="string")
    return ExportSpec(
        columns=output,
        format=fmt,
        filters=filters,
        sort=sort,
        dedupe=dedupe,
        options=options,
        title=options.title or title,
        extra_columns=list(extra.values()),
    )


def _filter_fields(nodes: Sequence[dict]) -> list[str]:
    fields: list[str] = []
    for node in nodes:
        for key in ("any", "all"):
            if key in node:
                fields += _filter_fields(node[key])
        if "field" in node:
            fields.append(node["field"])
    return fields


"""The old service's database routes (/api/ybb/db/...) translated onto the YBB sources
(services/scheduler/sources/ybb/, docs/compat.md): the old `filters` are the sources'
parameters, the old `options` the export's template, format, file and sheet names.
"""
from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from ybb_engine.service import Job

from . import compat
from .request_id import current_request_id

DB_EXPORT_TYPES = ("participants", "payments")
DEFAULT_SHEETS = {"participants": "Participants Data", "payments": "Payments Data"}
_SORT_KEYS = ("sort_by", "sort_order")
_TRUE = frozenset({"1", "true", "yes", "on"})
UNAVAILABLE = frozenset({"source_unavailable", "source_timeout", "source_not_configured"})  # 503: retry later


def source_name(export_type: str) -> str:
    return f"ybb/{export_type}"


@dataclass
class DbPlan:
    """`filters_applied` of the answer: the filters that narrowed the query, and those ignored."""

    applied: dict[str, Any] = field(default_factory=dict)
    ignored: dict[str, str] = field(default_factory=dict)

    def report(self) -> dict[str, Any]:
        return {"applied": self.applied, "ignored": self.ignored}


@dataclass
class DbTranslation:
    """An old database export request as a new source export (what compat.success_envelope reads)."""

    body: dict[str, Any]
    plan: DbPlan
    old_format: str
    received: int = 0
    delivery: str = "metadata"
    filters: dict[str, Any] = field(default_factory=dict)
    options: dict[str, Any] = field(default_factory=dict)


def _as_bool(value: Any) -> bool:
    return value if isinstance(value, bool) else isinstance(value, str) and value.strip().lower() in _TRUE


def delivery_mode(old: Mapping[str, Any], options: dict[str, Any], query_mode: str | None) -> str:
    """The old precedence: response_mode of the body, the query, then options; metadata_only; else metadata."""
    mode = old.get("response_mode") or query_mode
    option_mode = options.pop("response_mode", None)
    if mode is None and option_mode is not None:
        mode = option_mode
    option_metadata = options.pop("metadata_only", None)
    if mode is None and (_as_bool(old.get("metadata_only")) or _as_bool(option_metadata)):
        mode = "metadata"
    return str(mode or "metadata").lower()


def translate(export_type: str, old: Mapping[str, Any], params: Mapping[str, Any], bound: Any,
              query_mode: str | None) -> DbTranslation:
    """The new export body; `bound` is `params` as the source checked them (ExportService.bind_source)."""
    filters = dict(old.get("filters") or {})
    options = dict(old.get("options") or {})
    delivery = delivery_mode(old, options, query_mode)
    template = str(options.get("template") or "standard")
    compat.check_template(export_type, template)
    old_format = str(options.get("format") or "excel")
    fmt = "xlsx" if old_format.strip().lower() in compat.XLSX_FORMATS else "csv"  # as the records routes
    sheet = str(options.get("sheet_name") or DEFAULT_SHEETS[export_type])
    compat.check_names({"sheet_name": sheet, **({"filename": options["filename"]} if options.get("filename") else {})})
    export_options: dict[str, Any] = {"on_invalid": "coerce", "date_format": compat.OLD_DATE_FORMAT,
                                      "datetime_format": compat.OLD_DATE_FORMAT}
    if fmt == "xlsx":
        export_options["sheet_name"] = sheet[:compat.SHEET_NAME_MAX]
    else:
        export_options["csv"] = {"line_terminator": "\n"}
    known = {name: value for name, value in params.items() if name not in bound.ignored}
    body: dict[str, Any] = {"source": {"name": source_name(export_type), "params": known},
                            "template": f"{export_type}/{template}", "format": fmt, "options": export_options,
                            "filename": _file_stem(export_type, options, filters)}
    columns = list(compat._registry().get(export_type, template).columns)
    if select := compat._collapsed(f"{export_type}/{template}", columns):
        body["select"] = select
    plan = DbPlan({name: params[name] for name in bound.applied if name in params},
                  {name: "not a filter of this export" if name not in bound.source.params
                   else "not a valid value; ignored as the old service did" for name in bound.ignored})
    return DbTranslation(body, plan, old_format, delivery=delivery, filters=filters, options=options)


def params_of(old: Mapping[str, Any]) -> dict[str, Any]:
    """The source parameters an old request sends: its filters, with sort_by/sort_order also read
    from options (where the old docs put them; the old code read them from filters)."""
    filters = dict(old.get("filters") or {}) if isinstance(old.get("filters"), Mapping) else {}
    options: Mapping[str, Any] = old.get("options") or {}
    if not isinstance(options, Mapping):
        options = {}
    for key in _SORT_KEYS:
        if key not in filters and options.get(key) is not None:
            filters[key] = options[key]
    return filters


def _file_stem(export_type: str, options: Mapping[str, Any], filters: Mapping[str, Any]) -> str:
    """The old default names: YBB_Participants_Export_{YmdHMS}, YBB_Payments_Export_Program{id}_{dmY}_{YmdHMS}."""
    if options.get("filename"):
        return compat._OLD_EXTENSION.sub("", str(options["filename"]).strip())
    now = datetime.now(UTC)
    if export_type == "payments":
        return f"YBB_Payments_Export_Program{filters.get('program_id') or 'All'}_{now:%d-%m-%Y}_{now:%Y%m%d_%H%M%S}"
    return f"YBB_Participants_Export_{now:%Y%m%d_%H%M%S}"


def file_metadata(job: Job, translation: DbTranslation, seconds: float) -> dict[str, Any]:
    """The old X-Export-Metadata header of a file answer."""
    metadata: dict[str, Any] = {"export_id": job.id, "export_strategy": "single_file", "record_count": job.rows,
                                "export_type": job.export_type, "template": (job.template or "").partition("/")[2],
                                "format": translation.old_format}
    if translation.filters:
        metadata["filters"] = translation.filters
    if translation.options:
        metadata["options"] = translation.options
    metadata["request_id"] = current_request_id()
    metadata["processing_time"] = round(seconds, 3)
    return metadata


def metadata_header(metadata: Mapping[str, Any]) -> str:
    return json.dumps(metadata, default=str, ensure_ascii=True)


def statistics_envelope(export_type: str, stats: Mapping[str, Any], filters: Mapping[str, Any]) -> dict[str, Any]:
    return {"status": "success",
            "data": {"total_count": stats["total_count"], "status_breakdown": stats["breakdown"],
                     "export_type": export_type, "filters_applied": dict(filters)},
            "request_id": current_request_id()}


def connection_envelope(info: Mapping[str, str]) -> dict[str, Any]:
    """The old code answered database and host at the top; its guide showed them under data: both."""
    where = {"database": info["database"], "host": info["host"]}
    return {"status": "success", "message": "Database connection successful", **where, "data": where,
            "request_id": current_request_id()}

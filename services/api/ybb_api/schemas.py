"""Marshmallow schemas: what the API accepts and returns (they make the OpenAPI document)."""
from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

import marshmallow as ma
from marshmallow import fields, validate

FORMATS = ("xlsx", "csv", "json", "ndjson")


class RecordList(fields.Field):
    """A JSON array of objects. Checked in one cheap pass: exports carry 100,000s of records."""

    default_error_messages = {"invalid": "Must be an array of objects.", "item": "Record {index} is not an object."}

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> list[dict]:
        if not isinstance(value, list):
            raise self.make_error("invalid")
        for index, record in enumerate(value):
            if not isinstance(record, dict):
                raise self.make_error("item", index=index)
        return value


class ExportRequestSchema(ma.Schema):
    template = fields.String(metadata={"description": "A stock template, as `type/name`, e.g. `participants/standard`"})
    columns = fields.List(fields.Dict(), metadata={"description": "Your own columns instead of a template"})
    format = fields.String(load_default="xlsx", validate=validate.OneOf(FORMATS))
    records = RecordList(required=True, metadata={"description": "The rows: an array of objects"})
    filename = fields.String(validate=validate.Length(max=200))
    filters = fields.Raw(metadata={"description": "See docs/templates.md"})
    sort = fields.Raw()
    select = fields.List(fields.String())
    rename = fields.Dict(keys=fields.String(), values=fields.String())
    order = fields.List(fields.String())
    dedupe = fields.Raw()
    options = fields.Dict(metadata={"description": "Formatting and policies; see docs/templates.md"})
    mode = fields.String(
        load_default="auto",
        validate=validate.OneOf(("auto", "sync", "async")),
        metadata={"description": "`sync` waits for the file (201), `async` answers 202 at once, "
                  "`auto` waits when the export is small (SYNC_MAX_ROWS)"},
    )

    @ma.validates_schema
    def template_or_columns(self, data: dict, **kwargs: Any) -> None:
        if "template" in data and "columns" in data:
            raise ma.ValidationError("Give either template or columns, not both.", "columns")


def _iso(epoch: float | None) -> str | None:
    return datetime.fromtimestamp(epoch, timezone.utc).isoformat() if epoch is not None else None


class JobErrorSchema(ma.Schema):
    code = fields.String()
    message = fields.String()
    errors = fields.Raw()


class JobSchema(ma.Schema):
    id = fields.String()
    state = fields.String(metadata={"description": "awaiting_records, queued, running, succeeded, failed, cancelled, expired"})
    progress = fields.Integer(metadata={"description": "0-100"})
    template = fields.String(allow_none=True)
    format = fields.String()
    filename = fields.String()
    rows_total = fields.Integer(metadata={"description": "Records received"})
    rows_done = fields.Integer(metadata={"description": "Records processed so far"})
    rows = fields.Integer(allow_none=True, metadata={"description": "Rows in the file (after filters and dedupe)"})
    file_size = fields.Integer(allow_none=True)
    warnings = fields.Dict(keys=fields.String(), values=fields.Integer(), allow_none=True)
    error = fields.Nested(JobErrorSchema, allow_none=True)
    created_at = fields.String()
    started_at = fields.String(allow_none=True)
    finished_at = fields.String(allow_none=True)
    expires_at = fields.String()
    links = fields.Dict(keys=fields.String(), values=fields.String())


def job_view(job: dict[str, Any], base_url: str) -> dict[str, Any]:
    """A job row as the API shows it."""
    state = job["state"]
    total = job["rows_total"] or 0
    progress = 100 if state == "succeeded" else int(100 * job["rows_done"] / total) if total else 0
    links = {"self": f"{base_url}/api/v1/exports/{job['id']}"}
    if state == "succeeded":
        links["file"] = f"{links['self']}/file"
    error = None
    if job.get("error_code"):
        error = {"code": job["error_code"], "message": job["error_message"], "errors": job.get("error_detail")}
    return {
        **{k: job[k] for k in ("id", "state", "template", "format", "filename", "rows_total", "rows_done", "rows")},
        "progress": min(progress, 100),
        "file_size": job.get("size_bytes"),
        "warnings": job.get("warnings"),
        "error": error,
        "created_at": _iso(job["created_at"]),
        "started_at": _iso(job.get("started_at")),
        "finished_at": _iso(job.get("finished_at")),
        "expires_at": _iso(job["expires_at"]),
        "links": links,
    }


class HealthSchema(ma.Schema):
    status = fields.String()
    version = fields.String()


class ReadinessSchema(HealthSchema):
    checks = fields.Dict()


class TemplateColumnSchema(ma.Schema):
    field = fields.String()
    header = fields.String()
    type = fields.String()
    format = fields.String(allow_none=True)
    width = fields.Float(allow_none=True)
    value_map = fields.Dict(allow_none=True)
    currency_field = fields.String(allow_none=True)


class TemplateSchema(ma.Schema):
    type = fields.String()
    name = fields.String()
    title = fields.String()
    columns = fields.List(fields.Nested(TemplateColumnSchema))

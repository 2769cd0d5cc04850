"""Marshmallow schemas: what the API accepts and returns (they make the OpenAPI document)."""
from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import marshmallow as ma
from marshmallow import fields, validate

from ybb_engine.partitions import StagedRecords

FORMATS = ("xlsx", "csv", "json", "ndjson")


class RecordList(fields.Field):
    """A JSON array of objects. Checked in one cheap pass: exports carry 100,000s of records.
    The create request's parser (ybb_api.streaming) hands it StagedRecords instead of a list:
    the records already written as partitions while the body was read, and checked there."""

    default_error_messages = {"invalid": "Must be an array of objects.", "item": "Record {index} is not an object."}

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> list[dict] | StagedRecords:
        if isinstance(value, StagedRecords):
            if value.not_object is not None:
                raise self.make_error("item", index=value.not_object)
            return value
        if not isinstance(value, list):
            raise self.make_error("invalid")
        for index, record in enumerate(value):
            if not isinstance(record, dict):
                raise self.make_error("item", index=index)
        return value


def _valid_port(url: str) -> None:
    """marshmallow's Url accepts any digits as the port; urlsplit (and the delivery) only 0-65535."""
    try:
        port = urlsplit(url).port
    except ValueError:
        port = 0
    if port == 0:
        raise ma.ValidationError("The port must be from 1 to 65535.")


class SourceRefSchema(ma.Schema):
    name = fields.String(required=True, validate=validate.Length(min=1, max=65), metadata={
        "description": "A source of GET /api/v1/sources, e.g. `ybb/participants`"})
    params = fields.Dict(keys=fields.String(validate=validate.Length(max=64)), load_default=dict, metadata={
        "description": "Its parameters: values only, each checked against the source's declaration"})


class ExportRequestSchema(ma.Schema):
    template = fields.String(metadata={"description": "A stock template, as `type/name`, e.g. `participants/standard`"})
    columns = fields.List(fields.Dict(), metadata={"description": "Your own columns instead of a template"})
    format = fields.String(load_default="xlsx", validate=validate.OneOf(FORMATS))
    records = RecordList(allow_none=True, metadata={"description": "The rows: an array of objects "
                                                     "(omit it with `upload: true`)"})
    source = fields.Nested(SourceRefSchema, metadata={
        "description": "Read the rows from a named database source instead of `records` (always a job: 202)"})
    upload = fields.Boolean(load_default=False, metadata={
        "description": "Create the job empty and send the records in batches to /records, then /commit"})
    # At most the largest integer every JSON reader takes exactly (and far below what the job store holds).
    expected_rows = fields.Integer(validate=validate.Range(min=0, max=2**53 - 1), metadata={
        "description": "With upload: commit fails unless exactly this many records arrived"})
    callback_url = fields.Url(schemes={"http", "https"}, require_tld=False, validate=_valid_port, metadata={
        "description": "Receives a signed POST when the export ends (see docs/webhooks.md)"})
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
        if data.get("source") is not None:
            if data.get("records") is not None or data.get("upload"):
                raise ma.ValidationError("Give either source or records (or upload), not both.", "source")
        elif data.get("records") is None and not data.get("upload"):
            raise ma.ValidationError("Missing data for required field.", "records")


class BatchSchema(ma.Schema):
    id = fields.String()
    state = fields.String()
    rows_total = fields.Integer()
    batches = fields.Integer()


class SignedFileArgsSchema(ma.Schema):
    expires = fields.String()
    signature = fields.String()


class JobErrorSchema(ma.Schema):
    code = fields.String()
    message = fields.String()
    errors = fields.Raw()


class JobSchema(ma.Schema):
    id = fields.String()
    state = fields.String(
        metadata={"description": "awaiting_records, queued, running, succeeded, failed, cancelled, expired"})
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
    download_url = fields.String(allow_none=True, metadata={
        "description": "Signed link to the file, usable without an API key until it expires"})
    webhook_status = fields.String(allow_none=True)


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


class SourceParamSchema(ma.Schema):
    name = fields.String()
    type = fields.String(metadata={"description": "integer, number, string, date, boolean"})
    choices = fields.List(fields.String(), metadata={"description": "Named values it also takes"})
    description = fields.String()


class SourceSchema(ma.Schema):
    name = fields.String(metadata={"description": "e.g. ybb/participants"})
    description = fields.String()
    template = fields.String(metadata={"description": "The template its rows feed unless the export names one"})
    fields_ = fields.List(fields.String(), data_key="fields", metadata={"description": "The fields it can read"})
    params = fields.List(fields.Nested(SourceParamSchema))
    max_rows = fields.Integer(allow_none=True)

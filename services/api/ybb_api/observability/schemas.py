"""Schemas of the admin endpoints behind the monitoring page (they make the OpenAPI document)."""
from __future__ import annotations

from datetime import UTC
from typing import Any

import marshmallow as ma
from marshmallow import fields, validate

from .logsearch import LEVELS, parse_window

# The stats look back at most a week: the timeline has a point per minute (a week: 10,080 points,
# about 1 MB), and a much longer window would reach before the first date Python has.
MAX_WINDOW_SECONDS = 7 * 86400
# A log page's offset is echoed in the answer: an integer every JSON reader takes exactly.
MAX_OFFSET = 2**53 - 1


class Window(fields.String):
    """A duration such as `30m`, `1h` or `2d` (at most 7 days), loaded as seconds."""

    # A String on the wire (and in the OpenAPI document), a number of seconds once loaded.
    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> float:  # type: ignore[override]
        try:
            seconds = parse_window(super()._deserialize(value, attr, data, **kwargs))
        except ValueError as exc:
            raise ma.ValidationError(str(exc)) from exc
        if seconds > MAX_WINDOW_SECONDS:
            raise ma.ValidationError("At most 7 days (7d).")
        return seconds


class UtcDateTime(fields.AwareDateTime):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(default_timezone=UTC, **kwargs)


class LogQueryArgs(ma.Schema):
    q = fields.String(metadata={"description": "Text anywhere in the line (case-insensitive)"})
    level = fields.String(validate=validate.OneOf(tuple(LEVELS)), metadata={"description": "Minimum level"})
    request_id = fields.String(validate=validate.Length(max=128))
    tenant = fields.String(validate=validate.Length(max=200))
    job_id = fields.String(validate=validate.Length(max=64))
    since = UtcDateTime(metadata={"description": "ISO 8601; without a zone, UTC"})
    until = UtcDateTime()
    offset = fields.Integer(load_default=0, validate=validate.Range(min=0, max=MAX_OFFSET))
    limit = fields.Integer(load_default=50, validate=validate.Range(min=1, max=500))


class LogPageSchema(ma.Schema):
    items = fields.List(fields.Dict(), metadata={"description": "Log lines, newest first"})
    offset = fields.Integer()
    limit = fields.Integer()
    has_more = fields.Boolean(metadata={"description": "Another page exists"})
    log_dir = fields.String(allow_none=True, metadata={"description": "Where the lines come from (LOG_DIR)"})


class StoryArgs(ma.Schema):
    since = UtcDateTime(metadata={"description": "Look back to this time (default: 24 hours)"})


class StorySchema(ma.Schema):
    request_id = fields.String()
    job_ids = fields.List(fields.String())
    lines = fields.List(fields.Dict(), metadata={"description": "Request, job and worker lines, oldest first"})


class StatsArgs(ma.Schema):
    since = Window(load_default=3600.0,
                   metadata={"description": "How far back: e.g. `15m`, `1h` (default), `1d`; at most `7d`"})


class SlowRequestSchema(ma.Schema):
    time, request_id, method, path, route, tenant = (fields.String(allow_none=True) for _ in range(6))
    status = fields.Integer(allow_none=True)
    duration_ms = fields.Float(allow_none=True)


class ErrorPatternSchema(ma.Schema):
    pattern = fields.String()
    kind = fields.String(metadata={"description": "`request` (error answers) or `log` (error lines)"})
    count = fields.Integer()
    last_seen = fields.String()
    request_id = fields.String(allow_none=True, metadata={"description": "The latest occurrence"})


class EndpointUsageSchema(ma.Schema):
    method, route = fields.String(), fields.String()
    count, errors, bytes = fields.Integer(), fields.Integer(), fields.Integer()
    p50_ms, p95_ms = fields.Float(allow_none=True), fields.Float(allow_none=True)


class MinuteSchema(ma.Schema):
    minute = fields.String()
    requests, errors = fields.Integer(), fields.Integer()
    p50_ms, p95_ms = fields.Float(allow_none=True), fields.Float(allow_none=True)
    rows_per_s = fields.Float(allow_none=True, metadata={"description": "Mean speed of the exports finished"})


class StatsSchema(ma.Schema):
    since, until = fields.String(), fields.String()
    requests = fields.Integer()
    slow_requests = fields.List(fields.Nested(SlowRequestSchema))
    error_patterns = fields.List(fields.Nested(ErrorPatternSchema))
    endpoint_usage = fields.List(fields.Nested(EndpointUsageSchema))
    jobs = fields.Dict(keys=fields.String(), values=fields.Integer(), metadata={"description": "Transitions by state"})
    timeline = fields.List(fields.Nested(MinuteSchema), metadata={"description": "One point per minute"})


class StatusSchema(ma.Schema):
    status = fields.String(metadata={"description": "`ok` or `degraded`"})
    api = fields.Dict()
    scheduler = fields.Dict()
    workers = fields.List(fields.Dict())
    storage = fields.Dict()


class JobsOverviewSchema(ma.Schema):
    running = fields.List(fields.Dict(), metadata={"description": "Queued and running jobs, with `progress`"})
    recent = fields.List(fields.Dict(), metadata={"description": "The last 100 jobs"})
    failures = fields.List(fields.Dict(), metadata={"description": "Recent failed jobs with their error"})
    counts = fields.Dict(keys=fields.String(), values=fields.Integer())

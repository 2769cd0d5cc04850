"""Admin endpoints behind the monitoring page (/monitor): logs, stats, status, jobs."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta

import marshmallow as ma
from flask import current_app
from flask.views import MethodView

from .. import jobs
from ..auth import SECURITY, require_scope
from ..blueprint import Blueprint
from ..errors import abort
from ..observability import logsearch, status, summary
from ..observability.schemas import (
    JobsOverviewSchema,
    LogPageSchema,
    LogQueryArgs,
    StatsArgs,
    StatsSchema,
    StatusSchema,
    StoryArgs,
    StorySchema,
)
from ..observability.settings import settings

blp = Blueprint("admin", __name__, url_prefix="/api/v1/admin",
                description="Monitoring: logs, stats, service status and jobs (admin scope)")
STORY_LOOKBACK = timedelta(hours=24)


def _log_dir() -> str | None:
    return settings(current_app).log_dir


class DeliberateError(RuntimeError):
    """Raised by the debug route, to check that errors reach Sentry."""


@blp.route("/logs")
class Logs(MethodView):
    @blp.doc(security=SECURITY)
    @blp.arguments(LogQueryArgs, location="query")
    @blp.response(200, LogPageSchema)
    @require_scope("admin")
    def get(self, args: dict):
        """Search the recent logs by text, level, request_id, tenant, job and time, newest first"""
        offset, limit = args.pop("offset"), args.pop("limit")
        query = logsearch.LogQuery(text=args.pop("q", None), **args)
        log_dir = _log_dir()
        if not log_dir:
            return {"items": [], "offset": offset, "limit": limit, "has_more": False, "log_dir": None}
        return {**logsearch.search(log_dir, query, offset, limit), "log_dir": log_dir}


@blp.route("/logs/requests/<string:request_id>")
class RequestStory(MethodView):
    @blp.doc(security=SECURITY)
    @blp.arguments(StoryArgs, location="query")
    @blp.response(200, StorySchema)
    @require_scope("admin")
    def get(self, args: dict, request_id: str):
        """One request's story: its request line, its job, and what the workers logged for it"""
        since = args.get("since") or datetime.now(UTC) - STORY_LOOKBACK
        log_dir = _log_dir()
        if not log_dir:
            return {"request_id": request_id, "job_ids": [], "lines": []}
        return logsearch.story(log_dir, request_id, since)


@blp.route("/stats")
class Stats(MethodView):
    @blp.doc(security=SECURITY)
    @blp.arguments(StatsArgs, location="query")
    @blp.response(200, StatsSchema)
    @require_scope("admin")
    def get(self, args: dict):
        """Summaries of the recent logs: slow requests, error patterns, endpoint usage, a per-minute timeline"""
        log_dir = _log_dir()
        if not log_dir:
            abort(409, message="LOG_DIR is not set: there are no log files to summarise.", error_code="no_log_dir")
        return summary.summarize(log_dir, args["since"])


@blp.route("/status")
class Status(MethodView):
    @blp.doc(security=SECURITY)
    @blp.response(200, StatusSchema)
    @require_scope("admin")
    def get(self):
        """Service status: API, scheduler, each worker (memory, tasks), storage and disk, version, uptime"""
        config = current_app.config
        return status.service_status(config["VERSION"], config["API_STARTED_AT"], jobs.service())


@blp.route("/jobs")
class Jobs(MethodView):
    @blp.doc(security=SECURITY)
    @blp.response(200, JobsOverviewSchema)
    @require_scope("admin")
    def get(self):
        """Jobs of every tenant: running now with progress, the last 100, recent failures with their error"""
        return status.jobs_overview(jobs.service())


class AnyJsonSchema(ma.Schema):
    class Meta:
        unknown = ma.INCLUDE


@blp.route("/debug/error")
class DebugError(MethodView):
    """Raises on purpose, to check error reporting end to end. Off (404) unless DEBUG_ERROR_ROUTE=1."""

    @blp.doc(security=SECURITY)
    @blp.response(500)
    @require_scope("admin")
    def get(self):
        """Raise an error on purpose (only when DEBUG_ERROR_ROUTE=1; else 404)"""
        _raise_if_enabled()

    @blp.doc(security=SECURITY)
    @blp.arguments(AnyJsonSchema)
    @blp.response(500)
    @require_scope("admin")
    def post(self, body: dict):
        """Raise an error on purpose after reading a JSON body, which must never reach Sentry"""
        _raise_if_enabled()


def _raise_if_enabled() -> None:
    if not settings(current_app).debug_error_route:
        abort(404, message="The debug route is off (DEBUG_ERROR_ROUTE).", error_code="not_found")
    raise DeliberateError("Deliberate error from /api/v1/admin/debug/error")

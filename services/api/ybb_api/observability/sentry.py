"""Sentry for the API: the Flask integration, our scrubber, and per-request tags."""
from __future__ import annotations

from typing import Any

import sentry_sdk
from flask import Flask, g, has_request_context, request
from sentry_sdk.integrations.flask import FlaskIntegration

from ybb_engine.telemetry import init_sentry, log_fields

from .settings import Settings

REQUEST_TAGS = ("request_id", "tenant", "job_id", "template", "format")
MAX_BODY_FOR_TAGS = 1024 * 1024  # template and format are read from bodies up to this size
_processor_added = False


def request_tags() -> dict[str, Any]:
    """request_id, tenant, job id, template and format of the current request, when known."""
    if not has_request_context():
        return {}
    tags: dict[str, Any] = {k: v for k, v in log_fields().items() if k in REQUEST_TAGS}
    key = g.get("api_key")
    if key is not None:
        tags["tenant"] = key.tenant
    if request.view_args and request.view_args.get("job_id"):
        tags.setdefault("job_id", request.view_args["job_id"])
    small = (request.content_length or 0) <= MAX_BODY_FOR_TAGS
    body = request.get_json(silent=True) if request.is_json and small else None
    if isinstance(body, dict):  # only these two fields of the body: never the records
        for name in ("template", "format"):
            if isinstance(body.get(name), str):
                tags.setdefault(name, body[name])
    return {k: v for k, v in tags.items() if v is not None}


def _tag_event(event: dict[str, Any], hint: Any) -> dict[str, Any]:
    event.setdefault("tags", {}).update(request_tags())
    return event


def init_api_sentry(app: Flask, settings: Settings) -> bool:
    started = init_sentry(
        settings.sentry_dsn, service="api", release=str(app.config["VERSION"]),
        environment=settings.sentry_environment, traces_sample_rate=settings.sentry_traces_sample_rate,
        integrations=[FlaskIntegration()],
    )
    global _processor_added
    if started and not _processor_added:  # the global scope outlives a second create_app (tests)
        # sentry-sdk types events as a TypedDict; _tag_event treats them as the plain dicts they are.
        sentry_sdk.get_global_scope().add_event_processor(_tag_event)  # type: ignore[arg-type]
        _processor_added = True
    return started

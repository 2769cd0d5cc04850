"""Liveness (/health), readiness (/health/ready) and the service's root (/).

/health answers what the old service's PHP checks read (`$health['status'] === 'healthy'`,
its service, timestamp and request_id) beside the version; readiness is the new check.
"""
from __future__ import annotations

from datetime import UTC, datetime

from flask import current_app
from flask.views import MethodView
from marshmallow import fields

from .. import jobs
from ..blueprint import Blueprint
from ..request_id import current_request_id
from ..schemas import HealthSchema, ReadinessSchema

blp = Blueprint("health", __name__, url_prefix="", description="Liveness and readiness")

SERVICE = "YBB Data Processing Service"  # the old /health's name for it
LIVENESS, READINESS = "/health", "/health/ready"
# The probes load balancers, Docker and uptime checks call every few seconds: answers below 500
# write no request line unless LOG_HEALTH_PROBES=1 (ybb_api.observability.access).
PROBE_ROUTES = frozenset({LIVENESS, READINESS})
# What / lists (the old service listed its routes there): the routes this service answers.
ENDPOINTS = [
    "/health", "/health/ready", "/api/v1/exports", "/api/v1/templates", "/api/v1/sources", "/api/v1/openapi.json",
    "/api/ybb/export/participants", "/api/ybb/export/payments", "/api/ybb/export/ambassadors",
    "/api/ybb/export/{export_id}/status", "/api/ybb/export/{export_id}/download",
    "/api/ybb/export/{export_id}/download/zip", "/api/ybb/export/{export_id}/download/batch/{n}",
    "/api/ybb/templates", "/api/ybb/templates/{export_type}", "/api/ybb/status-mappings",
    "/api/ybb/system-config", "/api/ybb/cleanup", "/api/ybb/storage/info",
    "/api/ybb/db/export/participants", "/api/ybb/db/export/payments", "/api/ybb/db/export/statistics",
    "/api/ybb/db/test-connection",
]


class LivenessSchema(HealthSchema):
    service = fields.String()
    timestamp = fields.String()
    request_id = fields.String()


class RootSchema(LivenessSchema):
    endpoints = fields.List(fields.String())


def _now() -> str:
    return datetime.now(UTC).isoformat()


@blp.route("/")
class Root(MethodView):
    @blp.response(200, RootSchema)
    def get(self):
        """The service, its version and its routes (as the old service's root answered)"""
        return {"service": "YBB Data Management Service", "version": current_app.config["VERSION"],
                "status": "running", "timestamp": _now(), "endpoints": ENDPOINTS,
                "request_id": current_request_id()}


@blp.route(LIVENESS)
class Health(MethodView):
    @blp.response(200, LivenessSchema)
    def get(self):
        """Liveness: the API process answers (`status` is "healthy", as the old service said)"""
        return {"status": "healthy", "version": current_app.config["VERSION"], "service": SERVICE,
                "timestamp": _now(), "request_id": current_request_id()}


@blp.route(READINESS)
class Ready(MethodView):
    @blp.response(200, ReadinessSchema)
    @blp.alt_response(503, schema=ReadinessSchema, description="Not ready; `checks` says why")
    def get(self):
        """Readiness: the scheduler answers, enough workers are connected, storage is writable"""
        checks = jobs.service().readiness()
        ready = all(check["ok"] for check in checks.values())
        body = {"status": "ready" if ready else "not_ready", "version": current_app.config["VERSION"],
                "checks": checks}
        return body, 200 if ready else 503

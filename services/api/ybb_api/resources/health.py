from __future__ import annotations

from flask import current_app
from flask.views import MethodView

from .. import jobs
from ..blueprint import Blueprint
from ..schemas import HealthSchema, ReadinessSchema

blp = Blueprint("health", __name__, url_prefix="/health", description="Liveness and readiness")


@blp.route("")
class Health(MethodView):
    @blp.response(200, HealthSchema)
    def get(self):
        """Liveness: the API process answers"""
        return {"status": "ok", "version": current_app.config["VERSION"]}


@blp.route("/ready")
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

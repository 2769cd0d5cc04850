from __future__ import annotations

import os
import uuid
from pathlib import Path

from flask import current_app
from flask.views import MethodView

from ..blueprint import Blueprint
from ..cluster import dask_client, worker_count
from ..schemas import HealthSchema, ReadinessSchema

blp = Blueprint("health", __name__, url_prefix="/health", description="Liveness and readiness")


@blp.route("")
class Health(MethodView):
    @blp.response(200, HealthSchema)
    def get(self):
        """Liveness: the API process answers"""
        return {"status": "ok", "version": current_app.config["VERSION"]}


def _storage_check() -> dict:
    directory = Path(current_app.config["DATA_DIR"])
    probe = directory / f".ready-{uuid.uuid4().hex}"
    try:
        directory.mkdir(parents=True, exist_ok=True)
        probe.write_bytes(b"ok")
        probe.unlink()
    except OSError as exc:
        return {"ok": False, "detail": f"{directory} is not writable: {exc.strerror}"}
    stats = os.statvfs(directory)
    return {"ok": True, "free_bytes": stats.f_bavail * stats.f_frsize}


def _cluster_check() -> dict:
    try:
        workers = worker_count(dask_client())
    except (OSError, TimeoutError) as exc:
        return {"ok": False, "detail": f"scheduler unreachable: {exc}"}
    minimum = current_app.config["READY_MIN_WORKERS"]
    detail = {"workers": workers, "min_workers": minimum}
    return {"ok": workers >= minimum, **detail}


@blp.route("/ready")
class Ready(MethodView):
    @blp.response(200, ReadinessSchema)
    @blp.alt_response(503, schema=ReadinessSchema, description="Not ready; `checks` says why")
    def get(self):
        """Readiness: the scheduler answers, enough workers are connected, storage is writable"""
        checks = {"cluster": _cluster_check(), "storage": _storage_check()}
        ready = all(check["ok"] for check in checks.values())
        body = {"status": "ready" if ready else "not_ready", "version": current_app.config["VERSION"],
                "checks": checks}
        return body, 200 if ready else 503

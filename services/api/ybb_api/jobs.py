"""What the views need around the engine's ExportService: the service itself, a job as the
API shows it (with a signed download link once it succeeded), and signed-link checks."""
from __future__ import annotations

import time
from typing import Any
from urllib.parse import urlencode

from flask import current_app, request

from ybb_engine.service import ExportService, Job, State, job_view

from . import signing
from .errors import abort


def service() -> ExportService:
    return current_app.extensions["ybb_service"]


def base_url() -> str:
    """The base of the links the API answers: PUBLIC_URL, else the request's scheme and host."""
    return (current_app.config.get("PUBLIC_URL") or request.host_url).rstrip("/")


def view(job: Job, base_url: str) -> dict[str, Any]:
    """The job as the API shows it, with a signed download link once it succeeded."""
    shown = job_view(job, base_url)
    if job.state is State.SUCCEEDED:
        shown["download_url"] = signed_download_url(job, base_url)
    return shown


def signed_download_url(job: Job, base_url: str) -> str:
    config = current_app.config
    expires = int(min(time.time() + config["DOWNLOAD_URL_TTL"], job.expires_at))
    query = urlencode({"expires": expires, "signature": signing.sign(job.id, expires, config["SECRET_KEY"])})
    return f"{base_url}/api/v1/exports/{job.id}/file?{query}"


def get_signed_job(job_id: str, expires: str, signature: str) -> Job:
    config = current_app.config
    secrets = [config["SECRET_KEY"], *config["SECRET_KEYS_PREVIOUS"]]
    if not signing.verify(job_id, expires, signature, secrets):
        abort(403, message="The download link is invalid or has expired.", error_code="invalid_signature")
    return service().get(job_id)

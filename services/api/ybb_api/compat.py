"""The old YBB export API (/api/ybb/...) translated to the new engine and back.

Kept out of the views (resources/compat.py) so that they stay thin: this module turns an
old request body into a new export body, new jobs into the old response envelopes, and
decides who the caller is (an API key, or a keyless address listed in COMPAT_KEYLESS_IPS
during a migration window). Documented in docs/compat.md.
"""
from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from flask import current_app, request

from ybb_engine.service import Job, State, iso

from .auth import authenticate
from .errors import abort
from .keys import ApiKey
from .request_id import current_request_id

EXPORT_TYPES = ("participants", "payments", "ambassadors")
# The old API's formats, and the new names it accepts too.
FORMATS = {"excel": "xlsx", "xlsx": "xlsx", "xls": "xlsx", "csv": "csv"}
_OLD_EXTENSION = re.compile(r"\.(xlsx|xls|csv)$", re.IGNORECASE)
_MAX_FILTERS = 50


@dataclass(frozen=True)
class Caller:
    """Who is calling a compat route: their key (a stand-in one when keyless) and what they may see."""

    key: ApiKey
    keyless: bool = False

    @property
    def tenant(self) -> str:
        return self.key.tenant

    @property
    def visible_tenant(self) -> str | None:
        return None if "admin" in self.key.scopes else self.key.tenant


# -- who is calling -------------------------------------------------------------------------

def keyless_networks(setting: Any) -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    """COMPAT_KEYLESS_IPS: a comma-separated string (or a list) of IPs and CIDRs; empty = off."""
    if not setting:
        return []
    items: Iterable[str] = setting.split(",") if isinstance(setting, str) else setting
    return [ipaddress.ip_network(item.strip(), strict=False) for item in items if item and item.strip()]


def _keyless_allowed(address: str | None) -> bool:
    networks = keyless_networks(current_app.config.get("COMPAT_KEYLESS_IPS", ""))
    if not networks or not address:
        return False
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip.version == net.version and ip in net for net in networks)


def identify(scope: str) -> Caller:
    """The caller of a compat route. A presented key is always checked (a wrong one is 401 even
    from a keyless address); without a key, only COMPAT_KEYLESS_IPS may call, as COMPAT_TENANT."""
    presents_key = bool(request.headers.get("X-API-Key") or request.headers.get("Authorization"))
    if presents_key or not _keyless_allowed(request.remote_addr):
        return Caller(authenticate(scope))
    tenant = current_app.config.get("COMPAT_TENANT", "legacy") or "legacy"
    # Keyless callers have no webhook secret, and the old API had no callbacks anyway.
    return Caller(ApiKey(id="compat-keyless", tenant=tenant, sha256="", scopes=("exports:write", "exports:read"),
                         webhook_secret=""), keyless=True)


# -- requests -------------------------------------------------------------------------------

def translate_filters(old: dict[str, Any] | None) -> list[dict[str, Any]]:
    """Old filters, a flat {field: value} of equalities, in the new filter syntax:
    a scalar is `eq`, a list is `in`, null is `is_null`."""
    if not old:
        return []
    if len(old) > _MAX_FILTERS:
        abort(400, message=f"At most {_MAX_FILTERS} filters.", error_code="invalid_operation")
    filters: list[dict[str, Any]] = []
    for field, value in old.items():
        if value is None:
            filters.append({"field": field, "op": "is_null"})
        elif isinstance(value, list) and value:
            filters.append({"field": field, "op": "in", "value": value})
        elif isinstance(value, (list, dict)):
            abort(400, message=f"Filter '{field}': the value must be a scalar, a non-empty list or null.",
                  error_code="invalid_operation")
        else:
            filters.append({"field": field, "op": "eq", "value": value})
    return filters


def check_template(export_type: str, name: str) -> None:
    """The old API's message and 400 for an unknown template of a known export type."""
    names = template_names(export_type)
    if name not in names:
        abort(400, message=f"Template '{name}' not found for {export_type}",
              error_code="unknown_template", errors={"available": names})


def template_names(export_type: str) -> list[str]:
    return [t.name for t in current_app.extensions["ybb_service"].templates.all() if t.type == export_type]


def new_export_body(export_type: str, old: dict[str, Any]) -> dict[str, Any]:
    """The new POST /api/v1/exports body for an old request. Synchronous, as the old API was."""
    check_template(export_type, old["template"])
    fmt = FORMATS[old["format"]]
    body: dict[str, Any] = {
        "template": f"{export_type}/{old['template']}",
        "format": fmt,
        "records": old["data"],
        "mode": "sync",
    }
    if old.get("filename"):
        # Old clients name the file with its extension ("participants.xlsx"), sometimes the wrong one.
        body["filename"] = _OLD_EXTENSION.sub("", old["filename"].strip())
    if filters := translate_filters(old.get("filters")):
        body["filters"] = filters
    if old.get("sheet_name") and fmt == "xlsx":
        body["options"] = {"sheet_name": old["sheet_name"]}
    return body


# -- responses ------------------------------------------------------------------------------

def _template_name(job: Job) -> str | None:
    return (job.template or "").partition("/")[2] or None


def download_path(job_id: str) -> str:
    """Relative, as the old API answered it: old clients prefix it with their base URL."""
    return f"/api/ybb/export/{job_id}/download"


def export_data(job: Job, view: dict[str, Any], base_url: str) -> dict[str, Any]:
    """The old `data` object of a finished export."""
    data = {
        "export_id": job.id,
        "file_name": job.filename,
        "file_size": job.size_bytes,
        "record_count": job.rows,
        "download_url": download_path(job.id),
        "expires_at": iso(job.expires_at),
        "file_url": base_url + download_path(job.id),
    }
    if view.get("download_url"):  # the signed link, usable without the API key
        data["signed_download_url"] = view["download_url"]
    return data


def success_envelope(job: Job, view: dict[str, Any], base_url: str,
                     filters: dict[str, Any] | None, started: float) -> dict[str, Any]:
    now = datetime.now(UTC)
    return {
        "status": "success",
        "message": "Export completed successfully",
        "data": export_data(job, view, base_url),
        "metadata": {
            "export_type": job.export_type,
            "template": _template_name(job),
            "format": job.format,
            "filters_applied": filters or {},
            "generated_at": now.isoformat(),
            "processing_time": round(max(now.timestamp() - started, 0.0), 3),
        },
        "request_id": current_request_id(),
    }


def processing_envelope(job: Job) -> dict[str, Any]:
    """A synchronous export that outlived SYNC_TIMEOUT: the old API never answered this; poll status."""
    return {
        "status": "processing",
        "message": "The export is still running; poll status_url until export_status is 'succeeded'.",
        "data": {
            "export_id": job.id,
            "status_url": f"/api/ybb/export/{job.id}/status",
            "download_url": download_path(job.id),
            "record_count": job.rows_total,
            "expires_at": iso(job.expires_at),
        },
        "request_id": current_request_id(),
    }


def status_envelope(job: Job, view: dict[str, Any]) -> dict[str, Any]:
    """The old status answer (flat), with the new job's state and progress added."""
    succeeded = job.state is State.SUCCEEDED
    body = {
        "status": "success",
        "export_id": job.id,
        "export_type": job.export_type,
        "template": _template_name(job),
        "export_status": job.state.value,
        "progress": view["progress"],
        "record_count": job.rows if succeeded else job.rows_total,
        "file_name": job.filename,
        "file_size": job.size_bytes,
        "download_url": download_path(job.id) if succeeded else None,
        "created_at": iso(job.created_at),
        "expires_at": iso(job.expires_at),
        "request_id": current_request_id(),
    }
    if view.get("error"):
        body["error"] = view["error"]["message"]
    return body


def templates_envelope(export_type: str | None = None) -> dict[str, Any]:
    """The old template listing: {type: {name: {name, description, fields, headers}}}."""
    data: dict[str, dict[str, Any]] = {}
    for template in current_app.extensions["ybb_service"].templates.all():
        if export_type and template.type != export_type:
            continue
        data.setdefault(template.type, {})[template.name] = {
            "name": template.name,
            "description": template.title,
            "fields": [c.field for c in template.columns],
            "headers": [c.header for c in template.columns],
        }
    return {"status": "success", "data": data, "request_id": current_request_id()}


def _first_messages(errors: Any, prefix: str = "") -> list[str]:
    """'data: No data provided for export' from marshmallow's nested {"json": {...}} errors."""
    if isinstance(errors, dict):
        out: list[str] = []
        for key, value in errors.items():
            name = "" if key in {"json", "_schema"} else f"{prefix}{key}"
            out += _first_messages(value, f"{name}." if name else "")
        return out
    if isinstance(errors, list) and errors and all(isinstance(e, str) for e in errors):
        return [f"{prefix.rstrip('.')}: {errors[0]}" if prefix else errors[0]]
    return []


def error_envelope(status: int, message: str, code: str, errors: Any = None) -> tuple[dict[str, Any], int]:
    """The old error shape, {status: "error", message, request_id}, plus the new `code` and `errors`.
    The old API answered 400 for every invalid request: validation errors (422) become 400."""
    if code == "validation_error":
        details = _first_messages(errors)
        message = "Invalid request: " + "; ".join(details[:5]) if details else message
    if status == 422:
        status = 400
    body = {"status": "error", "message": message, "code": code, "request_id": current_request_id()}
    if errors:
        body["errors"] = errors
    return body, status


def http_error_envelope(error: Any) -> tuple[dict[str, Any], int, dict[str, str]]:
    """Any HTTPException raised under /api/ybb (abort(), webargs' 422, a 500) in the old shape."""
    data = getattr(error, "data", None) or {}
    status = error.code or 500
    errors = data.get("errors", data.get("messages"))
    if status == 500:
        code, message = "internal_error", "Internal error. Quote the request_id when reporting it."
    elif status == 400 and errors == {"json": ["Invalid JSON body."]}:
        code, message = "invalid_json", "The request body is not valid JSON."
    elif status == 422 and "message" not in data:
        code, message = "validation_error", "The request did not pass validation."
    else:
        code = data.get("error_code") or (error.name or "error").lower().replace(" ", "_")
        message = data.get("message") or error.description or error.name
    body, status = error_envelope(status, message, code, errors)
    return body, status, dict(data.get("headers") or {})

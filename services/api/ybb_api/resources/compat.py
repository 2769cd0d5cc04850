"""The old YBB API's routes (/api/ybb/...), answered by the new engine. See docs/compat.md.

The translation (old body -> new export, job -> old envelope, keyless callers) lives in
ybb_api.compat; errors under /api/ybb answer in the old shape {status: "error", message}.
"""
from __future__ import annotations

import time

import marshmallow as ma
from flask import request
from flask.views import MethodView
from marshmallow import fields, validate
from werkzeug.exceptions import HTTPException

from ybb_engine.errors import EngineError
from ybb_engine.service import ExportRequest, State, is_input_error

from .. import compat, jobs
from ..auth import SECURITY
from ..blueprint import Blueprint
from ..downloads import file_response
from ..errors import abort
from ..request_id import current_request_id
from ..schemas import RecordList

blp = Blueprint("compat", __name__, url_prefix="/api/ybb", description="Compatibility with the old YBB export API")
EXPORT_TYPE = f"<any({', '.join(compat.EXPORT_TYPES)}):export_type>"


# -- schemas (the old shapes) ---------------------------------------------------------------

class OldExportRequestSchema(ma.Schema):
    class Meta:
        unknown = ma.EXCLUDE  # the old API ignored fields it did not know (e.g. "limit")

    data = RecordList(required=True, validate=validate.Length(min=1, error="No data provided for export"),
                      metadata={"description": "The records: an array of objects"})
    template = fields.String(load_default="standard",
                             metadata={"description": "standard, detailed, summary, complete (per export type)"})
    format = fields.String(load_default="excel", validate=validate.OneOf(tuple(compat.FORMATS)))
    filename = fields.String(validate=validate.Length(max=200))
    sheet_name = fields.String(validate=validate.Length(max=100))
    filters = fields.Dict(keys=fields.String(), load_default=dict,
                          metadata={"description": "field -> value equality; a list means any of; null means empty"})


class OldExportDataSchema(ma.Schema):
    export_id = fields.String()
    file_name = fields.String()
    file_size = fields.Integer(allow_none=True)
    record_count = fields.Integer(allow_none=True)
    download_url = fields.String(metadata={"description": "Relative, as the old API answered"})
    expires_at = fields.String()
    file_url = fields.String(metadata={"description": "The download, absolute (needs the API key)"})
    signed_download_url = fields.String(metadata={"description": "A signed link usable without the API key"})
    status_url = fields.String()


class OldExportResponseSchema(ma.Schema):
    status = fields.String(metadata={"description": "success, or processing when the export outlived SYNC_TIMEOUT"})
    message = fields.String()
    data = fields.Nested(OldExportDataSchema)
    metadata = fields.Dict()
    request_id = fields.String()


class OldStatusSchema(ma.Schema):
    status = fields.String()
    export_id = fields.String()
    export_type = fields.String(allow_none=True)
    template = fields.String(allow_none=True)
    export_status = fields.String(metadata={"description": "The new job state: queued, running, succeeded, …"})
    progress = fields.Integer()
    record_count = fields.Integer(allow_none=True)
    file_name = fields.String()
    file_size = fields.Integer(allow_none=True)
    download_url = fields.String(allow_none=True)
    created_at = fields.String()
    expires_at = fields.String()
    error = fields.String()
    request_id = fields.String()


class OldTemplatesSchema(ma.Schema):
    status = fields.String()
    data = fields.Dict(metadata={"description": "{type: {name: {name, description, fields, headers}}}"})
    request_id = fields.String()


class OldErrorSchema(ma.Schema):
    status = fields.String(metadata={"description": "always 'error'"})
    message = fields.String()
    code = fields.String(metadata={"description": "the new API's error code (docs/errors.md)"})
    errors = fields.Raw()
    request_id = fields.String()


# -- errors in the old shape ----------------------------------------------------------------

@blp.errorhandler(HTTPException)
def old_http_error(error: HTTPException):
    return compat.http_error_envelope(error)


@blp.errorhandler(EngineError)
def old_engine_error(error: EngineError):
    body, status = compat.error_envelope(error.status, error.message, error.code, error.errors)
    return body, status, error.headers


def _base_url() -> str:
    return request.host_url.rstrip("/")


# -- routes ---------------------------------------------------------------------------------

@blp.route(f"/export/{EXPORT_TYPE}")
class OldExport(MethodView):
    @blp.doc(security=SECURITY)
    @blp.arguments(OldExportRequestSchema)
    @blp.response(200, OldExportResponseSchema, description="The export finished")
    @blp.alt_response(202, schema=OldExportResponseSchema, description="Still running after SYNC_TIMEOUT: poll status")
    @blp.alt_response(400, schema=OldErrorSchema, description="Invalid request or records")
    def post(self, old: dict, export_type: str):
        """Old API: export participants, payments or ambassadors synchronously"""
        caller = compat.identify("exports:write")
        started = time.time()
        body = compat.new_export_body(export_type, old)
        job = jobs.service().create(ExportRequest(tenant=caller.tenant, body=body, request_id=current_request_id(),
                                                  webhook_secret=caller.key.webhook_secret, base_url=_base_url()))
        if job.state is State.FAILED:
            abort(400 if is_input_error(job) else 500, message=job.error_message, error_code=job.error_code,
                  errors=job.error_detail)
        if job.state is not State.SUCCEEDED:
            return compat.processing_envelope(job), 202
        return compat.success_envelope(job, jobs.view(job, _base_url()), _base_url(), old.get("filters"), started)


@blp.route("/export/<string:job_id>/status")
class OldExportStatus(MethodView):
    @blp.doc(security=SECURITY)
    @blp.response(200, OldStatusSchema)
    @blp.alt_response(404, schema=OldErrorSchema, description="No such export")
    def get(self, job_id: str):
        """Old API: the status of an export"""
        caller = compat.identify("exports:read")
        job = jobs.service().check_lost(jobs.service().get(job_id, caller.visible_tenant))
        return compat.status_envelope(job, jobs.view(job, _base_url()))


@blp.route("/export/<string:job_id>/download")
class OldExportDownload(MethodView):
    @blp.doc(security=SECURITY, responses={"200": {"description": "The file",
                                                    "content": {"application/octet-stream": {}}}})
    @blp.alt_response(404, schema=OldErrorSchema, description="No such export")
    def get(self, job_id: str):
        """Old API: download the file of an export"""
        caller = compat.identify("exports:read")
        job = jobs.service().get(job_id, caller.visible_tenant)
        return file_response(jobs.service().file(job, expired_message="Export has expired"))


@blp.route("/templates")
class OldTemplates(MethodView):
    @blp.doc(security=SECURITY)
    @blp.response(200, OldTemplatesSchema)
    def get(self):
        """Old API: every template, by export type"""
        compat.identify("exports:read")
        return compat.templates_envelope()


@blp.route(f"/templates/{EXPORT_TYPE}")
class OldTemplatesOfType(MethodView):
    @blp.doc(security=SECURITY)
    @blp.response(200, OldTemplatesSchema)
    def get(self, export_type: str):
        """Old API: the templates of one export type"""
        compat.identify("exports:read")
        return compat.templates_envelope(export_type)

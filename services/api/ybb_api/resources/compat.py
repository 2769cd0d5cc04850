"""The old YBB API's routes (/api/ybb/...), answered by the new engine. See docs/compat.md.

The translation (old body -> new export, job -> old envelope, keyless callers) lives in
ybb_api.compat; errors under /api/ybb answer in the old shape {status: "error", message}.
"""
from __future__ import annotations

from typing import Any

import marshmallow as ma
from flask import request
from flask.views import MethodView
from marshmallow import fields, validate

from ybb_engine.errors import EngineError
from ybb_engine.service import ExportRequest, Job, State, is_input_error

from .. import compat, jobs
from ..auth import SECURITY
from ..blueprint import Blueprint
from ..downloads import file_response, zip_response
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
    format = fields.String(load_default="excel", validate=validate.Length(max=50),
                           metadata={"description": "excel (or xlsx, xls) writes XLSX; any other format CSV, "
                                                    "as the old API did"})
    filename = fields.String(validate=validate.Length(max=1000))
    sheet_name = fields.String(validate=validate.Length(max=1000))
    filters = fields.Dict(keys=fields.String(), load_default=dict,
                          metadata={"description": "The old flat filters: a column's value (a list: any of; "
                                                   "'all': none), date_from/date_to, date_range, search, limit; "
                                                   "the rest is ignored (see filters_applied)"})


class OldExportDataSchema(ma.Schema):
    export_id = fields.String()
    file_name = fields.String()
    file_size = fields.Integer(allow_none=True)
    file_size_mb = fields.Float()
    record_count = fields.Integer(allow_none=True)
    download_url = fields.String(metadata={"description": "Relative, as the old API answered"})
    expires_at = fields.String()
    file_url = fields.String(metadata={"description": "The same as download_url (relative; needs the API key)"})
    signed_download_url = fields.String(metadata={"description": "A signed link usable without the API key"})
    status_url = fields.String()


class OldExportResponseSchema(ma.Schema):
    status = fields.String(metadata={"description": "success, or processing when the export outlived SYNC_TIMEOUT"})
    success = fields.Boolean()
    message = fields.String()
    export_strategy = fields.String(metadata={"description": "always single_file: one file of any size"})
    data = fields.Nested(OldExportDataSchema)
    download_url = fields.String()
    metadata = fields.Dict()
    performance_metrics = fields.Dict()
    system_info = fields.Dict(metadata={"description": "format echoes the request's (e.g. excel)"})
    request_id = fields.String()


class OldStatusSchema(ma.Schema):
    status = fields.String(metadata={"description": "success, processing or error"})
    success = fields.Boolean()
    message = fields.String()
    export_id = fields.String()
    export_type = fields.String(allow_none=True)
    template = fields.String(allow_none=True)
    export_status = fields.String(metadata={"description": "The new job state: queued, running, succeeded, …"})
    progress = fields.Integer()
    record_count = fields.Integer(allow_none=True)
    file_name = fields.String()
    file_size = fields.Integer(allow_none=True)
    file_size_bytes = fields.Integer(allow_none=True)
    file_size_mb = fields.Float(allow_none=True)
    processing_time_ms = fields.Float(allow_none=True)
    processing_time_seconds = fields.Float(allow_none=True)
    records_per_second = fields.Float(allow_none=True)
    download_url = fields.String(allow_none=True)
    created_at = fields.String()
    expires_at = fields.String()
    error = fields.String()
    data = fields.Dict(metadata={"description": "The same, as some old guides read it (data.status, data.filename)"})
    request_id = fields.String()


class OldTemplatesSchema(ma.Schema):
    status = fields.String()
    export_type = fields.String()
    data = fields.Dict(metadata={"description": "{type: {name: {name, description, fields, headers, "
                                                "includes_sensitive_data}}}; one type: {name: {...}}"})
    request_id = fields.String()


class OldDataSchema(ma.Schema):
    status = fields.String()
    data = fields.Dict()
    request_id = fields.String()


class OldCleanupRequestSchema(ma.Schema):
    class Meta:
        unknown = ma.EXCLUDE

    type = fields.String(load_default="expired", metadata={"description": "expired (all is taken as expired)"})


class OldCleanupSchema(ma.Schema):
    status = fields.String()
    success = fields.Boolean()
    message = fields.String()
    cleaned_count = fields.Integer()
    files_removed = fields.Integer()
    expired = fields.Integer()
    lost = fields.Integer()
    request_id = fields.String()


class OldStorageSchema(OldDataSchema):
    # The old guides read these at the top level too.
    total_exports = fields.Integer()
    total_files = fields.Integer()
    total_size_bytes = fields.Integer()
    total_size = fields.Integer()
    total_size_mb = fields.Float()
    max_concurrent_exports = fields.Integer(allow_none=True)
    oldest_export = fields.String(allow_none=True)
    newest_export = fields.String(allow_none=True)
    available_space = fields.Integer()
    available_space_mb = fields.Float()
    retention_hours = fields.Integer()


class OldErrorSchema(ma.Schema):
    status = fields.String(metadata={"description": "always 'error'"})
    success = fields.Boolean()
    message = fields.String()
    code = fields.String(metadata={"description": "the new API's error code (docs/errors.md)"})
    errors = fields.Raw()
    request_id = fields.String()


# -- errors in the old shape ----------------------------------------------------------------

compat.answer_errors_the_old_way(blp)


def _base_url() -> str:
    return jobs.base_url()


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
        clock = compat.Clock.start()
        translation = compat.new_export_body(export_type, old)
        body = translation.body
        job = jobs.service().create(ExportRequest(tenant=caller.tenant, body=body, request_id=current_request_id(),
                                                  webhook_key_id=caller.key.id, base_url=_base_url()))
        if job.state is State.FAILED:
            abort(400 if is_input_error(job) else 500, message=job.error_message, error_code=job.error_code,
                  errors=job.error_detail)
        if job.state is not State.SUCCEEDED:
            return compat.processing_envelope(job), 202
        return compat.success_envelope(job, jobs.view(job, _base_url()), translation, clock)


@blp.route("/export/<string:job_id>/status")
class OldExportStatus(MethodView):
    @blp.doc(security=SECURITY)
    @blp.response(200, OldStatusSchema)
    @blp.alt_response(404, schema=OldErrorSchema, description="No such export")
    def get(self, job_id: str):
        """Old API: the status of an export"""
        caller = compat.identify("exports:read")
        job = jobs.service().check_lost(_job(job_id, caller, "Export not found"))
        return compat.status_envelope(job, jobs.view(job, _base_url()))


@blp.route("/export/<string:job_id>/download")
class OldExportDownload(MethodView):
    @blp.doc(security=SECURITY, responses={"200": {"description": "The file",
                                                    "content": {"application/octet-stream": {}}}})
    @blp.alt_response(404, schema=OldErrorSchema, description="No such export, or it expired")
    @blp.alt_response(409, schema=OldErrorSchema, description="The export has not finished")
    def get(self, job_id: str):
        """Old API: download the file of an export (`?type=zip`: inside a ZIP archive)"""
        caller = compat.identify("exports:read")
        message = "Export file not found or expired"
        if request.args.get("type") == "zip":
            return _zip(_file(_job(job_id, caller, message), message))
        return _no_store(file_response(_file(_job(job_id, caller, message), message)))


@blp.route("/export/<string:job_id>/download/zip")
class OldExportZip(MethodView):
    @blp.doc(security=SECURITY, responses={"200": {"description": "A ZIP archive holding the file",
                                                    "content": {"application/zip": {}}}})
    @blp.alt_response(404, schema=OldErrorSchema, description="No such export, or it expired")
    def get(self, job_id: str):
        """Old API: the file of an export inside a ZIP archive (the old multi-file download)"""
        caller = compat.identify("exports:read")
        message = "ZIP archive not found or expired"
        return _zip(_file(_job(job_id, caller, message), message))


@blp.route("/export/<string:job_id>/download/batch/<int:batch_number>")
class OldExportBatch(MethodView):
    @blp.doc(security=SECURITY, responses={"200": {"description": "The file (an export is one file: batch 1)",
                                                    "content": {"application/octet-stream": {}}}})
    @blp.alt_response(404, schema=OldErrorSchema, description="No such batch")
    def get(self, job_id: str, batch_number: int):
        """Old API: one file of a multi-file export; the new engine writes one file, batch 1"""
        caller = compat.identify("exports:read")
        message = f"Batch file {batch_number} not found or expired"
        job = _job(job_id, caller, message)
        if batch_number != 1:
            abort(404, message=message, error_code="not_found")
        return _no_store(file_response(_file(job, message)))


@blp.route("/templates")
class OldTemplates(MethodView):
    @blp.doc(security=SECURITY)
    @blp.response(200, OldTemplatesSchema)
    def get(self):
        """Old API: every template, by export type"""
        compat.identify("exports:read")
        return compat.templates_envelope()


@blp.route("/templates/<string:export_type>")
class OldTemplatesOfType(MethodView):
    @blp.doc(security=SECURITY)
    @blp.response(200, OldTemplatesSchema)
    @blp.alt_response(404, schema=OldErrorSchema, description="Not an export type")
    def get(self, export_type: str):
        """Old API: the templates of one export type"""
        compat.identify("exports:read")
        return compat.type_templates_envelope(export_type)


@blp.route("/status-mappings")
class OldStatusMappings(MethodView):
    @blp.doc(security=SECURITY)
    @blp.response(200, OldDataSchema)
    def get(self):
        """Old API: the label maps (form_status, payment_status, payment_method, boolean_status, category)"""
        compat.identify("exports:read")
        return compat.status_mappings_envelope()


@blp.route("/system-config")
class OldSystemConfig(MethodView):
    @blp.doc(security=SECURITY)
    @blp.response(200, OldDataSchema)
    def get(self):
        """Old API: the limits (records per request, retention, timeouts)"""
        compat.identify("exports:read")
        return compat.system_config_envelope()


@blp.route("/cleanup")
class OldCleanup(MethodView):
    @blp.doc(security=SECURITY)
    @blp.arguments(OldCleanupRequestSchema, required=False)
    @blp.response(200, OldCleanupSchema)
    @blp.alt_response(403, schema=OldErrorSchema, description="The key lacks the admin scope")
    def post(self, old: dict):
        """Old API: clean up expired exports (runs the sweeper; admin)"""
        return _cleanup(old.get("type", "expired"))


@blp.route("/cleanup/force")
class OldCleanupForce(MethodView):
    @blp.doc(security=SECURITY)
    @blp.response(200, OldCleanupSchema)
    @blp.alt_response(403, schema=OldErrorSchema, description="The key lacks the admin scope")
    def post(self):
        """Old API (documented, never served by the old service): the same cleanup"""
        return _cleanup("all")


@blp.route("/storage/info")
class OldStorageInfo(MethodView):
    @blp.doc(security=SECURITY)
    @blp.response(200, OldStorageSchema)
    def get(self):
        """Old API: disk usage of the caller's exports (every export's for an admin key)"""
        caller = compat.identify("exports:read")
        return compat.storage_envelope(_all_jobs(caller.visible_tenant))


# -- helpers --------------------------------------------------------------------------------

def _job(job_id: str, caller: compat.Caller, message: str) -> Job:
    """The caller's export, or a 404 with the old message (also for another tenant's)."""
    try:
        return jobs.service().get(job_id, caller.visible_tenant)
    except EngineError as error:
        if error.code == "not_found":
            abort(404, message=message, error_code="not_found")
        raise


def _file(job: Job, message: str) -> Any:
    """The file of a succeeded export; an expired one is a 404 with the old message, as the old
    API had forgotten it by then; 409 while it runs (the old API had no running exports)."""
    try:
        return jobs.service().file(job)
    except EngineError as error:
        if error.code == "expired":
            abort(404, message=message, error_code="expired")
        raise


def _zip(file: Any) -> Any:
    stem = file.filename.rsplit(".", 1)[0]
    return _no_store(zip_response(file, f"{stem}_complete_export.zip"))


def _no_store(response: Any) -> Any:
    """The old downloads' cache headers."""
    response.headers["Cache-Control"] = "no-cache, no-store, must-revalidate"
    response.headers["Pragma"] = "no-cache"
    response.headers["Expires"] = "0"
    return response


def _cleanup(cleanup_type: str) -> dict:
    compat.identify("admin")
    return compat.cleanup_envelope(jobs.service().sweep(), cleanup_type)


PAGE = 500


def _all_jobs(tenant: str | None):  # noqa: ANN202  a generator of Jobs
    page = 1
    while True:
        found, total = jobs.service().list(tenant, page, PAGE)
        yield from found
        if not found or page * PAGE >= total:
            return
        page += 1

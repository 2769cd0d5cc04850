"""The old YBB API's database routes (/api/ybb/db/...), answered from the YBB sources.
See docs/compat.md; the translation lives in ybb_api.compat_db."""
from __future__ import annotations

from typing import Any

import marshmallow as ma
from flask import Response, request
from flask.views import MethodView
from marshmallow import fields, validate

from ybb_engine.errors import EngineError
from ybb_engine.service import ExportRequest, State, is_input_error

from .. import compat, compat_db, jobs
from ..auth import SECURITY
from ..blueprint import Blueprint
from ..downloads import content_disposition, file_response
from ..errors import abort
from ..request_id import current_request_id
from .compat import OldDataSchema, OldErrorSchema, OldExportResponseSchema

blp = Blueprint("compat_db", __name__, url_prefix="/api/ybb/db",
                description="Compatibility with the old YBB API's database exports")
EXPORT_TYPE = f"<any({', '.join(compat_db.DB_EXPORT_TYPES)}):export_type>"


class OldDbExportRequestSchema(ma.Schema):
    class Meta:
        unknown = ma.EXCLUDE

    filters = fields.Dict(load_default=dict, metadata={"description": "The old filters: program_id, status, ..."})
    options = fields.Dict(load_default=dict, metadata={
        "description": "template, format (excel|csv), filename, sheet_name, include_related, sort_by, sort_order"})
    response_mode = fields.String(metadata={"description": "metadata (default) or file"})
    metadata_only = fields.Raw()


class OldDbStatisticsRequestSchema(ma.Schema):
    class Meta:
        unknown = ma.EXCLUDE

    export_type = fields.String(load_default="participants", validate=validate.OneOf(compat_db.DB_EXPORT_TYPES))
    filters = fields.Dict(load_default=dict)


class OldDbConnectionSchema(OldDataSchema):
    message = fields.String()
    database = fields.String()
    host = fields.String()


compat.answer_errors_the_old_way(blp)


@blp.route(f"/export/{EXPORT_TYPE}")
class OldDbExport(MethodView):
    @blp.doc(security=SECURITY, responses={"200": {"description": "The old JSON answer (default), or the file "
                                                                  "with response_mode: file"}})
    @blp.arguments(OldDbExportRequestSchema)
    @blp.response(200, OldExportResponseSchema, description="The export finished")
    @blp.alt_response(202, schema=OldExportResponseSchema, description="Still running after SYNC_TIMEOUT: poll status")
    @blp.alt_response(400, schema=OldErrorSchema, description="Invalid filters or options, or no matching rows")
    @blp.alt_response(503, schema=OldErrorSchema, description="The database is not configured or down")
    def post(self, old: dict, export_type: str):
        """Old API: export participants or payments read from the YBB database"""
        caller = compat.identify("exports:write")
        clock = compat.Clock.start()
        service = jobs.service()
        params = compat_db.params_of(old)
        bound = service.bind_source(compat_db.source_name(export_type), params, strict=False)
        translation = compat_db.translate(export_type, old, params, bound, request.args.get("response_mode"))
        job = service.create(ExportRequest(tenant=caller.tenant, body=translation.body,
                                           request_id=current_request_id(), webhook_key_id=caller.key.id,
                                           base_url=jobs.base_url()))
        job = service.wait(job, service.settings.SYNC_TIMEOUT)
        if job.state is State.FAILED:
            abort(400 if is_input_error(job) else 503 if job.error_code in compat_db.UNAVAILABLE else 500,
                  message=job.error_message, error_code=job.error_code, errors=job.error_detail)
        if job.state is not State.SUCCEEDED:
            return compat.processing_envelope(job), 202
        if not job.rows:
            abort(400, message=f"No {export_type} found matching the specified criteria", error_code="no_rows")
        translation.received = job.rows
        if translation.delivery in ("metadata", "json"):
            return compat.success_envelope(job, jobs.view(job, jobs.base_url()), translation, clock)
        return _file_answer(job, translation, clock)


@blp.route("/export/statistics")
class OldDbStatistics(MethodView):
    @blp.doc(security=SECURITY)
    @blp.arguments(OldDbStatisticsRequestSchema)
    @blp.response(200, OldDataSchema)
    @blp.alt_response(503, schema=OldErrorSchema, description="The database is not configured or down")
    def post(self, old: dict):
        """Old API: row count and status breakdown of participants or payments, before exporting"""
        compat.identify("exports:write")
        export_type = old["export_type"]
        stats = jobs.service().source_statistics(compat_db.source_name(export_type), old["filters"], strict=False)
        return compat_db.statistics_envelope(export_type, stats, old["filters"])


@blp.route("/test-connection")
class OldDbTestConnection(MethodView):
    @blp.doc(security=SECURITY)
    @blp.response(200, OldDbConnectionSchema)
    @blp.alt_response(503, schema=OldErrorSchema, description="The database is not configured or down")
    def get(self):
        """Old API: check the YBB database connection (its host and database name; never credentials)"""
        compat.identify("exports:read")
        try:
            info = jobs.service().check_source_connection("ybb/participants")
        except EngineError as error:
            abort(503, message=f"Database connection failed: {error.message}", error_code=error.code,
                  headers=error.headers)
        return compat_db.connection_envelope(info)


def _file_answer(job: Any, translation: compat_db.DbTranslation, clock: compat.Clock) -> Response:
    """response_mode file: the file itself, with the old headers."""
    file = jobs.service().file(job)
    response = file_response(file)
    metadata = compat_db.file_metadata(job, translation, clock.seconds())
    response.headers["Content-Disposition"] = content_disposition(file.filename)
    response.headers["X-Export-Id"] = job.id
    response.headers["X-Export-Metadata"] = compat_db.metadata_header(metadata)
    response.headers["Access-Control-Expose-Headers"] = "Content-Disposition,X-Export-Id,X-Export-Metadata"
    return response

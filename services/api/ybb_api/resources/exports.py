from __future__ import annotations

from flask import request
from flask.views import MethodView

from ybb_engine.service import ExportRequest, Job, State, is_input_error

from .. import jobs, streaming
from ..auth import SECURITY, authenticate, current_key, require_scope
from ..blueprint import Blueprint
from ..downloads import file_response
from ..errors import abort
from ..request_id import current_request_id
from ..schemas import BatchSchema, ExportRequestSchema, JobSchema, SignedFileArgsSchema


class ExportsBlueprint(Blueprint):
    """Its JSON bodies are parsed as they are read: a create request's records go straight
    to partition files (ybb_api.streaming), and so do an upload batch's."""

    ARGUMENTS_PARSER = streaming.StreamingJsonParser()


blp = ExportsBlueprint("exports", __name__, url_prefix="/api/v1/exports", description="Export jobs and their files")
blp.teardown_request(streaming.discard_staged)  # records no job took: a refused request's, a replay's


def _base_url() -> str:
    return jobs.base_url()


def _visible_tenant() -> str | None:
    key = current_key()
    return None if "admin" in key.scopes else key.tenant


def _view(job: Job) -> dict:
    return jobs.view(job, _base_url())


def _webhook_key_id(callback_url: str | None) -> str:
    """The caller's key id: the worker signs the callback with that key's webhook secret. A key
    without one cannot have callbacks (they would be signed with an empty secret)."""
    key = current_key()
    if callback_url and not key.webhook_secret:
        abort(422, message="This API key has no webhook_secret in the keys file, so its callbacks cannot be signed; "
              "give it one or leave out callback_url.", error_code="webhook_secret_missing")
    return key.id


def _own_job(job_id: str) -> Job:
    return jobs.service().get(job_id, _visible_tenant())


@blp.route("")
class Exports(MethodView):
    @blp.doc(security=SECURITY)
    @blp.response(200, JobSchema(many=True))
    @blp.paginate()
    @require_scope("exports:read")
    def get(self, pagination_parameters):
        """List your exports, newest first (admin keys: every tenant's)"""
        rows, total = jobs.service().list(_visible_tenant(), pagination_parameters.page,
                                          pagination_parameters.page_size)
        pagination_parameters.item_count = total
        return [_view(job) for job in rows]

    @blp.doc(security=SECURITY, parameters=[{"in": "header", "name": "Idempotency-Key", "required": False,
                                             "schema": {"type": "string", "maxLength": 200}}])
    @blp.arguments(ExportRequestSchema)
    @blp.response(202, JobSchema, description="Queued or running; poll the Location")
    @blp.alt_response(201, schema=JobSchema, description="Finished (small or `mode: sync` exports), "
                      "or an upload job awaiting records")
    @require_scope("exports:write")
    def post(self, body: dict):
        """Create an export from JSON records"""
        key = current_key()
        job = jobs.service().create(ExportRequest(
            tenant=key.tenant, body=body, request_id=current_request_id(),
            idempotency_key=request.headers.get("Idempotency-Key", "")[:200] or None,
            webhook_key_id=_webhook_key_id(body.get("callback_url")), base_url=_base_url()))
        if job.state is State.FAILED:  # a synchronous export that failed answers as an error
            abort(422 if is_input_error(job) else 500, message=job.error_message, error_code=job.error_code,
                  errors=job.error_detail)
        view = _view(job)
        status = 201 if job.state in {State.SUCCEEDED, State.AWAITING_RECORDS} else 202
        return view, status, {"Location": view["links"]["self"]}


@blp.route("/<string:job_id>")
class Export(MethodView):
    @blp.doc(security=SECURITY)
    @blp.response(200, JobSchema)
    @require_scope("exports:read")
    def get(self, job_id: str):
        """Status of one export: state, progress, rows, file size, error, download link"""
        job = jobs.service().check_lost(_own_job(job_id))
        headers = {} if job.ended else {"Retry-After": "1"}
        return _view(job), 200, headers

    @blp.doc(security=SECURITY)
    @blp.response(200, JobSchema)
    @require_scope("exports:write")
    def delete(self, job_id: str):
        """Cancel an export that has not ended and remove its files"""
        return _view(jobs.service().cancel(_own_job(job_id)))


@blp.route("/<string:job_id>/records")
class ExportRecords(MethodView):
    @blp.doc(security=SECURITY, requestBody={"required": True, "content": {
        "application/json": {"schema": {"type": "array", "items": {"type": "object"}}},
        "application/x-ndjson": {"schema": {"type": "string"}}}})
    @blp.response(200, BatchSchema)
    @require_scope("exports:write")
    def post(self, job_id: str):
        """Append a batch of records to an upload job (a JSON array or NDJSON)"""
        job = _own_job(job_id)
        service = jobs.service()
        return service.append(job, streaming.read_records(request, lambda: service.stage_records(job)))


@blp.route("/<string:job_id>/commit")
class ExportCommit(MethodView):
    @blp.doc(security=SECURITY)
    @blp.response(202, JobSchema)
    @require_scope("exports:write")
    def post(self, job_id: str):
        """Start an upload job once every batch has been sent"""
        job = _own_job(job_id)
        job = jobs.service().commit(job, _webhook_key_id(job.callback_url), _base_url())
        view = _view(job)
        return view, 202, {"Location": view["links"]["self"]}


@blp.route("/<string:job_id>/file")
class ExportFile(MethodView):
    @blp.doc(security=[*SECURITY, {}], responses={"200": {"description": "The file",
                                                           "content": {"application/octet-stream": {}}}})
    @blp.arguments(SignedFileArgsSchema, location="query", as_kwargs=True)
    def get(self, job_id: str, expires: str | None = None, signature: str | None = None):
        """Download the file of a finished export (with an API key, or a signed download_url)"""
        if signature is not None:
            job = jobs.get_signed_job(job_id, expires or "", signature)
        else:
            authenticate("exports:read")
            job = _own_job(job_id)
        return file_response(jobs.service().file(job))

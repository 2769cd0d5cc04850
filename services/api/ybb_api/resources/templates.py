from __future__ import annotations

from flask.views import MethodView

from .. import jobs
from ..auth import SECURITY, require_scope
from ..blueprint import Blueprint
from ..schemas import TemplateSchema

blp = Blueprint("templates", __name__, url_prefix="/api/v1/templates", description="Stock export templates")


@blp.route("")
class Templates(MethodView):
    @blp.doc(security=SECURITY)
    @blp.response(200, TemplateSchema(many=True))
    @require_scope("exports:read")
    def get(self):
        """List every stock template with its columns"""
        return [t.to_dict() for t in jobs.service().templates.all()]


@blp.route("/<string:type_>/<string:name>")
class TemplateByName(MethodView):
    @blp.doc(security=SECURITY)
    @blp.response(200, TemplateSchema)
    @require_scope("exports:read")
    def get(self, type_: str, name: str):
        """One template, e.g. participants/standard"""
        return jobs.service().templates.get(type_, name).to_dict()

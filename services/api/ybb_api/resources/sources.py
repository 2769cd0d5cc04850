"""The named database sources an export can read (docs/sources.md)."""
from __future__ import annotations

from flask.views import MethodView

from .. import jobs
from ..auth import SECURITY, require_scope
from ..blueprint import Blueprint
from ..schemas import SourceSchema

blp = Blueprint("sources", __name__, url_prefix="/api/v1/sources", description="Named database sources")


@blp.route("")
class Sources(MethodView):
    @blp.doc(security=SECURITY)
    @blp.response(200, SourceSchema(many=True))
    @require_scope("exports:read")
    def get(self):
        """List the sources with their parameters, sort fields and default template"""
        return jobs.service().sources.describe()

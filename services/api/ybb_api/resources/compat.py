"""The old YBB API's routes (/api/ybb/...), answered by the new engine."""
from __future__ import annotations

from ..blueprint import Blueprint

blp = Blueprint("compat", __name__, url_prefix="/api/ybb", description="Compatibility with the old YBB export API")

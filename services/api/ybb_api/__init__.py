"""The YBB export API: a Flask + flask-smorest app in front of the Dask cluster."""
from __future__ import annotations

from flask import Flask
from flask_cors import CORS
from werkzeug.middleware.proxy_fix import ProxyFix

from ybb_engine.service import ExportService

from .auth import SECURITY_SCHEMES
from .bulk import BulkRequests
from .config import Config
from .errors import YbbApi
from .jsonprovider import OrjsonProvider
from .keys import KeyRing
from .observability import init_observability
from .request_id import init_request_id
from .resources import compat, exports, health, templates


def create_app(config: Config | None = None) -> Flask:
    config = config or Config()
    config.check()
    app = Flask(__name__)
    app.json = OrjsonProvider(app)
    app.config.from_object(config)
    if app.config.get("TRUST_PROXY", True):
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=1, x_proto=1, x_host=1)  # type: ignore[method-assign]

    app.extensions["ybb_service"] = ExportService.from_settings(config)
    app.extensions["ybb_keyring"] = KeyRing(app.config["API_KEYS_FILE"])

    if app.config.get("CORS_ORIGINS"):  # off unless origins are configured
        CORS(app, origins=app.config["CORS_ORIGINS"], allow_headers=["Content-Type", "X-API-Key", "Authorization",
             "X-Request-Id", "Idempotency-Key"], expose_headers=["X-Request-Id", "Location", "Retry-After",
             "X-Pagination", "Content-Disposition"])
    init_request_id(app)
    api = YbbApi(app, spec_kwargs={"components": {"securitySchemes": SECURITY_SCHEMES}})
    for module in (health, templates, exports, compat):
        api.register_blueprint(module.blp)
    init_observability(app, api)
    app.wsgi_app = BulkRequests(app.wsgi_app, app.config["BULK_MIN_BYTES"], app.config["BULK_NICE"])  # type: ignore[method-assign]
    return app

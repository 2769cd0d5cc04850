"""The YBB export API: a Flask + flask-smorest app in front of the Dask cluster."""
from __future__ import annotations

from flask import Flask
from flask_cors import CORS

from ybb_engine.service import ExportService

from . import compat as compat_api
from .auth import SECURITY_SCHEMES, init_key_check
from .bulk import BulkRequests
from .config import Config
from .errors import YbbApi
from .jsonprovider import OrjsonProvider
from .keys import KeyRing
from .observability import init_observability
from .observability.settings import proxy_networks
from .proxies import TrustedProxies
from .request_id import init_request_id
from .resources import compat, compat_db, docs, exports, health, sources, templates


def create_app(config: Config | None = None) -> Flask:
    config = config or Config()
    config.check()
    app = Flask(__name__)
    app.json = OrjsonProvider(app)
    app.config.from_object(config)
    if app.config.get("TRUST_PROXY", True):
        proxies = proxy_networks(app.config["FORWARDED_ALLOW_IPS"])
        app.wsgi_app = TrustedProxies(app.wsgi_app, proxies)  # type: ignore[method-assign]

    app.extensions["ybb_service"] = ExportService.from_settings(config)
    app.extensions["ybb_keyring"] = KeyRing(app.config["API_KEYS_FILE"])

    if app.config.get("CORS_ORIGINS"):  # off unless origins are configured
        CORS(app, origins=app.config["CORS_ORIGINS"], allow_headers=["Content-Type", "X-API-Key", "Authorization",
             "X-Request-Id", "Idempotency-Key"], expose_headers=["X-Request-Id", "Location", "Retry-After",
             "X-Pagination", "Content-Disposition"])
    init_request_id(app)
    init_key_check(app, compat_api.keyless_request)
    api = YbbApi(app, spec_kwargs={"components": {"securitySchemes": SECURITY_SCHEMES}})
    for module in (health, templates, sources, exports, compat, compat_db):
        api.register_blueprint(module.blp)
    app.register_blueprint(docs.blp)  # Swagger UI's files for /docs, outside the OpenAPI document
    init_observability(app, api)
    app.wsgi_app = BulkRequests(app.wsgi_app, app.config["BULK_MIN_BYTES"], app.config["BULK_NICE"])  # type: ignore[method-assign]
    return app

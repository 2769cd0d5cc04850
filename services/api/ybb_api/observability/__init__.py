"""Sentry, structured logs, metrics and the monitoring page for the API process
(docs/observability.md)."""
from __future__ import annotations

from flask import Flask
from flask.logging import default_handler
from flask_smorest import Api

from ybb_engine.telemetry import configure_logging

from .access import init_request_logging
from .sentry import init_api_sentry
from .settings import Settings

__all__ = ["init_observability"]


def init_observability(app: Flask, api: Api) -> None:
    """Called once by create_app, after the core blueprints are registered."""
    from ..resources import admin, health, monitor  # they import this package

    config = Settings.from_app(app)
    app.extensions["ybb_observability"] = config
    configure_logging("api", config.log_level, config.log_dir, extra_loggers=("gunicorn.error",))
    app.logger.removeHandler(default_handler)  # the root logger's JSON handlers take its lines
    init_api_sentry(app, config)
    init_request_logging(app, config.trusted_proxies,
                         frozenset() if config.log_health_probes else health.PROBE_ROUTES)
    api.register_blueprint(admin.blp)
    app.register_blueprint(monitor.blp)

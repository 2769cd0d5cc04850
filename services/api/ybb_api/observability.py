"""Sentry, structured logs, metrics and the monitoring page for the API process."""
from __future__ import annotations

from flask import Flask
from flask_smorest import Api


def init_observability(app: Flask, api: Api) -> None:
    """Called once by create_app, after the core blueprints are registered."""

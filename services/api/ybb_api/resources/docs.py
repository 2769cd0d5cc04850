"""Swagger UI's files for the API docs page (/docs), from the pinned swagger-ui-bundle package.

flask-smorest renders /docs (config.OPENAPI_SWAGGER_UI_PATH) with its script and style links
under OPENAPI_SWAGGER_UI_URL; this blueprint serves that URL from the package's copy of the
Swagger UI distribution, so the page needs no CDN and loads nothing from another host.
Not part of the OpenAPI document.
"""
from __future__ import annotations

from pathlib import Path

from flask import Blueprint
from swagger_ui_bundle import swagger_ui_path  # type: ignore[import-untyped]

ASSETS_URL = "/docs/static"  # config.OPENAPI_SWAGGER_UI_URL is this with a trailing slash
ASSETS = Path(str(swagger_ui_path))  # .../swagger_ui_bundle/vendor/swagger-ui-<version>

blp = Blueprint("swagger_ui_assets", __name__, static_folder=str(ASSETS), static_url_path=ASSETS_URL)

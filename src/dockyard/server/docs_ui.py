"""Interactive API docs served from packaged assets, so they work with no internet."""

from __future__ import annotations

from pathlib import Path

import fastapi_offline
from fastapi import FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

_ASSETS = Path(fastapi_offline.__file__).parent / "static"
_MOUNT = "/api/v2/docs-assets"


def install_docs(app: FastAPI, openapi_url: str) -> None:
    app.mount(_MOUNT, StaticFiles(directory=_ASSETS), name="docs-assets")

    @app.get("/api/v2/docs", include_in_schema=False)
    async def swagger_ui() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=openapi_url,
            title="Dockyard API",
            swagger_js_url=f"{_MOUNT}/swagger-ui-bundle.js",
            swagger_css_url=f"{_MOUNT}/swagger-ui.css",
            swagger_favicon_url=f"{_MOUNT}/favicon.png",
        )

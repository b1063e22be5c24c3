"""The web UI (Registry and Console), served by the API server itself at `/`."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from dockyard.server.ui import (
    artifact_pages,
    auth_pages,
    bridge,
    console_pages,
    deployment_pages,
    registry_pages,
)

STATIC_PATH = "/static"


def install_ui(app: FastAPI) -> None:
    for module in (
        auth_pages,
        registry_pages,
        artifact_pages,
        console_pages,
        deployment_pages,
        bridge,
    ):
        app.include_router(module.router)
    app.mount(STATIC_PATH, StaticFiles(directory=Path(__file__).parent / "static"), name="ui")

"""Request-scoped dependencies that need no database: the app's settings."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from dockyard.server.settings import Settings


async def _settings(request: Request) -> Settings:
    return request.app.state.settings


AppSettings = Annotated[Settings, Depends(_settings)]

"""HTTP route of /version: the handshake the DataRobot Python client makes when it connects."""

from __future__ import annotations

from fastapi import APIRouter

from dockyard.core.models import ServerVersion
from dockyard.server.kit.auth import CurrentUser
from dockyard.server.version import service

router = APIRouter(tags=["Server"])


@router.get("", response_model=ServerVersion)
async def get_version(_: CurrentUser) -> ServerVersion:
    """The API version Dockyard is compatible with, and Dockyard's own version."""
    return service.server_version()

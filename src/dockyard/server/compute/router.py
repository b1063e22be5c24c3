"""HTTP route of /mlops/compute/bundles (the path the hosted platform's clients call)."""

from __future__ import annotations

from fastapi import APIRouter, Request

from dockyard.core.bundles import Bundle
from dockyard.core.models import Page
from dockyard.server.compute import service
from dockyard.server.kit.auth import CurrentUser
from dockyard.server.kit.pagination import Paging, page

router = APIRouter(tags=["Compute bundles"])


@router.get("", response_model=Page[Bundle])
async def list_bundles(request: Request, _: CurrentUser, paging: Paging) -> dict:
    """The compute bundles a container group may name in `resourceBundles`."""
    items, total = service.list_bundles(offset=paging.offset, limit=paging.limit)
    return page(request, items, total, paging)

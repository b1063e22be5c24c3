"""HTTP routes of a workload's rollouts: replacement, settings, promote, history."""

from __future__ import annotations

from fastapi import APIRouter, Request

from dockyard.core.models import Page
from dockyard.core.workloads import Replacement, Workload
from dockyard.server.db.work import UnitOfWork
from dockyard.server.kit.auth import CurrentUser
from dockyard.server.kit.pagination import Paging, page
from dockyard.server.platform import PlatformDep
from dockyard.server.workloads import rollouts
from dockyard.server.workloads.schemas import ReplacementCreate, SettingsUpdate

router = APIRouter(tags=["workloads"])


@router.post("/{workload_id}/replacement", status_code=202, response_model=Replacement)
async def start_replacement(
    workload_id: str,
    body: ReplacementCreate,
    user: CurrentUser,
    work: UnitOfWork,
    platform: PlatformDep,
) -> Replacement:
    return await work(rollouts.start_replacement, user, workload_id, body, platform)


@router.get("/{workload_id}/replacement", response_model=Replacement)
async def get_replacement(workload_id: str, user: CurrentUser, work: UnitOfWork) -> Replacement:
    return await work(rollouts.get_replacement, user, workload_id)


@router.delete("/{workload_id}/replacement", status_code=202, response_model=Replacement)
async def cancel_replacement(
    workload_id: str, user: CurrentUser, work: UnitOfWork, platform: PlatformDep
) -> Replacement:
    return await work(rollouts.cancel_replacement, user, workload_id, platform)


@router.patch("/{workload_id}/settings", status_code=202, response_model=Replacement)
async def update_settings(
    workload_id: str,
    body: SettingsUpdate,
    user: CurrentUser,
    work: UnitOfWork,
    platform: PlatformDep,
) -> Replacement:
    return await work(rollouts.update_settings, user, workload_id, body, platform)


@router.post("/{workload_id}/promote", status_code=202, response_model=Workload)
async def promote(
    workload_id: str, user: CurrentUser, work: UnitOfWork, platform: PlatformDep
) -> Workload:
    return await work(rollouts.promote, user, workload_id, platform)


@router.get("/{workload_id}/history", response_model=Page[Replacement])
async def history(
    workload_id: str, request: Request, user: CurrentUser, work: UnitOfWork, paging: Paging
) -> dict:
    rows, total = await work(rollouts.history, user, workload_id, paging)
    return page(request, rows, total, paging)

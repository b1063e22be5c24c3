"""HTTP routes of a workload's rollouts: replacement, settings, promote, history."""

from __future__ import annotations

from fastapi import APIRouter, Request

from dockyard.core.models import Page
from dockyard.core.workloads import Replacement, Workload
from dockyard.server.kit.auth import CurrentUser
from dockyard.server.kit.deps import DbSession
from dockyard.server.kit.pagination import Paging, page
from dockyard.server.workloads import rollouts
from dockyard.server.workloads.router import PlatformDep
from dockyard.server.workloads.schemas import ReplacementCreate, SettingsUpdate

router = APIRouter(tags=["workloads"])


@router.post("/{workload_id}/replacement", status_code=202, response_model=Replacement)
def start_replacement(
    workload_id: str,
    body: ReplacementCreate,
    user: CurrentUser,
    session: DbSession,
    platform: PlatformDep,
) -> Replacement:
    return rollouts.start_replacement(session, user, workload_id, body, platform)


@router.get("/{workload_id}/replacement", response_model=Replacement)
def get_replacement(workload_id: str, user: CurrentUser, session: DbSession) -> Replacement:
    return rollouts.get_replacement(session, user, workload_id)


@router.delete("/{workload_id}/replacement", status_code=202, response_model=Replacement)
def cancel_replacement(
    workload_id: str, user: CurrentUser, session: DbSession, platform: PlatformDep
) -> Replacement:
    return rollouts.cancel_replacement(session, user, workload_id, platform)


@router.patch("/{workload_id}/settings", status_code=202, response_model=Replacement)
def update_settings(
    workload_id: str,
    body: SettingsUpdate,
    user: CurrentUser,
    session: DbSession,
    platform: PlatformDep,
) -> Replacement:
    return rollouts.update_settings(session, user, workload_id, body, platform)


@router.post("/{workload_id}/promote", status_code=202, response_model=Workload)
def promote(
    workload_id: str, user: CurrentUser, session: DbSession, platform: PlatformDep
) -> Workload:
    return rollouts.promote(session, user, workload_id, platform)


@router.get("/{workload_id}/history", response_model=Page[Replacement])
def history(
    workload_id: str, request: Request, user: CurrentUser, session: DbSession, paging: Paging
) -> dict:
    rows, total = rollouts.history(session, user, workload_id, paging)
    return page(request, rows, total, paging)

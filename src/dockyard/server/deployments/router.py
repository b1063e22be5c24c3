"""HTTP routes of /console/deployments: authenticate, call one service function, return."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response
from sqlalchemy.orm import Session

from dockyard.core.deployments import AuditLog, Deployment
from dockyard.core.models import Page
from dockyard.server.db.work import UnitOfWork
from dockyard.server.deployments import listing, service
from dockyard.server.deployments.schemas import (
    DeploymentCreate,
    DeploymentFilters,
    DeploymentUpdate,
    deployment_filters,
)
from dockyard.server.kit.auth import CurrentUser, Principal
from dockyard.server.kit.pagination import Paging, page
from dockyard.server.platform import PlatformDep, platform_of
from dockyard.server.sharing.router import add_shared_roles_routes

router = APIRouter(tags=["deployments"])
Filters = Annotated[DeploymentFilters, Depends(deployment_filters)]


@router.post("", status_code=201, response_model=Deployment)
async def create_deployment(
    body: DeploymentCreate, user: CurrentUser, work: UnitOfWork, platform: PlatformDep
) -> Deployment:
    return await work(service.create_deployment, user, body, platform)


@router.get("", response_model=Page[Deployment])
async def list_deployments(
    request: Request,
    user: CurrentUser,
    work: UnitOfWork,
    paging: Paging,
    filters: Filters,
    platform: PlatformDep,
) -> dict:
    rows, total = await work(listing.list_deployments, user, filters, paging, platform.base_url)
    return page(request, rows, total, paging)


@router.get("/{deployment_id}", response_model=Deployment)
async def get_deployment(
    deployment_id: str, user: CurrentUser, work: UnitOfWork, platform: PlatformDep
) -> Deployment:
    return await work(service.get_deployment, user, deployment_id, platform)


@router.patch("/{deployment_id}", response_model=Deployment)
async def update_deployment(
    deployment_id: str,
    body: DeploymentUpdate,
    user: CurrentUser,
    work: UnitOfWork,
    platform: PlatformDep,
) -> Deployment:
    return await work(service.update_deployment, user, deployment_id, body, platform)


@router.post("/{deployment_id}/stop", status_code=202, response_model=Deployment)
async def stop_deployment(
    deployment_id: str, user: CurrentUser, work: UnitOfWork, platform: PlatformDep
) -> Deployment:
    return await work(service.stop_deployment, user, deployment_id, platform)


@router.post("/{deployment_id}/start", status_code=202, response_model=Deployment)
async def start_deployment(
    deployment_id: str, user: CurrentUser, work: UnitOfWork, platform: PlatformDep
) -> Deployment:
    return await work(service.start_deployment, user, deployment_id, platform)


@router.delete("/{deployment_id}", status_code=204, response_class=Response)
async def delete_deployment(
    deployment_id: str, user: CurrentUser, work: UnitOfWork, platform: PlatformDep
) -> Response:
    await work(service.delete_deployment, user, deployment_id, platform)
    return Response(status_code=204)


@router.get("/{deployment_id}/auditLog", response_model=AuditLog)
async def audit_log(
    deployment_id: str,
    request: Request,
    user: CurrentUser,
    work: UnitOfWork,
    paging: Paging,
    platform: PlatformDep,
) -> dict:
    entries, total, verified = await work(service.audit_log, user, deployment_id, paging, platform)
    return {**page(request, entries, total, paging), "verified": verified}


def _audit_sharing(session: Session, user: Principal, request: Request, deployment_id: str) -> None:
    service.record_sharing_change(session, user, deployment_id, platform_of(request))


add_shared_roles_routes(
    router,
    path="/{object_id}",
    resolve=service.resolve_target,
    tag="deployments",
    on_change=_audit_sharing,
)

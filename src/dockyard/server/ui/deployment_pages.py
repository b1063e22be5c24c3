"""Console > Deployments: governed endpoints in front of locked workloads, with the audit log."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request, Response
from sqlalchemy.orm import Session

from dockyard.server.db.work import UnitOfWork
from dockyard.server.deployments import listing, service
from dockyard.server.deployments.schemas import (
    STATUSES,
    DeploymentCreate,
    DeploymentUpdate,
    deployment_filters,
)
from dockyard.server.kit.auth import Principal
from dockyard.server.kit.pagination import PageParams
from dockyard.server.platform import Platform, PlatformDep
from dockyard.server.ui import examples
from dockyard.server.ui.web import Actor, UiRoute, Viewer, parse, redirect, render
from dockyard.server.workloads import listing as workload_listing
from dockyard.server.workloads.schemas import WorkloadFilters

router = APIRouter(route_class=UiRoute, include_in_schema=False)

Text = Annotated[str, Form()]
FIRST_PAGE = PageParams(offset=0, limit=100)


@router.get("/console/deployments")
async def deployments_page(
    request: Request,
    user: Viewer,
    work: UnitOfWork,
    platform: PlatformDep,
    search: str | None = None,
    status: str | None = None,
) -> Response:
    return await work(_deployments_page, request, user, platform, search, status)


def _deployments_page(
    session: Session,
    request: Request,
    user: Principal,
    platform: Platform,
    search: str | None,
    status: str | None,
) -> Response:
    filters = deployment_filters(
        search=(search or "").strip()[:100] or None, status=[status] if status else None
    )
    rows, total = listing.list_deployments(session, user, filters, FIRST_PAGE, platform.base_url)
    return render(
        request,
        "deployments.html",
        deployments=rows,
        total=total,
        statuses=STATUSES,
        query={"search": search or "", "status": status or ""},
    )


@router.post("/console/deployments/new")
async def create_deployment(
    user: Actor,
    work: UnitOfWork,
    platform: PlatformDep,
    workload_id: Text,
    name: Annotated[str, Form()] = "",
    description: Annotated[str, Form()] = "",
) -> Response:
    return await work(_create_deployment, user, platform, workload_id, name, description)


def _create_deployment(
    session: Session,
    user: Principal,
    platform: Platform,
    workload_id: str,
    name: str,
    description: str,
) -> Response:
    body = parse(
        DeploymentCreate,
        {"workloadId": workload_id, "name": name.strip() or None, "description": description},
    )
    created = service.create_deployment(session, user, body, platform)
    return redirect(f"/console/deployments/{created.id}", notice="Deployment created.")


@router.get("/console/deployments/{deployment_id}")
async def deployment_page(
    request: Request, deployment_id: str, user: Viewer, work: UnitOfWork, platform: PlatformDep
) -> Response:
    return await work(_deployment_page, request, deployment_id, user, platform)


def _deployment_page(
    session: Session,
    request: Request,
    deployment_id: str,
    user: Principal,
    platform: Platform,
) -> Response:
    deployment = service.get_deployment(session, user, deployment_id, platform)
    entries, _, verified = service.audit_log(session, user, deployment_id, FIRST_PAGE, platform)
    # Candidates for a switch: running workloads on locked artifacts, other than the current one.
    candidates, _ = workload_listing.list_workloads(
        session,
        user,
        WorkloadFilters(artifact_statuses=["locked"], statuses=["running"]),
        FIRST_PAGE,
        platform.base_url,
    )
    return render(
        request,
        "deployment.html",
        deployment=deployment,
        entries=entries,
        verified=verified,
        candidates=[w for w in candidates if w.id != deployment.workload_id],
        can_update="CAN_UPDATE" in deployment.permissions,
        can_delete="CAN_DELETE" in deployment.permissions,
        curl_example=examples.invoke_curl(deployment.endpoint),
        python_example=examples.invoke_python(deployment.endpoint),
    )


@router.post("/console/deployments/{deployment_id}/switch")
async def switch_workload(
    deployment_id: str, user: Actor, work: UnitOfWork, platform: PlatformDep, workload_id: Text
) -> Response:
    return await work(_switch_workload, deployment_id, user, platform, workload_id)


def _switch_workload(
    session: Session,
    deployment_id: str,
    user: Principal,
    platform: Platform,
    workload_id: str,
) -> Response:
    body = parse(DeploymentUpdate, {"workloadId": workload_id})
    service.update_deployment(session, user, deployment_id, body, platform)
    return redirect(
        f"/console/deployments/{deployment_id}",
        notice="Switch requested: traffic moves once that workload is running.",
    )


@router.post("/console/deployments/{deployment_id}/stop")
async def stop_deployment(
    deployment_id: str, user: Actor, work: UnitOfWork, platform: PlatformDep
) -> Response:
    return await work(_stop_deployment, deployment_id, user, platform)


def _stop_deployment(
    session: Session,
    deployment_id: str,
    user: Principal,
    platform: Platform,
) -> Response:
    service.stop_deployment(session, user, deployment_id, platform)
    return redirect(f"/console/deployments/{deployment_id}", notice="Stopping its workload.")


@router.post("/console/deployments/{deployment_id}/start")
async def start_deployment(
    deployment_id: str, user: Actor, work: UnitOfWork, platform: PlatformDep
) -> Response:
    return await work(_start_deployment, deployment_id, user, platform)


def _start_deployment(
    session: Session,
    deployment_id: str,
    user: Principal,
    platform: Platform,
) -> Response:
    service.start_deployment(session, user, deployment_id, platform)
    return redirect(f"/console/deployments/{deployment_id}", notice="Starting its workload.")


@router.post("/console/deployments/{deployment_id}/delete")
async def delete_deployment(
    deployment_id: str, user: Actor, work: UnitOfWork, platform: PlatformDep
) -> Response:
    return await work(_delete_deployment, deployment_id, user, platform)


def _delete_deployment(
    session: Session,
    deployment_id: str,
    user: Principal,
    platform: Platform,
) -> Response:
    service.delete_deployment(session, user, deployment_id, platform)
    return redirect("/console/deployments", notice="Deployment deleted; its workload stays.")

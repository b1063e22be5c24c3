"""Deployment rows → public models; the status is derived from the workload behind it."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from dockyard.core.deployments import Deployment as DeploymentOut
from dockyard.core.deployments import DeploymentStatus
from dockyard.server.artifacts.public import creators
from dockyard.server.deployments.models import Deployment
from dockyard.server.kit.auth import Principal
from dockyard.server.kit.clock import isoformat
from dockyard.server.sharing import service as sharing
from dockyard.server.sharing.service import Target
from dockyard.server.tags import service as tags
from dockyard.server.workloads import repository as workload_rows
from dockyard.server.workloads.public import WORKLOAD

DEPLOYMENT = "deployment"


def deployment_target(row: Deployment) -> Target:
    """The owners of the workload a deployment serves (or is switching to) own it too, so a
    deployment never hides from the owner of what it exposes."""
    workloads = tuple((WORKLOAD, w) for w in (row.workload_id, row.pending_workload_id) if w)
    return Target(DEPLOYMENT, row.id, DEPLOYMENT, owner_parents=workloads)


def derive_status(workload_status: str | None) -> DeploymentStatus:
    if workload_status == "running":
        return "active"
    if workload_status in (None, "stopping", "stopped", "terminated"):
        return "inactive"
    if workload_status == "errored":
        return "errored"
    return "launching"


def endpoint_of(base_url: str, deployment_id: str) -> str:
    return f"{base_url}/api/v2/endpoints/deployments/{deployment_id}/"


def publish(
    session: Session, principal: Principal | None, rows: list[Deployment], base_url: str
) -> list[DeploymentOut]:
    ids = [row.id for row in rows]
    statuses = workload_rows.statuses_of(session, {row.workload_id for row in rows})
    tag_map = tags.tags_for(session, DEPLOYMENT, ids)
    levels = (
        sharing.levels_of(session, principal, [deployment_target(row) for row in rows])
        if principal is not None
        else {}
    )
    people = creators(session, {row.creator_id for row in rows})
    return [
        DeploymentOut(
            id=row.id,
            deployment_id=row.id,
            name=row.name,
            description=row.description or "",
            workload_id=row.workload_id,
            pending_workload_id=row.pending_workload_id,
            status=derive_status(statuses.get(row.workload_id)),
            endpoint=endpoint_of(base_url, row.id),
            creator=people.get(row.creator_id) if row.creator_id else None,
            permissions=sharing.permissions(levels.get(row.id)),
            tags=tag_map.get(row.id, []),
            created_at=isoformat(row.created_at) or "",
            updated_at=isoformat(row.updated_at) or "",
        )
        for row in rows
    ]


def audit_body(session: Session, row: Deployment, base_url: str) -> dict[str, Any]:
    """The public body as the audit log keeps it: without the caller-specific `permissions`."""
    body = publish(session, None, [row], base_url)[0].model_dump(by_alias=True, mode="json")
    body.pop("permissions", None)
    return body

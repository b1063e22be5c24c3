"""SQL for deployments."""

from __future__ import annotations

from collections.abc import Iterator

from sqlalchemy import ColumnElement, func, or_, select
from sqlalchemy.orm import Session

from dockyard.server.deployments.models import Deployment, DeploymentAuditEntry

# A deleted deployment keeps its row (and its audit log) but is gone for everything else.
LIVE = (Deployment.deleted_at.is_(None),)


def add(session: Session, row: Deployment) -> None:
    session.add(row)
    session.flush()


def naming_workload(session: Session, workload_id: str) -> list[Deployment]:
    """Live deployments that serve or are switching to the workload."""
    return list(
        session.scalars(
            select(Deployment).where(
                Deployment.deleted_at.is_(None),
                or_(
                    Deployment.workload_id == workload_id,
                    Deployment.pending_workload_id == workload_id,
                ),
            )
        )
    )


def with_pending_switch(session: Session) -> list[Deployment]:
    return list(
        session.scalars(
            select(Deployment)
            .where(Deployment.deleted_at.is_(None), Deployment.pending_workload_id.is_not(None))
            .with_for_update()
        )
    )


def list_deployments(
    session: Session,
    conditions: list[ColumnElement[bool]],
    order_by: list[ColumnElement],
    *,
    offset: int,
    limit: int,
) -> tuple[list[Deployment], int]:
    conditions = [Deployment.deleted_at.is_(None), *conditions]
    total = session.scalar(select(func.count()).select_from(Deployment).where(*conditions))
    rows = session.scalars(
        select(Deployment).where(*conditions).order_by(*order_by).offset(offset).limit(limit)
    )
    return list(rows), int(total or 0)


def live_routes(session: Session) -> dict[str, str]:
    """deployment id → the workload it serves, for the invoke proxy's table."""
    rows = session.execute(
        select(Deployment.id, Deployment.workload_id).where(Deployment.deleted_at.is_(None))
    )
    return {deployment_id: workload_id for deployment_id, workload_id in rows}


def audit_entries(
    session: Session, deployment_id: str, *, offset: int, limit: int
) -> tuple[list[DeploymentAuditEntry], int]:
    condition = DeploymentAuditEntry.deployment_id == deployment_id
    total = session.scalar(select(func.count()).select_from(DeploymentAuditEntry).where(condition))
    rows = session.scalars(
        select(DeploymentAuditEntry)
        .where(condition)
        .order_by(DeploymentAuditEntry.sequence)
        .offset(offset)
        .limit(limit)
    )
    return list(rows), int(total or 0)


def audit_chain(session: Session, deployment_id: str) -> Iterator[DeploymentAuditEntry]:
    """Every entry of a deployment's audit log, first to last."""
    yield from session.scalars(
        select(DeploymentAuditEntry)
        .where(DeploymentAuditEntry.deployment_id == deployment_id)
        .order_by(DeploymentAuditEntry.sequence)
    )


def locked_audit_head(session: Session, deployment_id: str) -> tuple[int, str]:
    """The chain's head (last sequence and hash), read under the deployment's row lock."""
    head = session.execute(
        select(Deployment.audit_sequence, Deployment.audit_hash)
        .where(Deployment.id == deployment_id)
        .with_for_update()
    ).one()
    return head.audit_sequence, head.audit_hash

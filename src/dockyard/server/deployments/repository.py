"""SQL for deployments."""

from __future__ import annotations

from sqlalchemy import ColumnElement, func, or_, select
from sqlalchemy.orm import Session

from dockyard.server.deployments.models import Deployment

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

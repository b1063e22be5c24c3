"""SQL of the invoke proxy: the rows its routing table is built from, and the gauges /metrics
reports (both across workloads, deployments, grants and users, read in one short transaction)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import JSON, and_, case, func, select, type_coerce

from dockyard.server.db.session import Database
from dockyard.server.deployments.models import Deployment
from dockyard.server.deployments.public import DEPLOYMENT
from dockyard.server.sharing.models import SharedRole
from dockyard.server.users.models import User
from dockyard.server.workloads.models import Proton, Replica, Workload
from dockyard.server.workloads.public import WORKLOAD

Raw = tuple[list[Any], list[Any], list[Any], list[Any]]


# Built once: constructing these statements costs about as much as running them.
_WORKLOAD_ROWS = (
    select(
        Workload.id,
        Workload.status,
        Workload.desired_state,
        Workload.status_reason,
        Proton.id,
        Proton.task,
        Proton.scale,
        # The runtime settings of autoscaled protons only (their policies' targets): the
        # others' are never needed here, and most refreshes compare these rows unchanged.
        type_coerce(case((Proton.scale.is_not(None), Proton.runtime)), JSON),
        Replica.group_name,
        Replica.index,
        Replica.host,
        Replica.port,
        Replica.ready,
        Replica.draining_since,
    )
    .outerjoin(Proton, and_(Proton.workload_id == Workload.id, Proton.role == "active"))
    .outerjoin(Replica, Replica.proton_id == Proton.id)
    .order_by(Workload.id, Replica.group_name, Replica.index)
)
_DEPLOYMENT_ROWS = (
    select(Deployment.id, Deployment.workload_id, Deployment.pending_workload_id)
    .where(Deployment.deleted_at.is_(None))
    .order_by(Deployment.id)
)
# Driven from the workloads and deployments, so the grants index is searched per object type:
# filtering the grants table by `resource_type IN (…)` scans it when most grants are on
# artifacts.
_GRANT_ROWS = (
    select(SharedRole.resource_id, SharedRole.user_id, SharedRole.role)
    .join(
        Workload,
        and_(SharedRole.resource_type == WORKLOAD, SharedRole.resource_id == Workload.id),
    )
    .union_all(
        select(SharedRole.resource_id, SharedRole.user_id, SharedRole.role).join(
            Deployment,
            and_(
                SharedRole.resource_type == DEPLOYMENT,
                SharedRole.resource_id == Deployment.id,
                Deployment.deleted_at.is_(None),
            ),
        )
    )
)


_ADMIN_ROWS = select(User.id).where(User.is_admin.is_(True)).order_by(User.id)


def read_rows(db: Database) -> Raw:
    """What the table is built from, in one short transaction (runs in a worker thread).

    Plain rows from the core layer: most refreshes find them as they were, and comparing them
    costs far less than building the table again."""
    with db.unit_of_work(write=False) as session:
        connection = session.connection()
        return (
            list(connection.execute(_WORKLOAD_ROWS).all()),
            list(connection.execute(_DEPLOYMENT_ROWS).all()),
            list(connection.execute(_GRANT_ROWS).all()),
            list(connection.execute(_ADMIN_ROWS).all()),
        )


def gauges(db: Database) -> tuple[dict[str, int], dict[object, int]]:
    with db.unit_of_work(write=False) as session:
        workloads = dict(
            session.execute(select(Workload.status, func.count()).group_by(Workload.status)).all()
        )
        active = (
            select(Replica.ready, func.count(), func.coalesce(func.sum(Replica.restart_count), 0))
            .join(Proton, Proton.id == Replica.proton_id)
            .where(Proton.role == "active")
            .group_by(Replica.ready)
        )
        replicas: dict[object, int] = {"restarts": 0}
        for ready, amount, restarts in session.execute(active):
            replicas[bool(ready)] = amount
            replicas["restarts"] += int(restarts)
    return workloads, replicas

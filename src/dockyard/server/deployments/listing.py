"""GET /console/deployments: visibility, filters, order and one page."""

from __future__ import annotations

from sqlalchemy import ColumnElement, or_
from sqlalchemy.orm import InstrumentedAttribute, Session

from dockyard.core.deployments import Deployment as DeploymentOut
from dockyard.server.artifacts.listing import in_values, order_clause
from dockyard.server.deployments import repository
from dockyard.server.deployments.models import Deployment
from dockyard.server.deployments.public import DEPLOYMENT, publish
from dockyard.server.deployments.schemas import DeploymentFilters
from dockyard.server.kit.auth import Principal
from dockyard.server.kit.pagination import PageParams
from dockyard.server.kit.text_search import contains_any
from dockyard.server.sharing import service as sharing
from dockyard.server.tags import service as tags
from dockyard.server.workloads import repository as workload_rows
from dockyard.server.workloads.models import Workload
from dockyard.server.workloads.public import WORKLOAD

_ORDER: dict[str, InstrumentedAttribute] = {
    "name": Deployment.name,
    "createdAt": Deployment.created_at,
    "updatedAt": Deployment.updated_at,
}
# Deployment status → the workload statuses it is derived from.
_BY_STATUS = {
    "active": ["running"],
    "inactive": ["stopping", "stopped", "terminated"],
    "errored": ["errored"],
}


def list_deployments(
    session: Session,
    principal: Principal,
    filters: DeploymentFilters,
    paging: PageParams,
    base_url: str,
) -> tuple[list[DeploymentOut], int]:
    rows, total = repository.list_deployments(
        session,
        _conditions(principal, filters),
        order_clause(filters.order_by, _ORDER, Deployment.id),
        offset=paging.offset,
        limit=paging.limit,
    )
    return publish(session, principal, rows, base_url), total


def _conditions(principal: Principal, filters: DeploymentFilters) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = []
    visible = sharing.visibility(
        principal,
        [(DEPLOYMENT, Deployment.id)],
        owner_anchors=[
            (WORKLOAD, Deployment.workload_id),
            (WORKLOAD, Deployment.pending_workload_id),
        ],
    )
    if visible is not None:
        conditions.append(visible)
    if filters.created_by:
        conditions.append(in_values(Deployment.creator_id, filters.created_by))
    if filters.workload_id:
        conditions.append(Deployment.workload_id == filters.workload_id)
    if filters.search:
        columns = [Deployment.name, Deployment.description, Deployment.id]
        conditions.append(contains_any(columns, filters.search))
    conditions += tags.tag_conditions(
        DEPLOYMENT, Deployment.id, keys=filters.tag_keys, values=filters.tag_values
    )
    if filters.statuses:
        known = [s for f in filters.statuses for s in _BY_STATUS.get(f, [])]
        settled = [s for values in _BY_STATUS.values() for s in values]
        wanted: ColumnElement[bool] = Workload.status.in_(known)
        if "launching" in filters.statuses:
            wanted = or_(wanted, Workload.status.not_in(settled))
        conditions.append(Deployment.workload_id.in_(workload_rows.ids_where(wanted)))
    return conditions

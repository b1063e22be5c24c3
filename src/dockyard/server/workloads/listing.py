"""GET /workloads: visibility, filters, order, one page and the total of the same query."""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, SQLColumnExpression, case
from sqlalchemy.orm import Session

from dockyard.core.workloads import Workload as WorkloadOut
from dockyard.server.artifacts import repository as artifact_rows
from dockyard.server.artifacts.listing import in_values, order_clause
from dockyard.server.kit.auth import Principal
from dockyard.server.kit.pagination import PageParams
from dockyard.server.kit.text_search import contains_any
from dockyard.server.sharing import service as sharing
from dockyard.server.statistics.summary import request_stats_for
from dockyard.server.tags import service as tags
from dockyard.server.workloads import repository
from dockyard.server.workloads.models import Workload
from dockyard.server.workloads.public import WORKLOAD, publish
from dockyard.server.workloads.schemas import WorkloadFilters
from dockyard.server.workloads.statuses import NEVER_SET

_ORDER_COLUMNS: dict[str, SQLColumnExpression[Any]] = {
    "name": Workload.name,
    "createdAt": Workload.created_at,
    "updatedAt": Workload.updated_at,
    "status": Workload.status,
    # By rank, not alphabet: -importance lists critical first.
    "importance": case(
        {"low": 0, "moderate": 1, "high": 2, "critical": 3}, value=Workload.importance, else_=0
    ),
}


def list_workloads(
    session: Session,
    principal: Principal,
    filters: WorkloadFilters,
    paging: PageParams,
    base_url: str,
) -> tuple[list[WorkloadOut], int]:
    rows, total = repository.list_workloads(
        session,
        conditions(principal, filters),
        order_clause(filters.order_by, _ORDER_COLUMNS, Workload.id),
        offset=paging.offset,
        limit=paging.limit,
    )
    published = publish(session, principal, rows, base_url)
    if filters.service_stats:
        summaries = request_stats_for(session, [row.id for row in published])
        for workload in published:
            workload.request_stats = summaries[workload.id]
    return published, total


def conditions(principal: Principal, filters: WorkloadFilters) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = []
    visible = sharing.visibility(principal, [(WORKLOAD, Workload.id)])
    if visible is not None:
        conditions.append(visible)
    if filters.created_by:
        conditions.append(in_values(Workload.creator_id, filters.created_by))
    if filters.ids:
        conditions.append(in_values(Workload.id, filters.ids))
    if filters.search:
        # Workloads number in the hundreds, not the hundred thousands: a scan is fine.
        columns = [Workload.name, Workload.description, Workload.id]
        conditions.append(contains_any(columns, filters.search))
    conditions += tags.tag_conditions(
        WORKLOAD, Workload.id, keys=filters.tag_keys, values=filters.tag_values
    )
    if filters.statuses:
        conditions.append(Workload.status.in_([s for s in filters.statuses if s not in NEVER_SET]))
    if filters.importance:
        conditions.append(Workload.importance.in_(filters.importance))
    if filters.artifact_id:
        conditions.append(Workload.artifact_id == filters.artifact_id)
    if filters.artifact_statuses or filters.repository_id:
        artifact_ids = artifact_rows.ids_where(
            statuses=filters.artifact_statuses, repository_id=filters.repository_id
        )
        conditions.append(Workload.artifact_id.in_(artifact_ids))
    return conditions

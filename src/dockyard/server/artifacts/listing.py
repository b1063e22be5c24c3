"""GET /artifacts: visibility, filters, order, one page, and the total over the same query."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, ClassVar, Protocol

from sqlalchemy import ColumnElement, SQLColumnExpression, false
from sqlalchemy.orm import QueryableAttribute, Session
from sqlalchemy.sql import FromClause

from dockyard.core.artifacts import Artifact as ArtifactOut
from dockyard.server.artifacts import repository
from dockyard.server.artifacts.models import Artifact
from dockyard.server.artifacts.public import ARTIFACT, REPOSITORY, publish
from dockyard.server.artifacts.repository import search_condition
from dockyard.server.artifacts.schemas import ListFilters
from dockyard.server.kit.auth import Principal
from dockyard.server.sharing import service as sharing
from dockyard.server.tags import service as tags

_ORDER_COLUMNS: dict[str, SQLColumnExpression[Any]] = {
    "name": Artifact.name,
    "createdAt": Artifact.created_at,
    "updatedAt": Artifact.updated_at,
    "status": Artifact.status,
}


def list_artifacts(
    session: Session, principal: Principal, filters: ListFilters, *, offset: int, limit: int
) -> tuple[list[ArtifactOut], int]:
    conditions = artifact_conditions(session, principal, filters)
    rows, total = repository.list_artifacts(
        session,
        conditions,
        order_clause(filters.order_by, _ORDER_COLUMNS, Artifact.id),
        offset=offset,
        limit=limit,
    )
    return publish(session, principal, rows), total


def artifact_conditions(
    session: Session, principal: Principal, filters: ListFilters
) -> list[ColumnElement[bool]]:
    # Sharing a repository shares the artifacts in it.
    anchors = [(ARTIFACT, Artifact.id), (REPOSITORY, Artifact.repository_id)]
    conditions = common_conditions(
        session,
        principal,
        filters,
        Artifact,
        anchors,
        resource_type=ARTIFACT,
        fts_table="artifacts_search",
    )
    if filters.statuses:
        conditions.append(Artifact.status.in_(filters.statuses))
    if filters.repository_ids:
        conditions.append(in_values(Artifact.repository_id, filters.repository_ids))
    return conditions


class Listed(Protocol):
    """The columns `common_conditions` filters on (artifacts and repositories have them)."""

    __table__: ClassVar[FromClause]
    id: ClassVar[QueryableAttribute[str]]
    creator_id: ClassVar[QueryableAttribute[str | None]]
    type: ClassVar[QueryableAttribute[str]]


def common_conditions(
    session: Session,
    principal: Principal,
    filters: ListFilters,
    model: type[Listed],
    anchors: Sequence[tuple[str, SQLColumnExpression[str | None]]],
    *,
    resource_type: str,
    fts_table: str,
) -> list[ColumnElement[bool]]:
    """The filters artifacts and repositories share, for a model with the usual columns."""
    conditions: list[ColumnElement[bool]] = []
    narrowed = bool(filters.search or filters.ids or filters.tag_keys or filters.tag_values)
    visible = sharing.visibility(principal, anchors, narrowed=narrowed)
    if visible is not None:
        conditions.append(visible)
    if filters.created_by:
        conditions.append(in_values(model.creator_id, filters.created_by))
    if filters.ids:
        conditions.append(in_values(model.id, filters.ids))
    if filters.search:
        if "\x00" in filters.search:
            conditions.append(false())  # no stored text holds a NUL; PostgreSQL rejects one
        else:
            table = model.__table__
            conditions.append(search_condition(session, table, filters.search, fts_table=fts_table))
    conditions += tags.tag_conditions(
        resource_type, model.id, keys=filters.tag_keys, values=filters.tag_values
    )
    if filters.types:
        conditions.append(model.type.in_(filters.types))
    return conditions


def in_values(column: SQLColumnExpression[str | None], values: list[str]) -> ColumnElement[bool]:
    """`column IN values`, skipping values no row can hold (ids are 24 hex characters)."""
    usable = _text(values)
    return column.in_(usable) if usable else false()


def _text(values: list[str]) -> list[str]:
    return [value for value in values if "\x00" not in value]


def order_clause(
    order_by: str,
    columns: Mapping[str, SQLColumnExpression[Any]],
    id_column: SQLColumnExpression[str],
) -> list[ColumnElement[Any]]:
    """`-createdAt` → created_at DESC, id DESC: the id breaks ties so pages never overlap."""
    descending = order_by.startswith("-")
    column = columns[order_by.removeprefix("-")]
    if descending:
        return [column.desc(), id_column.desc()]
    return [column.asc(), id_column.asc()]

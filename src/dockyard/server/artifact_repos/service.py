"""Artifact repository rules: read, rename, tag, delete (only when nothing locked is inside)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import SQLColumnExpression
from sqlalchemy.orm import Session

from dockyard.core.artifacts import ArtifactRepository as RepositoryOut
from dockyard.core.errors import Conflict
from dockyard.server.artifact_repos import repository
from dockyard.server.artifact_repos.schemas import RepositoryUpdate
from dockyard.server.artifacts import usage as artifacts
from dockyard.server.artifacts.listing import common_conditions, order_clause
from dockyard.server.artifacts.models import ArtifactRepository
from dockyard.server.artifacts.public import REPOSITORY, creators
from dockyard.server.artifacts.schemas import ListFilters
from dockyard.server.kit.auth import Principal
from dockyard.server.kit.clock import isoformat, utcnow
from dockyard.server.kit.repository import get_by_id, load_or_404
from dockyard.server.sharing import service as sharing
from dockyard.server.sharing.roles import Right
from dockyard.server.sharing.service import Target
from dockyard.server.tags import service as tags

_ORDER_COLUMNS: dict[str, SQLColumnExpression[Any]] = {
    "name": ArtifactRepository.name,
    "createdAt": ArtifactRepository.created_at,
    "updatedAt": ArtifactRepository.updated_at,
}


def target_of(repository_id: str) -> Target:
    return Target(REPOSITORY, repository_id, REPOSITORY)


def load(session: Session, repository_id: str, *, for_update: bool = False) -> ArtifactRepository:
    return load_or_404(
        session, ArtifactRepository, REPOSITORY, repository_id, for_update=for_update
    )


def resolve_target(session: Session, repository_id: str) -> Target:
    """For the sharedRoles routes."""
    return target_of(load(session, repository_id).id)


def _require(
    session: Session, principal: Principal, repository_id: str, right: Right
) -> ArtifactRepository:
    row = load(session, repository_id)
    sharing.require(session, principal, target_of(row.id), right)
    return row


def get_repository(session: Session, principal: Principal, repository_id: str) -> RepositoryOut:
    return _publish(session, principal, [_require(session, principal, repository_id, Right.VIEW)])[
        0
    ]


def list_repositories(
    session: Session, principal: Principal, filters: ListFilters, *, offset: int, limit: int
) -> tuple[list[RepositoryOut], int]:
    conditions = common_conditions(
        session,
        principal,
        filters,
        ArtifactRepository,
        [(REPOSITORY, ArtifactRepository.id)],
        resource_type=REPOSITORY,
        fts_table="artifact_repositories_search",
    )
    order = order_clause(filters.order_by, _ORDER_COLUMNS, ArtifactRepository.id)
    rows, total = repository.list_repositories(
        session, conditions, order, offset=offset, limit=limit
    )
    return _publish(session, principal, rows), total


def update_repository(
    session: Session, principal: Principal, repository_id: str, body: RepositoryUpdate
) -> RepositoryOut:
    row = _require(session, principal, repository_id, Right.UPDATE)
    if body.name is not None:
        row.name = body.name
    if "description" in body.model_fields_set:
        row.description = body.description or ""
    if body.tags is not None:
        tags.set_tags(session, REPOSITORY, row.id, body.tags)
    row.updated_at = utcnow()
    session.flush()
    return _publish(session, principal, [row])[0]


def delete_repository(session: Session, principal: Principal, repository_id: str) -> None:
    """Delete the repository and its drafts; 409 while it holds a locked or used artifact."""
    row = _require(session, principal, repository_id, Right.OWN)
    # Row locks in the order a lock takes them (artifact, then repository), then a fresh look,
    # so an artifact locked or added meanwhile is seen.
    artifacts.hold_artifacts(session, row.id)
    get_by_id(session, ArtifactRepository, row.id, for_update=True)
    blockers = artifacts.locked_and_used(session, row.id)
    if blockers:
        shown, hidden = artifacts.shown(session, principal, blockers)
        raise Conflict(
            f"The repository '{row.name}' holds locked or running artifacts"
            f"{sharing.hidden_note(hidden)}; it cannot be deleted.",
            code="repository_not_empty",
            blockers=shown,
        )
    artifacts.purge(session, artifacts.drafts_of(session, row.id))
    sharing.forget_object(session, REPOSITORY, [row.id])
    tags.forget_tags(session, REPOSITORY, [row.id])
    repository.delete_repository(session, row)


def _publish(
    session: Session, principal: Principal, rows: list[ArtifactRepository]
) -> list[RepositoryOut]:
    ids = [row.id for row in rows]
    counts = repository.artifact_counts(session, ids)
    tag_map = tags.tags_for(session, REPOSITORY, ids)
    levels = sharing.levels_of(session, principal, [target_of(row_id) for row_id in ids])
    people = creators(session, {row.creator_id for row in rows})
    return [
        RepositoryOut(
            id=row.id,
            name=row.name,
            description=row.description or "",
            type=row.type,
            last_version_number=row.last_version_number,
            num_artifacts=counts.get(row.id, 0),
            tags=tag_map.get(row.id, []),
            permissions=sharing.permissions(levels.get(row.id)),
            creator=people.get(row.creator_id) if row.creator_id else None,
            created_at=isoformat(row.created_at) or "",
            updated_at=isoformat(row.updated_at) or "",
        )
        for row in rows
    ]

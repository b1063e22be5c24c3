"""SQL for artifact repositories: rows, lists and artifact counts."""

from __future__ import annotations

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.orm import Session

from dockyard.server.artifacts.models import Artifact, ArtifactRepository

REPOSITORIES = ArtifactRepository.__table__


def add_repository(session: Session, repository: ArtifactRepository) -> ArtifactRepository:
    session.add(repository)
    session.flush()
    return repository


def list_repositories(
    session: Session,
    conditions: list[ColumnElement[bool]],
    order_by: list[ColumnElement],
    *,
    offset: int,
    limit: int,
) -> tuple[list[ArtifactRepository], int]:
    total = session.scalar(select(func.count()).select_from(ArtifactRepository).where(*conditions))
    rows = session.scalars(
        select(ArtifactRepository)
        .where(*conditions)
        .order_by(*order_by)
        .offset(offset)
        .limit(limit)
    )
    return list(rows), int(total or 0)


def artifact_counts(session: Session, repository_ids: list[str]) -> dict[str, int]:
    """Artifacts per repository, for one page of repositories, in one grouped query."""
    if not repository_ids:
        return {}
    rows = session.execute(
        select(Artifact.repository_id, func.count())
        .where(Artifact.repository_id.in_(repository_ids))
        .group_by(Artifact.repository_id)
    )
    return {repository_id: int(count) for repository_id, count in rows}


def delete_repository(session: Session, repository: ArtifactRepository) -> None:
    session.delete(repository)
    session.flush()

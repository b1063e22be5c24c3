"""SQL for artifact repositories: rows, the version counter, lists and artifact counts."""

from __future__ import annotations

from sqlalchemy import ColumnElement, func, select, update
from sqlalchemy.orm import Session

from dockyard.server.artifact_repos.models import ArtifactRepository
from dockyard.server.artifacts.models import Artifact
from dockyard.server.db.rows import insert_new

REPOSITORIES = ArtifactRepository.__table__


def get_repository(
    session: Session, repository_id: str, *, for_update: bool = False
) -> ArtifactRepository | None:
    query = select(ArtifactRepository).where(ArtifactRepository.id == repository_id)
    if for_update:
        # PostgreSQL holds the row until commit; SQLite writers are already serialized.
        query = query.with_for_update()
    return session.scalar(query)


def add_repository(session: Session, repository: ArtifactRepository) -> ArtifactRepository:
    session.add(repository)
    session.flush()
    return repository


def insert_new_repository(session: Session, repository: ArtifactRepository) -> ArtifactRepository:
    """A new repository written at once with one INSERT (the create's hot path, no flush);
    the object is the record of what was written, not added to the session."""
    insert_new(session, [repository])
    return repository


def next_version(session: Session, repository_id: str) -> int:
    """Hand out the repository's next version number, atomically.

    One UPDATE … RETURNING: on PostgreSQL concurrent lockers queue on the row and each reads
    the value the previous one committed; on SQLite write transactions are serialized. A
    rolled-back lock rolls its increment back too, so versions stay gap-free.
    """
    version = session.execute(
        update(ArtifactRepository)
        .where(ArtifactRepository.id == repository_id)
        .values(last_version_number=ArtifactRepository.last_version_number + 1)
        .returning(ArtifactRepository.last_version_number)
        .execution_options(synchronize_session=False)
    ).scalar_one()
    return int(version)


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

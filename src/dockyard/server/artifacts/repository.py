"""SQL for artifacts: rows, the repository's artifacts, lists."""

from __future__ import annotations

from sqlalchemy import ColumnElement, FromClause, Select, func, literal, or_, select, text, update
from sqlalchemy.orm import Session

from dockyard.server.artifacts.models import Artifact, ArtifactRepository
from dockyard.server.db.rows import insert_new

ARTIFACTS = Artifact.__table__


def add_artifact(session: Session, artifact: Artifact) -> Artifact:
    session.add(artifact)
    session.flush()
    return artifact


def insert_new_artifact(session: Session, artifact: Artifact) -> Artifact:
    """A new artifact written at once with one INSERT (the create's hot path, no flush);
    the object is the record of what was written, not added to the session."""
    insert_new(session, [artifact])
    return artifact


def artifacts_in(
    session: Session, repository_id: str, *, for_update: bool = False
) -> list[Artifact]:
    query = (
        select(Artifact)
        .where(Artifact.repository_id == repository_id)
        .order_by(Artifact.created_at, Artifact.id)
    )
    if for_update:
        query = query.with_for_update()
    return list(session.scalars(query))


def list_artifacts(
    session: Session,
    conditions: list[ColumnElement[bool]],
    order_by: list[ColumnElement],
    *,
    offset: int,
    limit: int,
) -> tuple[list[Artifact], int]:
    """One page and the total over the same filtered query."""
    total = session.scalar(select(func.count()).select_from(Artifact).where(*conditions))
    rows = session.scalars(
        select(Artifact).where(*conditions).order_by(*order_by).offset(offset).limit(limit)
    )
    return list(rows), int(total or 0)


def delete_artifacts(session: Session, artifacts: list[Artifact]) -> None:
    for artifact in artifacts:
        session.delete(artifact)
    session.flush()


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


def artifacts_by_id(session: Session, artifact_ids: set[str]) -> dict[str, Artifact]:
    if not artifact_ids:
        return {}
    return {a.id: a for a in session.scalars(select(Artifact).where(Artifact.id.in_(artifact_ids)))}


def ids_where(*, statuses: list[str] | None, repository_id: str | None) -> Select[str]:
    """The ids of the artifacts with these statuses in this repository, as a subquery."""
    query = select(Artifact.id)
    if statuses:
        query = query.where(Artifact.status.in_(statuses))
    if repository_id:
        query = query.where(Artifact.repository_id == repository_id)
    return query


# `search`: a case-insensitive substring match over name, description and id, backed by
# trigram indexes (migration 0002): an FTS5 table with the trigram tokenizer on SQLite, pg_trgm
# GIN indexes on PostgreSQL. A trigram index cannot answer a term shorter than 3 characters;
# those fall back to a plain scan.
MIN_INDEXED = 3


def search_condition(
    session: Session, table: FromClause, term: str, *, fts_table: str
) -> ColumnElement[bool]:
    """A WHERE condition matching rows of `table` whose name, description or id contain `term`."""
    if session.get_bind().dialect.name == "sqlite" and len(term) >= MIN_INDEXED:
        # A quoted phrase of trigrams: the FTS5 trigram tokenizer turns it into a substring match.
        phrase = '"' + term.replace('"', '""') + '"'
        matches = (
            select(text("id"))
            .select_from(text(fts_table))
            .where(text(f"{fts_table} MATCH :phrase").bindparams(phrase=phrase))
        )
        return table.c.id.in_(matches)
    # The pattern is rendered into the SQL text (safely quoted), not bound: once PostgreSQL
    # caches a generic plan for `name ILIKE $1`, it no longer sees that a pattern is selective
    # and stops using the trigram indexes.
    pattern = literal("%" + _escape_like(term) + "%", literal_execute=True)
    columns = (table.c.name, table.c.description, table.c.id)
    return or_(*(column.ilike(pattern, escape="\\") for column in columns))


def _escape_like(term: str) -> str:
    return term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")

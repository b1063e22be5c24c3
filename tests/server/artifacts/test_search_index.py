"""The list queries use their indexes: trigram search and the created_at order."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy import Select, select, text
from sqlalchemy.orm import Session

from dockyard.server.artifacts.listing import artifact_conditions, order_clause
from dockyard.server.artifacts.models import Artifact
from dockyard.server.artifacts.schemas import ListFilters
from dockyard.server.kit.auth import Principal

ADMIN = Principal(user_id="0" * 24, username="admin", is_admin=True)


def plan(session: Session, query: Select) -> str:
    dialect = session.get_bind().dialect
    sql = str(query.compile(dialect=dialect, compile_kwargs={"literal_binds": True}))
    if dialect.name == "sqlite":
        rows = session.execute(text(f"EXPLAIN QUERY PLAN {sql}")).all()
        return "\n".join(str(row[-1]) for row in rows)
    # Tiny test tables make a sequential scan cheapest; forbid it to see what indexes exist.
    session.execute(text("SET LOCAL enable_seqscan = off"))
    return "\n".join(row[0] for row in session.execute(text(f"EXPLAIN {sql}")))


def test_search_uses_the_trigram_index(client: TestClient) -> None:
    with client.app.state.db.unit_of_work(write=False) as session:
        conditions = artifact_conditions(session, ADMIN, ListFilters(search="Front"))
        found = plan(session, select(Artifact.id).where(*conditions))
        if session.get_bind().dialect.name == "sqlite":
            assert "VIRTUAL TABLE INDEX" in found
        else:
            assert "ix_artifacts_name_trgm" in found
            assert "ix_artifacts_description_trgm" in found


def test_the_default_list_reads_the_created_at_index(client: TestClient) -> None:
    with client.app.state.db.unit_of_work(write=False) as session:
        order = order_clause("-createdAt", {"createdAt": Artifact.created_at}, Artifact.id)
        found = plan(session, select(Artifact.id).order_by(*order).limit(100))
        assert "ix_artifacts_created_at" in found


def test_repository_search_has_its_index(client: TestClient) -> None:
    with client.app.state.db.unit_of_work(write=False) as session:
        if session.get_bind().dialect.name == "sqlite":
            names = (
                session.execute(
                    text(
                        "SELECT name FROM sqlite_master "
                        "WHERE name LIKE 'artifact_repositories_search%'"
                    )
                )
                .scalars()
                .all()
            )
            assert "artifact_repositories_search" in names
            assert "artifact_repositories_search_update" in names
        else:
            names = (
                session.execute(
                    text(
                        "SELECT indexname FROM pg_indexes WHERE tablename = 'artifact_repositories'"
                    )
                )
                .scalars()
                .all()
            )
            assert {
                "ix_artifact_repositories_name_trgm",
                "ix_artifact_repositories_id_trgm",
            } <= set(names)

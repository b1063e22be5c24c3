"""What keeps artifacts from being deleted, and deleting them with their grants and tags."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from dockyard.server.artifacts import repository
from dockyard.server.artifacts.models import Artifact
from dockyard.server.artifacts.public import ARTIFACT
from dockyard.server.kit.auth import Principal
from dockyard.server.sharing import service as sharing
from dockyard.server.tags import service as tags
from dockyard.server.workloads.public import WORKLOAD, workload_target


def usage(session: Session, artifact_ids: list[str]) -> dict[str, list[dict[str, Any]]]:
    """Per artifact, the workloads that are not terminated and run it (as blockers).

    Deployments point at workloads, so a deployment's artifact is in use through its workload.
    Terminated workloads do not count: they keep their history and lose the reference.
    """
    found: dict[str, list[dict[str, Any]]] = {}
    for artifact_id, workload_id, name in repository.workloads_using(session, artifact_ids):
        found.setdefault(artifact_id, []).append(
            {"type": WORKLOAD, "id": workload_id, "name": name}
        )
    return found


def shown(
    session: Session, principal: Principal, blockers: list[dict[str, Any]]
) -> tuple[list[dict[str, Any]], int]:
    """The blockers the caller may see (others' workloads may run a shared artifact), and
    how many are left out. Artifacts named here are in the caller's own repository."""
    running = [b for b in blockers if b["type"] == WORKLOAD]
    visible, hidden = sharing.visible_blockers(
        session, principal, [(workload_target(b["id"]), b["name"]) for b in running]
    )
    keep = {b["id"] for b in visible}
    return [b for b in blockers if b["type"] != WORKLOAD or b["id"] in keep], hidden


def purge(session: Session, rows: list[Artifact]) -> None:
    """Delete artifacts with their grants and tags."""
    ids = [row.id for row in rows]
    sharing.forget_object(session, ARTIFACT, ids)
    tags.forget_tags(session, ARTIFACT, ids)
    repository.delete_artifacts(session, rows)


def hold_artifacts(session: Session, repository_id: str) -> None:
    """Lock the repository's artifact rows until commit (PostgreSQL; SQLite writes are serial)."""
    repository.artifacts_in(session, repository_id, for_update=True)


def locked_and_used(session: Session, repository_id: str) -> list[dict[str, Any]]:
    """What keeps a repository from being deleted: its locked artifacts and those in use."""
    rows = repository.artifacts_in(session, repository_id)
    used = usage(session, [row.id for row in rows])
    blockers: list[dict[str, Any]] = []
    for row in rows:
        if row.status == "locked" or used.get(row.id):
            blockers.append({"type": ARTIFACT, "id": row.id, "name": row.name})
        for blocker in used.get(row.id, []):
            blockers.append(blocker)
    return blockers


def drafts_of(session: Session, repository_id: str) -> list[Artifact]:
    return [
        row for row in repository.artifacts_in(session, repository_id) if row.status != "locked"
    ]

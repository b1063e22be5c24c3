"""What keeps artifacts from being deleted, and deleting them with their grants and tags.

What runs an artifact is known a layer up, in the workloads package: artifacts ask it through
`USERS` (the pattern of `dockyard.server.kit.answers`), and learn nothing else about it.
"""

from __future__ import annotations

from typing import Any, Protocol

from sqlalchemy.orm import Session

from dockyard.server.artifacts import repository
from dockyard.server.artifacts.models import Artifact
from dockyard.server.artifacts.public import ARTIFACT, artifact_target
from dockyard.server.kit.answers import Answer
from dockyard.server.kit.auth import Principal
from dockyard.server.sharing import service as sharing
from dockyard.server.sharing.service import Blocker
from dockyard.server.tags import service as tags


class Users(Protocol):
    """What artifacts ask of the package that runs them."""

    def using(self, session: Session, artifact_ids: list[str]) -> dict[str, list[Blocker]]:
        """Per artifact (those in use only), what runs it now and so keeps it from being
        deleted, in the order a 409 names them; one query, whatever the number of ids."""
        ...

    def locked(self, session: Session, artifact_id: str) -> None:
        """The artifact was just locked into a version, for good: what runs it may stop
        treating it as a draft."""
        ...


USERS: Answer[Users] = Answer("what runs an artifact")


def usage(session: Session, artifact_ids: list[str]) -> dict[str, list[Blocker]]:
    """Per artifact, what runs it (as blockers)."""
    return USERS.get().using(session, artifact_ids)


def locked(session: Session, artifact_id: str) -> None:
    """Tell what runs the artifact that it is locked now."""
    USERS.get().locked(session, artifact_id)


def shown(
    session: Session, principal: Principal, blockers: list[Blocker]
) -> tuple[list[dict[str, Any]], int]:
    """The blockers the caller may see (others' workloads may run a shared artifact), as a
    409 names them, and how many are left out. Artifacts named here are in the caller's own
    repository."""
    users = [(target, name) for target, name in blockers if target.kind != ARTIFACT]
    visible, hidden = sharing.visible_blockers(session, principal, users)
    keep = {b["id"] for b in visible}
    return [
        sharing.blocker_body((target, name))
        for target, name in blockers
        if target.kind == ARTIFACT or target.resource_id in keep
    ], hidden


def purge(session: Session, rows: list[Artifact]) -> None:
    """Delete artifacts with their grants and tags."""
    ids = [row.id for row in rows]
    sharing.forget_object(session, ARTIFACT, ids)
    tags.forget_tags(session, ARTIFACT, ids)
    repository.delete_artifacts(session, rows)


def hold_artifacts(session: Session, repository_id: str) -> None:
    """Lock the repository's artifact rows until commit (PostgreSQL; SQLite writes are serial)."""
    repository.artifacts_in(session, repository_id, for_update=True)


def locked_and_used(session: Session, repository_id: str) -> list[Blocker]:
    """What keeps a repository from being deleted: its locked artifacts and those in use,
    each followed by what runs it."""
    rows = repository.artifacts_in(session, repository_id)
    used = usage(session, [row.id for row in rows])
    blockers: list[Blocker] = []
    for row in rows:
        if row.status == "locked" or used.get(row.id):
            blockers.append((artifact_target(row), row.name))
        blockers.extend(used.get(row.id, []))
    return blockers


def drafts_of(session: Session, repository_id: str) -> list[Artifact]:
    return [
        row for row in repository.artifacts_in(session, repository_id) if row.status != "locked"
    ]

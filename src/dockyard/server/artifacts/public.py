"""Rows → public models, a page at a time: tags, rights and creators in one query each."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import ValidationError
from sqlalchemy.orm import Session

from dockyard.core.artifacts import Artifact as ArtifactOut
from dockyard.core.models import TagInfo, UserData
from dockyard.core.spec import ServiceArtifactSpec
from dockyard.server.artifacts.models import Artifact
from dockyard.server.kit.auth import Principal
from dockyard.server.kit.clock import isoformat
from dockyard.server.sharing import service as sharing
from dockyard.server.sharing.roles import Right
from dockyard.server.sharing.service import Target
from dockyard.server.tags import service as tags
from dockyard.server.users import repository as users

ARTIFACT = "artifact"  # resource type of grants and tags, and the prefix of its error codes
REPOSITORY = "repository"


def artifact_target(row: Artifact) -> Target:
    """Grants on the artifact's repository apply to the artifact too."""
    return Target(ARTIFACT, row.id, ARTIFACT, parents=((REPOSITORY, row.repository_id),))


def creators(session: Session, user_ids: set[str | None]) -> dict[str, UserData]:
    found = users.profiles_by_ids(session, {user_id for user_id in user_ids if user_id})
    return {
        user.id: UserData(
            id=user.id, username=user.username, email=user.email, full_name=user.full_name
        )
        for user in found.values()
    }


def stored_spec(data: dict[str, Any]) -> ServiceArtifactSpec:
    """The stored spec as a model; one written under older rules is still shown, not a 500."""
    try:
        return ServiceArtifactSpec.model_validate(data)
    except ValidationError:
        return ServiceArtifactSpec.model_construct(**data)


def publish(
    session: Session,
    principal: Principal,
    rows: list[Artifact],
    *,
    levels: Mapping[str, Right | None] | None = None,
) -> list[ArtifactOut]:
    """`levels`: the caller's level per artifact id when already known (else one query)."""
    ids = [row.id for row in rows]
    tag_map = tags.tags_for(session, ARTIFACT, ids)
    if levels is None:
        levels = sharing.levels_of(session, principal, [artifact_target(row) for row in rows])
    people = creators(session, {row.creator_id for row in rows})
    return [
        _public(
            row,
            tags=tag_map.get(row.id, []),
            level=levels.get(row.id),
            creator=people.get(row.creator_id) if row.creator_id else None,
        )
        for row in rows
    ]


def publish_one(
    session: Session, principal: Principal, row: Artifact, *, level: Right | None = None
) -> ArtifactOut:
    """`level`: the caller's level on it, when a check just computed it."""
    known = {row.id: level} if level is not None else None
    return publish(session, principal, [row], levels=known)[0]


def publish_created(
    session: Session, principal: Principal, row: Artifact, tag_list: list[TagInfo]
) -> ArtifactOut:
    """A row the caller created in this request, shown without reading back what the
    request just wrote: its tags are the ones it added, the caller holds an owner grant on
    it (OWN), and the caller is its creator."""
    return _public(row, tags=tag_list, level=Right.OWN, creator=_caller(session, principal))


def _caller(session: Session, principal: Principal) -> UserData | None:
    profile = principal.profile
    if profile is None:
        return creators(session, {principal.user_id}).get(principal.user_id)
    return UserData(
        id=principal.user_id,
        username=principal.username,
        email=profile.email,
        full_name=profile.full_name,
    )


def _public(
    row: Artifact, *, tags: list[TagInfo], level: Right | None, creator: UserData | None
) -> ArtifactOut:
    return ArtifactOut(
        id=row.id,
        name=row.name,
        description=row.description or "",
        type=row.type,
        status="locked" if row.status == "locked" else "draft",
        version=row.version,
        artifact_repository_id=row.repository_id,
        spec=stored_spec(row.spec),
        tags=tags,
        permissions=sharing.permissions(level),
        creator=creator,
        created_at=isoformat(row.created_at) or "",
        updated_at=isoformat(row.updated_at) or "",
    )

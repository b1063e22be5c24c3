"""Who may do what: effective roles, access checks and grant changes."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import ColumnElement, SQLColumnExpression
from sqlalchemy.orm import Session

from dockyard.core.errors import Conflict, Forbidden, NotFound, RuleViolation
from dockyard.core.models import SharedRole as SharedRoleOut
from dockyard.server.kit.auth import Principal
from dockyard.server.kit.ids import is_valid_id
from dockyard.server.kit.repository import find
from dockyard.server.sharing import repository
from dockyard.server.sharing.roles import (
    NO_ROLE,
    UNSUPPORTED_ROLES,
    Right,
    Role,
    best_level,
    permissions_for,
)
from dockyard.server.sharing.schemas import SharedRolesUpdate
from dockyard.server.users import repository as users
from dockyard.server.users.models import User


@dataclass(frozen=True)
class Target:
    """An object grants can be held on, with the parents whose grants also apply to it."""

    resource_type: str
    resource_id: str
    kind: str  # error-code prefix: artifact, repository, workload, …
    parents: tuple[tuple[str, str], ...] = field(default=())
    # Objects whose owners (and no other grantee) own this one too: a workload's owners own
    # the deployments in front of it, whoever created those.
    owner_parents: tuple[tuple[str, str], ...] = field(default=())

    @property
    def anchors(self) -> list[tuple[str, str]]:
        return [(self.resource_type, self.resource_id), *self.parents]

    @property
    def all_anchors(self) -> list[tuple[str, str]]:
        return [*self.anchors, *self.owner_parents]

    def level_from(self, roles: dict[tuple[str, str], list[str]]) -> Right | None:
        """The best level the roles held on this object's anchors give."""
        held = [role for anchor in self.anchors for role in roles.get(anchor, [])]
        held += [
            role
            for anchor in self.owner_parents
            for role in roles.get(anchor, [])
            if role == Role.OWNER
        ]
        return best_level(held)


def level_of(session: Session, principal: Principal, target: Target) -> Right | None:
    if principal.is_admin:
        return Right.OWN
    return target.level_from(repository.roles_on(session, principal.user_id, target.all_anchors))


def levels_of(
    session: Session, principal: Principal, targets: list[Target]
) -> dict[str, Right | None]:
    """Effective level per target id, in one query (for list pages)."""
    if principal.is_admin:
        return {target.resource_id: Right.OWN for target in targets}
    anchors = [anchor for target in targets for anchor in target.all_anchors]
    roles = repository.roles_on(session, principal.user_id, anchors)
    return {target.resource_id: target.level_from(roles) for target in targets}


def require(session: Session, principal: Principal, target: Target, right: Right) -> Right:
    """The caller's level, or 404 if they cannot see the object and 403 if they see it only."""
    level = level_of(session, principal, target)
    if level is None:
        raise NotFound.of(target.kind, target.resource_id)
    if level < right:
        raise Forbidden(
            f"You may not {_VERBS[right]} this {target.kind.replace('_', ' ')}.", code="forbidden"
        )
    return level


_VERBS = {Right.VIEW: "view", Right.INVOKE: "invoke", Right.UPDATE: "change", Right.OWN: "manage"}


def require_related(
    session: Session, principal: Principal, target: Target, right: Right, why: str
) -> None:
    """403 unless the caller holds `right` on an object reached through one they may see
    (the repository a clone lands in): that one's existence is no secret, so never a 404."""
    level = level_of(session, principal, target)
    if level is None or level < right:
        raise Forbidden(why, code="forbidden")


# What a 409 names as keeping an object from being deleted or changed: the object whose grants
# decide who may see it named, and its name.
Blocker = tuple[Target, str]


def visible_blockers(
    session: Session, principal: Principal, blockers: list[Blocker]
) -> tuple[list[dict[str, Any]], int]:
    """The `blockers` of a 409 the caller may see, and how many others they may not:
    a conflict must not name objects the caller cannot see."""
    levels = levels_of(session, principal, [target for target, _ in blockers])
    shown = [
        blocker_body(blocker)
        for blocker in blockers
        if levels.get(blocker[0].resource_id) is not None
    ]
    return shown, len(blockers) - len(shown)


def blocker_body(blocker: Blocker) -> dict[str, Any]:
    """A blocker as a 409's `blockers` list names it."""
    target, name = blocker
    return {"type": target.kind, "id": target.resource_id, "name": name}


def hidden_note(hidden: int) -> str:
    """Said in a conflict's message when some of its blockers are not shown."""
    if not hidden:
        return ""
    return f" ({hidden} of them not visible to you)" if hidden > 1 else " (not visible to you)"


def permissions(level: Right | None) -> list[str]:
    return permissions_for(level)


def visibility(
    principal: Principal,
    anchors: Sequence[tuple[str, SQLColumnExpression[str | None]]],
    *,
    owner_anchors: Sequence[tuple[str, SQLColumnExpression[str | None]]] | None = None,
    narrowed: bool = False,
) -> ColumnElement[bool] | None:
    """A WHERE condition limiting a list to what the caller may see (None: admins see all).

    `owner_anchors` are a Target's `owner_parents`: only an OWNER grant on them counts.
    `narrowed` says the list's other filters already pick few rows (see `visible_to`)."""
    if principal.is_admin:
        return None
    return repository.visible_to(
        principal.user_id,
        anchors,
        owner_anchors=owner_anchors or [],
        owner_role=Role.OWNER.value,
        narrowed=narrowed,
    )


def grant_owner(session: Session, resource_type: str, resource_id: str, user_id: str) -> None:
    repository.add_grant(session, resource_type, resource_id, user_id, Role.OWNER.value)


def grant_owner_of_new(session: Session, objects: list[tuple[str, str]], user_id: str) -> None:
    """The creator's grants on objects written this request with `db.rows.insert_new`."""
    repository.insert_new_grants(session, objects, user_id, Role.OWNER.value)


def forget_object(session: Session, resource_type: str, resource_ids: list[str]) -> None:
    repository.delete_grants_of(session, resource_type, resource_ids)


def list_roles(session: Session, principal: Principal, target: Target) -> list[SharedRoleOut]:
    require(session, principal, target, Right.VIEW)
    return [
        SharedRoleOut(id=user.id, name=user.username, role=grant.role, share_recipient_type="user")
        for grant, user in repository.grants_of(session, target.resource_type, target.resource_id)
    ]


def update_roles(
    session: Session, principal: Principal, target: Target, body: SharedRolesUpdate
) -> None:
    """Set each listed grant (NO_ROLE removes one); grants not listed stay."""
    for entry in body.roles:
        if entry.role in UNSUPPORTED_ROLES:
            raise RuleViolation(
                f"The {entry.role} role is not supported by Dockyard; use OWNER, EDITOR, "
                "USER, CONSUMER or READ_ONLY.",
                code="role_not_supported",
            )
    require(session, principal, target, Right.OWN)
    owners_before = _owner_count(session, target)
    for entry in body.roles:
        user = _recipient(session, entry.id, entry.username)
        if entry.role == NO_ROLE:
            grant = repository.find_grant(
                session, target.resource_type, target.resource_id, user.id
            )
            if grant is not None:
                session.delete(grant)
                session.flush()
        else:
            repository.set_grant(
                session, target.resource_type, target.resource_id, user.id, entry.role
            )
    # Only a change that takes the last owner away is refused: an object whose owners are
    # on a parent (an artifact in a shared repository) may still gain other grants.
    if owners_before > 0 and _owner_count(session, target) == 0:
        raise Conflict(
            f"The {target.kind.replace('_', ' ')} must keep at least one owner.", code="last_owner"
        )


def _owner_count(session: Session, target: Target) -> int:
    grants = repository.grants_of(session, target.resource_type, target.resource_id)
    return sum(1 for grant, _ in grants if grant.role == Role.OWNER)


def _recipient(session: Session, user_id: str | None, username: str | None) -> User:
    # Malformed ids and NUL characters never reach the database (PostgreSQL refuses NUL).
    if user_id is not None:
        user = find(session, User, user_id) if is_valid_id(user_id) else None
    else:
        name = username or ""
        user = users.get_user_by_username(session, name) if "\x00" not in name else None
    if user is None:
        raise NotFound.of("user", user_id or username or "")
    return user

"""Who may do what: effective roles, access checks and grant changes."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import ColumnElement
from sqlalchemy.orm import Session

from dockyard.core.errors import Conflict, Forbidden, NotFound
from dockyard.core.models import SharedRole as SharedRoleOut
from dockyard.server.kit.auth import Principal
from dockyard.server.sharing import repository
from dockyard.server.sharing.roles import Right, Role, best_level, permissions_for
from dockyard.server.sharing.schemas import SharedRolesUpdate
from dockyard.server.users import repository as users


@dataclass(frozen=True)
class Target:
    """An object grants can be held on, with the parents whose grants also apply to it."""

    resource_type: str
    resource_id: str
    kind: str  # error-code prefix: artifact, repository, workload, …
    parents: tuple[tuple[str, str], ...] = field(default=())

    @property
    def anchors(self) -> list[tuple[str, str]]:
        return [(self.resource_type, self.resource_id), *self.parents]


def level_of(session: Session, principal: Principal, target: Target) -> Right | None:
    if principal.is_admin:
        return Right.OWN
    roles = repository.roles_on(session, principal.user_id, target.anchors)
    return best_level([role for anchor_roles in roles.values() for role in anchor_roles])


def levels_of(
    session: Session, principal: Principal, targets: list[Target]
) -> dict[str, Right | None]:
    """Effective level per target id, in one query (for list pages)."""
    if principal.is_admin:
        return {target.resource_id: Right.OWN for target in targets}
    anchors = [anchor for target in targets for anchor in target.anchors]
    roles = repository.roles_on(session, principal.user_id, anchors)
    return {
        target.resource_id: best_level([r for a in target.anchors for r in roles.get(a, [])])
        for target in targets
    }


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


def permissions(level: Right | None) -> list[str]:
    return permissions_for(level)


def visibility(
    principal: Principal, anchors: list[tuple[str, ColumnElement[str]]]
) -> ColumnElement[bool] | None:
    """A WHERE condition limiting a list to what the caller may see (None: admins see all)."""
    if principal.is_admin:
        return None
    return repository.visible_to(principal.user_id, anchors)


def grant_owner(session: Session, resource_type: str, resource_id: str, user_id: str) -> None:
    repository.add_grant(session, resource_type, resource_id, user_id, Role.OWNER.value)


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
    require(session, principal, target, Right.OWN)
    for entry in body.roles:
        user = (
            users.get_user(session, entry.id)
            if entry.id is not None
            else users.get_user_by_username(session, entry.username or "")
        )
        if user is None:
            raise NotFound.of("user", entry.id or entry.username or "")
        grant = repository.find_grant(session, target.resource_type, target.resource_id, user.id)
        if entry.role == "NO_ROLE":
            if grant is not None:
                session.delete(grant)
        elif grant is None:
            repository.add_grant(
                session, target.resource_type, target.resource_id, user.id, entry.role
            )
        else:
            grant.role = entry.role
    session.flush()
    remaining = repository.grants_of(session, target.resource_type, target.resource_id)
    if not any(grant.role == Role.OWNER for grant, _ in remaining):
        raise Conflict(
            f"The {target.kind.replace('_', ' ')} must keep at least one owner.", code="last_owner"
        )

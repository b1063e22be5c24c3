"""SQL for grants: who holds which role on what, and visibility conditions for lists."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from sqlalchemy import ColumnElement, SQLColumnExpression, bindparam, delete, exists, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from dockyard.server.db.rows import insert_new_rows
from dockyard.server.sharing.models import SharedRole
from dockyard.server.users.models import User

# Naming the types lets the (user, type, id) index answer instead of every grant the user
# holds being read: an owner of 100,000 objects would otherwise pay for all of them. Built
# once, so each check (every get, every list page) skips building it and its cache key.
_ROLES_ON = select(SharedRole.resource_type, SharedRole.resource_id, SharedRole.role).where(
    SharedRole.user_id == bindparam("user_id"),
    SharedRole.resource_type.in_(bindparam("types", expanding=True)),
    SharedRole.resource_id.in_(bindparam("ids", expanding=True)),
)


def roles_on(
    session: Session, user_id: str, targets: Iterable[tuple[str, str]]
) -> dict[tuple[str, str], list[str]]:
    """The user's roles on each `(resource_type, resource_id)` asked about."""
    pairs = list(dict.fromkeys(targets))
    result: dict[tuple[str, str], list[str]] = {pair: [] for pair in pairs}
    if not pairs:
        return result
    ids = list({resource_id for _, resource_id in pairs})
    types = list({resource_type for resource_type, _ in pairs})
    rows = session.execute(_ROLES_ON, {"user_id": user_id, "types": types, "ids": ids})
    for resource_type, resource_id, role in rows:
        key = (resource_type, resource_id)
        if key in result:
            result[key].append(role)
    return result


def visible_to(
    user_id: str,
    anchors: Sequence[tuple[str, SQLColumnExpression[str | None]]],
    *,
    owner_anchors: Sequence[tuple[str, SQLColumnExpression[str | None]]] = (),
    owner_role: str = "OWNER",
    narrowed: bool = False,
) -> ColumnElement[bool]:
    """True for rows where the user holds any role on one of the anchors (object or parent).

    `narrowed`: other conditions (a search, ids, tags) already pick few rows. Then each of
    them is checked against the grants index (a correlated EXISTS), which costs the same
    however many objects the user owns. Otherwise `column IN (the user's grants)`: the grant
    list is read once and the objects found by their own indexes, so a user with a few grants
    lists fast however many objects others have.

    `owner_anchors`: objects on which only an `owner_role` grant makes the row visible.
    """
    every: list[tuple[str, SQLColumnExpression[str | None], str | None]] = [
        (resource_type, column, None) for resource_type, column in anchors
    ]
    every += [(resource_type, column, owner_role) for resource_type, column in owner_anchors]
    if narrowed:
        return or_(
            *(
                exists().where(
                    SharedRole.user_id == user_id,
                    SharedRole.resource_type == resource_type,
                    SharedRole.resource_id == id_column,
                    *([SharedRole.role == role] if role else []),
                )
                for resource_type, id_column, role in every
            )
        )
    return or_(
        *(
            id_column.in_(
                select(SharedRole.resource_id).where(
                    SharedRole.user_id == user_id,
                    SharedRole.resource_type == resource_type,
                    *([SharedRole.role == role] if role else []),
                )
            )
            for resource_type, id_column, role in every
        )
    )


def grants_of(
    session: Session, resource_type: str, resource_id: str
) -> list[tuple[SharedRole, User]]:
    rows = session.execute(
        select(SharedRole, User)
        .join(User, User.id == SharedRole.user_id)
        .where(SharedRole.resource_type == resource_type, SharedRole.resource_id == resource_id)
        .order_by(SharedRole.created_at, SharedRole.id)
    )
    return [(grant, user) for grant, user in rows]


def find_grant(
    session: Session, resource_type: str, resource_id: str, user_id: str
) -> SharedRole | None:
    return session.scalar(
        select(SharedRole).where(
            SharedRole.resource_type == resource_type,
            SharedRole.resource_id == resource_id,
            SharedRole.user_id == user_id,
        )
    )


def add_grant(
    session: Session, resource_type: str, resource_id: str, user_id: str, role: str
) -> SharedRole:
    grant = SharedRole(
        resource_type=resource_type, resource_id=resource_id, user_id=user_id, role=role
    )
    session.add(grant)
    session.flush()
    return grant


def insert_new_grants(
    session: Session, objects: Iterable[tuple[str, str]], user_id: str, role: str
) -> None:
    """The user's grant on each `(resource_type, resource_id)` just created, in one INSERT."""
    insert_new_rows(
        session,
        SharedRole,
        [
            {"resource_type": kind, "resource_id": id_, "user_id": user_id, "role": role}
            for kind, id_ in objects
        ],
    )


def set_grant(
    session: Session, resource_type: str, resource_id: str, user_id: str, role: str
) -> SharedRole:
    """Give the user `role` on the object, adding or changing their one grant.

    Two requests may both find no grant and insert; the loser's insert hits the unique
    constraint inside a savepoint and becomes an update of the winner's row.
    """
    grant = find_grant(session, resource_type, resource_id, user_id)
    if grant is None:
        try:
            with session.begin_nested():
                return add_grant(session, resource_type, resource_id, user_id, role)
        except IntegrityError:
            grant = find_grant(session, resource_type, resource_id, user_id)
            if grant is None:
                raise
    grant.role = role
    session.flush()
    return grant


def delete_grants_of(session: Session, resource_type: str, resource_ids: Iterable[str]) -> None:
    ids = list(resource_ids)
    if ids:
        session.execute(
            delete(SharedRole).where(
                SharedRole.resource_type == resource_type, SharedRole.resource_id.in_(ids)
            )
        )

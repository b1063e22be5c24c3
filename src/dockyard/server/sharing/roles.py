"""Roles, the rights they give, and the `permissions` values responses carry."""

from __future__ import annotations

from enum import IntEnum, StrEnum


class Role(StrEnum):
    OWNER = "OWNER"  # everything, including delete and re-share
    EDITOR = "EDITOR"  # view, update, invoke
    READ_WRITE = "READ_WRITE"  # same rights as EDITOR
    USER = "USER"  # same rights as EDITOR
    CONSUMER = "CONSUMER"  # invoke only (and see the object)
    READ_ONLY = "READ_ONLY"  # view
    OBSERVER = "OBSERVER"  # same rights as READ_ONLY


NO_ROLE = "NO_ROLE"
# Roles of the hosted platform that Dockyard does not give: refused with role_not_supported
# rather than as unknown names, so a client learns they exist but are not offered here.
UNSUPPORTED_ROLES = frozenset({"DATA_SCIENTIST", "ADMIN"})


class Right(IntEnum):
    """Rights in increasing order; every role's rights are a prefix of this order."""

    VIEW = 1
    INVOKE = 2
    UPDATE = 3
    OWN = 4  # delete and share


ROLE_LEVEL: dict[Role, Right] = {
    Role.OWNER: Right.OWN,
    Role.EDITOR: Right.UPDATE,
    Role.READ_WRITE: Right.UPDATE,
    Role.USER: Right.UPDATE,
    Role.CONSUMER: Right.INVOKE,
    Role.READ_ONLY: Right.VIEW,
    Role.OBSERVER: Right.VIEW,
}

_PERMISSIONS: dict[Right, list[str]] = {
    Right.OWN: [
        "CAN_VIEW",
        "CAN_UPDATE",
        "CAN_DELETE",
        "CAN_SHARE",
        "CAN_MAKE_PREDICTIONS",
        "CAN_SHARE_ROLE_OWNER",
        "CAN_SHARE_ROLE_READ_WRITE",
        "CAN_SHARE_ROLE_READ_ONLY",
    ],
    Right.UPDATE: ["CAN_VIEW", "CAN_UPDATE", "CAN_MAKE_PREDICTIONS"],
    Right.INVOKE: ["CAN_VIEW", "CAN_MAKE_PREDICTIONS"],
    Right.VIEW: ["CAN_VIEW"],
}


def parse_role(value: str) -> Role | None:
    """A role name in any case; `None` for NO_ROLE. Raises ValueError for unknown names."""
    upper = value.strip().upper()
    if upper == NO_ROLE:
        return None
    return Role(upper)


def best_level(roles: list[str]) -> Right | None:
    levels = [ROLE_LEVEL[Role(role)] for role in roles if role in Role.__members__]
    return max(levels) if levels else None


def permissions_for(level: Right | None) -> list[str]:
    return list(_PERMISSIONS[level]) if level is not None else []

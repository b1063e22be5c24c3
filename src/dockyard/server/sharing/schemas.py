"""Request bodies of the sharedRoles endpoints."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator, model_validator

from dockyard.core.base import RequestBody
from dockyard.server.sharing.roles import NO_ROLE, UNSUPPORTED_ROLES, Role


class RoleGrant(RequestBody):
    share_recipient_type: Literal["user"] = Field(
        description="Only users can hold roles in Dockyard."
    )
    role: str = Field(max_length=32, description="OWNER, EDITOR, USER, CONSUMER, … or NO_ROLE.")
    id: str | None = Field(default=None, max_length=64, description="The user's id.")
    username: str | None = Field(default=None, max_length=150, description="Or the username.")

    @field_validator("role")
    @classmethod
    def _known_role(cls, value: str) -> str:
        upper = value.strip().upper()
        # Unsupported roles pass here: the service refuses them with their own code.
        if upper != NO_ROLE and upper not in Role.__members__ and upper not in UNSUPPORTED_ROLES:
            allowed = ", ".join([*Role.__members__, NO_ROLE])
            raise ValueError(f"unknown role '{value}'; expected one of {allowed}")
        return upper

    @model_validator(mode="after")
    def _one_recipient(self) -> RoleGrant:
        if (self.id is None) == (self.username is None):
            raise ValueError("give exactly one of 'id' or 'username'")
        return self


class SharedRolesUpdate(RequestBody):
    operation: Literal["updateRoles"]
    roles: list[RoleGrant] = Field(min_length=1, max_length=100)

"""Public models shared by the server, the SDK and the CLI."""

from __future__ import annotations

from typing import Generic, TypeVar

from pydantic import Field

from dockyard.core.base import CamelModel

T = TypeVar("T")


class Page(CamelModel, Generic[T]):
    """The list envelope of every paginated list."""

    count: int = Field(description="Items on this page.")
    total_count: int = Field(description="Items matching the query across all pages.")
    next: str | None = Field(description="Absolute URL of the next page, or null.")
    previous: str | None = Field(description="Absolute URL of the previous page, or null.")
    data: list[T]


class UserData(CamelModel):
    """The short form of a user embedded in other objects (`creator`, `owners`)."""

    id: str
    username: str | None = None
    email: str | None = None
    full_name: str | None = None
    userhash: str | None = None


class TagInfo(CamelModel):
    id: str
    name: str
    value: str


class User(CamelModel):
    """A user account. Every signed-in user may list users (to share objects with them)."""

    id: str
    username: str
    email: str | None = None
    full_name: str | None = None
    is_admin: bool = False
    created_at: str


class ApiToken(CamelModel):
    id: str
    name: str
    user_id: str
    created_at: str


class CreatedApiToken(ApiToken):
    """Returned once, on creation: the only time the token itself is shown."""

    token: str


class SharedRole(CamelModel):
    id: str
    name: str
    role: str
    share_recipient_type: str = "user"


class ServerVersion(CamelModel):
    """What `GET /api/v2/version/` answers: the hosted API version served, and Dockyard's own."""

    major: int = Field(description="Major version of the hosted API implemented.")
    minor: int = Field(description="Minor version of the hosted API implemented.")
    version_string: str = Field(description='"<major>.<minor>", what clients compare.')
    dockyard_version: str = Field(description="This Dockyard server's package version.")

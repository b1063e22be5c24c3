"""Request bodies of /users and /apiTokens."""

from __future__ import annotations

from typing import TypeVar

from pydantic import Field, field_validator

from dockyard.core.base import RequestBody
from dockyard.core.text import OneLine, VisibleLine

# Letters, digits and the punctuation of e-mail-style logins; no spaces, so a username
# can be typed on a command line and matched unambiguously when sharing by name.
USERNAME_PATTERN = r"^[A-Za-z0-9_][A-Za-z0-9._@+-]*$"
EMAIL_PATTERN = r"^[^@\s]+@[^@\s]+\.[^@\s.]+$"


class UserCreate(RequestBody):
    username: str = Field(min_length=1, max_length=150, pattern=USERNAME_PATTERN)
    email: str | None = Field(default=None, max_length=320, pattern=EMAIL_PATTERN)
    full_name: OneLine | None = Field(default=None, max_length=300)
    is_admin: bool = Field(default=False, description="Admins see and manage everything.")

    @field_validator("email", "full_name", mode="before")
    @classmethod
    def _blank_is_none(cls, value: object) -> object:
        # Forms send "" for an empty optional field; store it as absent.
        if isinstance(value, str) and not value.strip():
            return None
        return value

    @field_validator("email", "full_name")
    @classmethod
    def _no_nul(cls, value: str | None) -> str | None:
        return reject_nul(value)


class ApiTokenCreate(RequestBody):
    name: VisibleLine = Field(min_length=1, max_length=200)
    user_id: str | None = Field(
        default=None, max_length=64, description="Owner of the token (another user: admins only)."
    )

    @field_validator("name")
    @classmethod
    def _no_nul(cls, value: str) -> str:
        return reject_nul(value)


T = TypeVar("T", str, str | None)


def reject_nul(value: T) -> T:
    """PostgreSQL text cannot hold NUL characters: refuse them as invalid input, not a 500."""
    if isinstance(value, str) and "\x00" in value:
        raise ValueError("must not contain NUL characters")
    return value

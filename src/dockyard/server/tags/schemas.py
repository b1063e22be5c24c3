"""The tag a request body carries: `{name, value}`; and text fields safe to store anywhere."""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator, Field

from dockyard.core.base import RequestBody


def _no_nul(value: str | None) -> str | None:
    # PostgreSQL text cannot hold NUL: refuse it as invalid input rather than fail on insert.
    if value is not None and "\x00" in value:
        raise ValueError("must not contain NUL characters")
    return value


StoredText = Annotated[str, AfterValidator(_no_nul)]


class TagInput(RequestBody):
    name: StoredText = Field(min_length=1, max_length=200)
    value: StoredText = Field(max_length=500)

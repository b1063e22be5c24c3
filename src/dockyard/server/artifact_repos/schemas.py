"""Request bodies of /artifactRepositories."""

from __future__ import annotations

from typing import Any

from pydantic import Field, field_validator

from dockyard.core.base import RequestBody
from dockyard.server.artifacts.schemas import MAX_TAGS
from dockyard.server.tags.schemas import StoredText, TagInput


class RepositoryUpdate(RequestBody):
    """PATCH (a Dockyard addition): only the fields present change."""

    name: StoredText | None = Field(default=None, min_length=1, max_length=5000)
    description: StoredText | None = Field(default=None, max_length=50000)
    tags: list[TagInput] | None = Field(default=None, max_length=MAX_TAGS)

    @field_validator("name", mode="before")
    @classmethod
    def _not_null(cls, value: Any) -> Any:
        if value is None:
            raise ValueError("may be omitted but not null")
        return value

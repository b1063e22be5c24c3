"""The tag a request body carries: `{name, value}`."""

from __future__ import annotations

from pydantic import Field

from dockyard.core.base import StrictCamelModel


class TagInput(StrictCamelModel):
    name: str = Field(min_length=1, max_length=200)
    value: str = Field(max_length=500)

"""Base class of every public model: camelCase on the wire, snake_case in Python."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict
from pydantic.alias_generators import to_camel


class CamelModel(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True)


class StrictCamelModel(CamelModel):
    """For request bodies and specs: unknown fields are an error, as in the hosted API."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid")

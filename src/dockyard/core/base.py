"""Base classes of every public model: camelCase on the wire, snake_case in Python."""

from __future__ import annotations

from contextvars import ContextVar
from typing import Any

from pydantic import BaseModel, ConfigDict, ModelWrapValidatorHandler, model_validator
from pydantic.alias_generators import to_camel

from dockyard.core.unknown_fields import drop_unknown_fields, note_ignored


class CamelModel(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True)


class InputModel(CamelModel):
    """Parts of request bodies and specs: unknown fields are kept until the body drops them.

    The hosted API ignores unknown fields rather than refusing them; `RequestBody` drops them
    and names each one, so a typo stays visible without breaking clients that send extras.
    """

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="allow")


# How many request bodies are being parsed inside one another (an inline artifact inside a
# workload): only the outermost one names the unknown fields, with their full path.
_depth: ContextVar[int] = ContextVar("dockyard_body_depth", default=0)


class RequestBody(InputModel):
    """A request body: after parsing, its unknown fields (at any depth) are dropped and noted."""

    @model_validator(mode="wrap")
    @classmethod
    def _drop_unknown(cls, data: Any, handler: ModelWrapValidatorHandler[Any]) -> Any:
        token = _depth.set(_depth.get() + 1)
        try:
            body = handler(data)
        finally:
            _depth.reset(token)
        if _depth.get() == 0:
            note_ignored(drop_unknown_fields(body))
        return body


# The earlier name of `RequestBody`, kept so code importing it still works.
StrictCamelModel = RequestBody

"""Unknown fields of a request body: dropped, and named so the caller can see a typo.

The hosted API ignores fields it does not know, and its clients send some; refusing them would
break those clients. Ignoring them silently would hide typos, so each one is collected with its
path (`spec.containerGroups[0].containers[0].imagUri`) for the server to name in a `Warning`
header of the answer.
"""

from __future__ import annotations

import functools
import typing
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from pydantic import BaseModel

# The names found while answering the current request; None outside a request.
_collected: ContextVar[list[str] | None] = ContextVar("dockyard_ignored_fields", default=None)


@contextmanager
def collecting() -> Iterator[list[str]]:
    """Collect the unknown fields named while the block runs (one request)."""
    found: list[str] = []
    token = _collected.set(found)
    try:
        yield found
    finally:
        _collected.reset(token)


def note_ignored(paths: list[str]) -> None:
    """Record fields that were dropped; a no-op outside `collecting()`."""
    found = _collected.get()
    if found is not None:
        found.extend(paths)


def drop_unknown_fields(model: BaseModel, at: str = "") -> list[str]:
    """Remove the unknown fields kept by an `extra="allow"` model tree; return their paths."""
    found: list[str] = []
    extra = model.__pydantic_extra__
    if extra:
        found.extend(_join(at, key) for key in extra)
        # Never stored, never echoed, and never taken for a field the client set.
        model.__pydantic_fields_set__.difference_update(extra)
        extra.clear()
    for name, key in _nested_fields(type(model)):
        value = model.__dict__.get(name)
        if value is not None:
            found.extend(_walk(value, _join(at, key)))
    return found


@functools.cache
def _nested_fields(cls: type[BaseModel]) -> tuple[tuple[str, str], ...]:
    """(name, wire name) of the fields that may hold models; the walk skips the others."""
    return tuple(
        (name, info.alias or name)
        for name, info in cls.model_fields.items()
        if _may_hold_models(info.annotation)
    )


def _may_hold_models(annotation: Any) -> bool:
    if annotation is Any or annotation is object:
        return True
    if isinstance(annotation, type):
        return issubclass(annotation, BaseModel | dict)
    return any(_may_hold_models(arg) for arg in typing.get_args(annotation))


def _walk(value: Any, at: str) -> list[str]:
    if isinstance(value, BaseModel):
        return drop_unknown_fields(value, at)
    if isinstance(value, list | tuple):
        found: list[str] = []
        for index, item in enumerate(value):
            if isinstance(item, BaseModel | list | tuple | dict):
                found.extend(_walk(item, f"{at}[{index}]"))
        return found
    if isinstance(value, dict):
        found = []
        for key, item in value.items():
            if isinstance(item, BaseModel | list | tuple | dict):
                found.extend(_walk(item, _join(at, str(key))))
        return found
    return []


def _join(at: str, key: str) -> str:
    return f"{at}.{key}" if at else key

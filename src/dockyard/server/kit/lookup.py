"""The one way a service turns an id from a request into its row, or the kind's 404."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from dockyard.core.errors import NotFound
from dockyard.server.kit.ids import is_valid_id

Row = TypeVar("Row")


def find_or_404(kind: str, object_id: str, fetch: Callable[[str], Row | None]) -> Row:
    """`fetch(object_id)`, or 404 `<kind>_not_found`; a malformed id never reaches SQL."""
    row = fetch(object_id) if is_valid_id(object_id) else None
    if row is None:
        raise NotFound.of(kind, object_id)
    return row

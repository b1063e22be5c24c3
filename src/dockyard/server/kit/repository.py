"""Look-ups every domain shares: a row by its id, and the one way a service turns an id from a
request into its row or the kind's 404. Each domain's repository holds only its own queries."""

from __future__ import annotations

from typing import Any, ClassVar, Protocol, TypeVar

from sqlalchemy import ColumnElement, select
from sqlalchemy.orm import QueryableAttribute, Session

from dockyard.core.errors import NotFound
from dockyard.server.kit.ids import is_valid_id


class HasId(Protocol):
    id: ClassVar[QueryableAttribute[str]]  # the mapped column, as the class has it


Row = TypeVar("Row", bound=HasId)


def get_by_id(
    session: Session,
    model: type[Row],
    row_id: str,
    *,
    for_update: bool = False,
    where: tuple[ColumnElement[bool], ...] = (),
) -> Row | None:
    """The row with this id (and the extra conditions), or None.

    With `for_update`, PostgreSQL holds the row until commit, so writes to one row queue
    behind each other; SQLite's writers are serialized already.
    """
    query = select(model).where(model.id == row_id, *where)
    if for_update:
        query = query.with_for_update()
    return session.scalar(query)


def load_or_404(
    session: Session,
    model: type[Row],
    kind: str,
    row_id: str,
    *,
    for_update: bool = False,
    where: tuple[ColumnElement[bool], ...] = (),
) -> Row:
    """The row, or 404 `<kind>_not_found`; a malformed id is the same 404 and never reaches
    SQL."""
    row: Any = None
    if is_valid_id(row_id):
        row = get_by_id(session, model, row_id, for_update=for_update, where=where)
    if row is None:
        raise NotFound.of(kind, row_id)
    return row


def find(session: Session, model: type[Row], row_id: str | None) -> Row | None:
    """The row by primary key, from the session without a query when it holds the row already
    (None for no id: an optional reference that is unset finds nothing)."""
    return session.get(model, row_id) if row_id is not None else None

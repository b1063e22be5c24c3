"""Writing brand-new rows without the ORM's flush, for the hottest creates."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Insert, Table, insert, inspect
from sqlalchemy.orm import Session, make_transient_to_detached

from dockyard.server.db.base import Base


def insert_new(session: Session, objects: Sequence[Base]) -> None:
    """INSERT new objects of one table with one core statement, then attach them to the
    session as if they had just been loaded.

    A flush tracks, sorts and post-processes every object, which for the few rows of a
    create costs as much again as the INSERTs; here each object's columns are read once and
    sent. Column defaults that run in Python (ids, timestamps) are filled in first, so the
    objects hold exactly what was written and nothing needs reading back. Afterwards they
    are ordinary persistent objects: later changes to them are flushed as usual.

    Only for objects built in this request, never loaded or added before, of a table
    without server-side defaults; the caller orders tables so foreign keys already exist.
    """
    if not objects:
        return
    table: Table = objects[0].__table__  # type: ignore[assignment]
    params = [_values(table, obj) for obj in objects]
    statement = _INSERTS.get(table)
    if statement is None:  # built once per table: its cache key is then computed only once
        statement = _INSERTS[table] = insert(table)
    session.execute(statement, params)
    for obj in objects:
        make_transient_to_detached(obj)
        session.add(obj)


_INSERTS: dict[Table, Insert] = {}


def _values(table: Table, obj: Base) -> dict[str, Any]:
    state = inspect(obj)
    if state.key is not None or state.session is not None:
        raise ValueError(f"insert_new takes new objects only, not {obj!r}")
    mapper = state.mapper
    given = state.dict  # the attributes set on the object, as a flush would see them
    values: dict[str, Any] = {}
    for column in table.columns:
        key = mapper.get_property_by_column(column).key
        if key in given:
            value = given[key]
        elif column.default is not None:
            # As a flush would: callable defaults get an execution context (unused by ours).
            default: Any = column.default
            value = default.arg(None) if default.is_callable else default.arg
            setattr(obj, key, value)
        else:
            value = None
            setattr(obj, key, None)  # loaded as NULL, so reading it never goes to the database
        values[column.key] = value
    return values

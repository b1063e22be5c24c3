"""Writing brand-new rows without the ORM's flush, for the hottest creates."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Connection, Dialect, Insert, Table, insert, inspect
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from dockyard.server.db.base import Base


def insert_new(session: Session, objects: Sequence[Base]) -> None:
    """INSERT new objects of one table with one core statement, in the session's transaction.

    A flush tracks, sorts and post-processes every object, which for the few rows of a
    create costs as much again as the INSERTs; here each object's columns are read once and
    sent. Column defaults that run in Python (ids, timestamps) are filled in on the objects
    first, so afterwards each holds exactly the row written, ready to be shown.

    The objects are not added to the session: they are a record of what was written, and
    changing one changes nothing in the database (load the row to change it). Only for
    objects built in this request, of a table without server-side defaults; the caller
    orders the tables so that foreign keys already exist.
    """
    if not objects:
        return
    columns = _columns(inspect(objects[0]).mapper)
    _insert(session, columns, [_values(columns, obj) for obj in objects])


def insert_new_rows(session: Session, model: type[Base], rows: Sequence[dict[str, Any]]) -> None:
    """`insert_new` for rows nothing reads back, given as attribute → value: no ORM object is
    built (that costs as much as sending the row). Defaults are filled in the same way."""
    if not rows:
        return
    columns = _columns(inspect(model))
    _insert(session, columns, [_filled(columns, dict(row)) for row in rows])


def _insert(session: Session, columns: _Columns, params: list[dict[str, Any]]) -> None:
    session.flush()  # pending objects first (nearly free when there are none), as autoflush would
    connection = session.connection()
    if connection.dispatch.before_cursor_execute or connection.dispatch.after_cursor_execute:
        # Someone watches the statements (bench.explain, a test): through SQLAlchemy, seen.
        connection.execute(columns.insert, params[0] if len(params) == 1 else params)
        return
    _send(connection, columns.compiled(connection.dialect), params)


def _send(connection: Connection, compiled: _Compiled, params: list[dict[str, Any]]) -> None:
    """The INSERT straight to the driver's cursor, inside the session's transaction.

    SQLAlchemy's statement path (execution context, parameter processing, result set-up,
    events) cost more than SQLite took to run the INSERT; this sends the statement compiled
    once, with the values through the same type processors SQLAlchemy would apply. Several
    rows are one executemany (psycopg pipelines it into one round trip).
    """
    rows = compiled.parameters(params)
    dialect = connection.dialect
    dbapi_connection = connection.connection.dbapi_connection
    assert dbapi_connection is not None  # open: the session's transaction holds it
    cursor = dbapi_connection.cursor()
    try:
        if len(rows) == 1:
            cursor.execute(compiled.sql, rows[0])
        else:
            cursor.executemany(compiled.sql, rows)
    except dialect.loaded_dbapi.Error as exc:
        # As SQLAlchemy would: its own exception type (IntegrityError, …), and a connection
        # that is gone is invalidated (its cursor with it) so the pool never hands it out.
        gone = dialect.is_disconnect(exc, dbapi_connection, cursor)
        error = DBAPIError.instance(
            compiled.sql, rows, exc, dialect.loaded_dbapi.Error, connection_invalidated=gone
        )
        if gone:
            connection.invalidate(exc)
        else:
            cursor.close()
        raise error from exc
    cursor.close()


@contextmanager
def together(session: Session) -> Iterator[None]:
    """Send the `insert_new` calls inside the block to the database together.

    On PostgreSQL they go in one psycopg pipeline, with the transaction's BEGIN: one round
    trip instead of one per statement, the answers read when the block ends (a failure is
    raised there, as SQLAlchemy's error for it). Nothing inside may read a result: INSERTs
    only. SQLite has no round trips to save and runs them as they come.
    """
    connection = session.connection()
    if connection.dialect.name != "postgresql":
        yield
        return
    driver = connection.connection.driver_connection
    dbapi = connection.dialect.loaded_dbapi
    try:
        assert driver is not None  # open: the session's transaction holds it
        with driver.pipeline():
            yield
    except dbapi.Error as exc:
        raise DBAPIError.instance(None, None, exc, dbapi.Error) from exc


class _Compiled:
    """One table's INSERT compiled for one dialect, and how each value is bound."""

    def __init__(self, statement: Insert, dialect: Dialect) -> None:
        compiled = statement.compile(dialect=dialect)
        self.sql = compiled.string
        # Every column is a bind parameter named after its key; `positiontup` is their order
        # for positional drivers (sqlite3), and psycopg takes them by name.
        self.names = list(compiled.positiontup or compiled.binds)
        self.positional = compiled.positional
        self.processors = [
            compiled.binds[name].type.dialect_impl(dialect).bind_processor(dialect)
            for name in self.names
        ]

    def parameters(self, rows: list[dict[str, Any]]) -> list[list[Any]] | list[dict[str, Any]]:
        """The rows' values as the driver takes them: all positional, or all by name."""
        bound = [self._bound(values) for values in rows]
        if self.positional:
            return bound
        return [dict(zip(self.names, values, strict=True)) for values in bound]

    def _bound(self, values: dict[str, Any]) -> list[Any]:
        return [
            value if process is None else process(value)
            for value, process in zip(
                [values[name] for name in self.names], self.processors, strict=True
            )
        ]


class _Columns:
    """What writing one table needs, worked out once: each column's attribute and default."""

    def __init__(self, table: Table, mapper: Any) -> None:
        self.insert: Insert = insert(table)  # one statement: its cache key is computed once
        self.columns: list[tuple[str, str, Any]] = []
        for column in table.columns:
            if column.server_default is not None:
                raise ValueError(f"{table.name}.{column.name} has a server default")
            default: Any = column.default
            self.columns.append((column.key, mapper.get_property_by_column(column).key, default))
        self._compiled: dict[Dialect, _Compiled] = {}

    def compiled(self, dialect: Dialect) -> _Compiled:
        found = self._compiled.get(dialect)
        if found is None:
            found = self._compiled[dialect] = _Compiled(self.insert, dialect)
        return found


_TABLES: dict[Any, _Columns] = {}


def _columns(mapper: Any) -> _Columns:
    found = _TABLES.get(mapper)
    if found is None:
        found = _TABLES[mapper] = _Columns(mapper.local_table, mapper)
    return found


def _values(columns: _Columns, obj: Base) -> dict[str, Any]:
    state = inspect(obj)
    if state.key is not None or state.session is not None:
        raise ValueError(f"insert_new takes new objects only, not {obj!r}")
    return _filled(columns, state.dict)  # the attributes set on it, as a flush would see them


def _filled(columns: _Columns, given: dict[str, Any]) -> dict[str, Any]:
    """Column values from attribute values, defaults filled in (and written back to `given`)."""
    values: dict[str, Any] = {}
    for column_key, key, default in columns.columns:
        if key in given:
            value = given[key]
        else:
            # As a flush would: callable defaults get an execution context (unused by ours);
            # a column without a default is NULL. Kept on the object (no attribute events:
            # it is not in a session), so reading it never goes to the database.
            if default is None:
                value = None
            else:
                value = default.arg(None) if default.is_callable else default.arg
            given[key] = value
        values[column_key] = value
    return values

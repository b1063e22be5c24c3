"""`db.rows.insert_new`: the driver path writes what SQLAlchemy would, and fails as it would."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from sqlalchemy import event, select
from sqlalchemy.exc import IntegrityError

from dockyard.server.db.rows import insert_new, together
from dockyard.server.db.session import Database
from dockyard.server.sharing.models import SharedRole
from dockyard.server.users import repository as users
from dockyard.server.users.bootstrap import ADMIN_USERNAME


@contextmanager
def watched(db: Database) -> Iterator[list[str]]:
    seen: list[str] = []

    def record(conn, cursor, statement, parameters, context, executemany):  # type: ignore[no-untyped-def]
        seen.append(statement)

    event.listen(db.engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(db.engine, "before_cursor_execute", record)


def _admin_id(db: Database) -> str:
    with db.unit_of_work(write=False) as session:
        admin = users.get_user_by_username(session, ADMIN_USERNAME)
        assert admin is not None
        return admin.id


def _grants(user_id: str, *ids: str) -> list[SharedRole]:
    return [
        SharedRole(resource_type="artifact", resource_id=i, user_id=user_id, role="OWNER")
        for i in ids
    ]


def _stored(db: Database, resource_id: str) -> tuple:
    with db.unit_of_work(write=False) as session:
        row = session.execute(select(SharedRole).where(SharedRole.resource_id == resource_id))
        grant = row.scalar_one()
        return (grant.id, grant.resource_type, grant.user_id, grant.role, grant.created_at)


@pytest.mark.parametrize("watch", [False, True], ids=["driver", "watched"])
def test_rows_written_are_the_objects(app, watch: bool) -> None:  # type: ignore[no-untyped-def]
    db: Database = app.state.db
    user_id = _admin_id(db)
    written = _grants(user_id, "a" * 24, "b" * 24)
    with (
        watched(db) if watch else _nothing() as seen,
        db.unit_of_work() as session,
        together(session),
    ):
        insert_new(session, written)
    if watch:
        assert any(statement.startswith("INSERT INTO shared_roles") for statement in seen)
    for grant in written:
        assert _stored(db, grant.resource_id) == (
            grant.id,
            grant.resource_type,
            grant.user_id,
            grant.role,
            grant.created_at,
        )


def test_a_failed_insert_is_sqlalchemys_error_and_rolls_back(app) -> None:  # type: ignore[no-untyped-def]
    db: Database = app.state.db
    user_id = _admin_id(db)
    first = _grants(user_id, "c" * 24)
    with db.unit_of_work() as session:
        insert_new(session, first)
    again = _grants(user_id, "d" * 24)
    again[0].id = first[0].id  # the same primary key
    with pytest.raises(IntegrityError), db.unit_of_work() as session, together(session):
        insert_new(session, _grants(user_id, "e" * 24))
        insert_new(session, again)
    with db.unit_of_work(write=False) as session:
        found = session.execute(select(SharedRole.resource_id)).scalars().all()
    assert "e" * 24 not in found and "d" * 24 not in found


@contextmanager
def _nothing() -> Iterator[list[str]]:
    yield []

"""The unit of work's capacity: a connection per worker thread, and a 503 when none comes free."""

from __future__ import annotations

import threading

import pytest
from fastapi.testclient import TestClient

from dockyard.server.db.session import BACKGROUND_CONNECTIONS, Database, DatabaseBusy


def test_the_pool_has_a_connection_for_every_worker_thread(database_url: str) -> None:
    db = Database.connect(database_url, worker_threads=8)
    try:
        assert db.read_threads.count + db.write_threads.count == 8
        assert db.engine.pool.size() == 8 + BACKGROUND_CONNECTIONS
        # Never more: needing more would be a bug to see, not a load to absorb.
        assert db.engine.pool._max_overflow == 0  # type: ignore[attr-defined]
    finally:
        db.dispose()


def test_no_connection_in_time_is_database_busy(database_url: str) -> None:
    db = Database.connect(database_url, worker_threads=2, busy_timeout=0.2)
    held = [db.engine.connect() for _ in range(2 + BACKGROUND_CONNECTIONS)]
    try:
        with pytest.raises(DatabaseBusy) as caught, db.unit_of_work(write=False) as session:
            session.connection()
        assert (caught.value.status_code, caught.value.code) == (503, "database_busy")
    finally:
        for connection in held:
            connection.close()
        db.dispose()


def test_sqlite_writers_take_turns_without_waiting_in_sqlite(sqlite_url: str) -> None:
    db = Database.connect(sqlite_url, worker_threads=2, busy_timeout=0.2)
    inside, release = threading.Event(), threading.Event()

    def hold() -> None:
        with db.unit_of_work() as session:
            session.connection()
            inside.set()
            release.wait(5)

    holder = threading.Thread(target=hold)
    holder.start()
    try:
        assert inside.wait(5)
        # A second writer waits on the in-process lock (bounded), not in SQLite's busy loop.
        with pytest.raises(DatabaseBusy), db.unit_of_work() as session:
            session.connection()
        with db.unit_of_work(write=False) as session:  # readers are not in the queue
            session.connection()
    finally:
        release.set()
        holder.join(5)
        db.dispose()


def test_an_api_request_without_a_connection_answers_503_with_retry_after(
    app, client: TestClient, database_url: str
) -> None:  # type: ignore[no-untyped-def]
    assert client.get("/api/v2/users/me").status_code == 200  # the token is now cached
    busy = Database.connect(database_url, worker_threads=2, busy_timeout=0.2)
    held = [busy.engine.connect() for _ in range(2 + BACKGROUND_CONNECTIONS)]
    app.state.db, usual = busy, app.state.db
    try:
        response = client.get("/api/v2/users/me")
    finally:
        app.state.db = usual
        for connection in held:
            connection.close()
        busy.dispose()
    assert response.status_code == 503
    assert response.headers["retry-after"] == "1"
    assert response.json()["code"] == "database_busy"

"""Engines for SQLite and PostgreSQL, tuned for a request-per-transaction server."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path
from typing import Any, cast

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.engine.interfaces import DBAPIConnection
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.pool import ConnectionPoolEntry, PoolProxiedConnection

# Execution option a write transaction sets so SQLite takes its write lock up front: a deferred
# transaction that reads and then writes can fail with "database is locked" under concurrency.
IMMEDIATE = "dockyard_immediate"


def is_sqlite(engine: Engine) -> bool:
    return engine.dialect.name == "sqlite"


def make_engine(url: str, *, pool_size: int = 20, pool_timeout: float = 30.0) -> Engine:
    """An engine whose pool holds `pool_size` connections and never more.

    No overflow: the pool is sized from the worker threads that use it (`session.Database`),
    so needing more would be a bug to see (a 503 after `pool_timeout`), not a load to absorb.
    """
    parsed = make_url(url)
    pool = {"pool_size": pool_size, "max_overflow": 0, "pool_timeout": pool_timeout}
    if parsed.get_backend_name() == "sqlite":
        return _sqlite_engine(url, pool)
    return _postgres_engine(url, pool)


# A pooled connection handed back moments ago is alive; one that sat idle may have been
# closed by a server restart, an idle timeout or a firewall, and is pinged (and replaced if
# dead) before it is handed out. pool_pre_ping would ping every checkout: one more round trip
# on every request, for connections that were working a moment before.
IDLE_PING_SECONDS = 1.0
_LAST_USED = "dockyard_last_used"


def _postgres_engine(url: str, pool: dict[str, Any]) -> Engine:
    # Last returned, first handed out: sequential requests keep using one warm server backend,
    # and connections left idle age out of use (and get their pre-ping) instead of rotating.
    engine = create_engine(url, pool_use_lifo=True, **pool)

    @event.listens_for(engine, "connect")
    @event.listens_for(engine, "checkin")
    def _used(dbapi_connection: DBAPIConnection, record: ConnectionPoolEntry) -> None:
        record.info[_LAST_USED] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _ping_if_idle(
        dbapi_connection: DBAPIConnection,
        record: ConnectionPoolEntry,
        _proxy: PoolProxiedConnection,
    ) -> None:
        last = record.info.get(_LAST_USED)
        if last is not None and time.monotonic() - last < IDLE_PING_SECONDS:
            return
        try:
            alive = engine.dialect.do_ping(dbapi_connection)
        except Exception as exc:  # any driver error: the pool replaces the connection
            raise DisconnectionError("pooled connection is gone") from exc
        if not alive:
            raise DisconnectionError("pooled connection is gone")
        record.info[_LAST_USED] = time.monotonic()

    return engine


def _sqlite_engine(url: str, pool: dict[str, Any]) -> Engine:
    database = make_url(url).database
    if database and database != ":memory:":
        Path(database).parent.mkdir(parents=True, exist_ok=True)
    else:  # one connection per thread (SQLAlchemy's own pool for a memory database)
        pool = {}
    # LIFO: the connection handed back last is handed out next, so sequential requests use
    # one connection whose page cache is still valid. Round-robin, each one found the others'
    # writes since its last use and read the pages again (60 reads per create, now 4).
    engine = create_engine(
        url,
        connect_args={"check_same_thread": False, "timeout": 30},
        pool_use_lifo=True,
        **pool,
    )

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: sqlite3.Connection, _record: ConnectionPoolEntry) -> None:
        # Let SQLAlchemy's "begin" event issue BEGIN itself (pysqlite's own handling is lazy).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Connection) -> None:
        immediate = connection.get_execution_options().get(IMMEDIATE, False)
        # Straight to the driver: this runs for every request, and SQLAlchemy's statement path
        # (events, result set-up) would cost about as much again as the BEGIN itself.
        driver = cast(sqlite3.Connection, connection.connection.dbapi_connection)  # pysqlite's
        driver.execute("BEGIN IMMEDIATE" if immediate else "BEGIN")

    return engine

"""Sessions: one unit of work per request, committed once by whoever opened it."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TypeVar

from sqlalchemy import Engine, text
from sqlalchemy.exc import OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.orm import Session, sessionmaker

from dockyard.core.errors import ServiceUnavailable
from dockyard.server.db.engine import IMMEDIATE, is_sqlite, make_engine
from dockyard.server.kit.threads import WorkerThreads

T = TypeVar("T")

DEFAULT_WORKER_THREADS = 8
# Connections beyond one per worker thread, for the work that runs on threads of its own: the
# reconciler, the invoke routing table's refresh, the request statistics' flush, and a spare.
BACKGROUND_CONNECTIONS = 4
# How long a unit of work waits for a connection or for SQLite's write lock before it answers
# 503. With the pool sized as above no request should ever wait; this bounds what another
# process holding SQLite's lock, or an exhausted PostgreSQL server, can cost a client.
BUSY_TIMEOUT_SECONDS = 10.0


class DatabaseBusy(ServiceUnavailable):
    """No connection (or no SQLite write lock) came free in time: retry soon."""

    default_code = "database_busy"


def pool_size_for(worker_threads: int, reconcile_workers: int = 1) -> int:
    # The background connections count one for the reconciler; each more pass it runs at
    # once may hold one more.
    return worker_threads + BACKGROUND_CONNECTIONS + reconcile_workers - 1


class Database:
    """Owns the engine, the worker threads that use it, and the sessions they open.

    The pool has a connection for every worker thread (plus the background threads'), and the
    threads are split between reads and writes: a burst of writes, which on SQLite take turns
    on one lock, can occupy only the write threads, so reads keep a thread and a connection.
    """

    def __init__(
        self,
        engine: Engine,
        *,
        worker_threads: int = DEFAULT_WORKER_THREADS,
        busy_timeout: float = BUSY_TIMEOUT_SECONDS,
    ) -> None:
        self.engine = engine
        self._busy_timeout = busy_timeout
        self._reads = sessionmaker(engine, expire_on_commit=False)
        self._writes = sessionmaker(
            engine.execution_options(**{IMMEDIATE: True}), expire_on_commit=False
        )
        write_threads = max(1, worker_threads // 2)
        self.read_threads = WorkerThreads(max(1, worker_threads - write_threads), "dockyard-read")
        self.write_threads = WorkerThreads(write_threads, "dockyard-write")
        # SQLite has one write lock per database. Taking turns on a Python lock first hands it
        # over the moment it is free; waiting in SQLite's busy handler polls with sleeps of up
        # to 100 ms, which under a burst of writes left the lock idle most of the time.
        self._sqlite_write_lock = threading.Lock() if is_sqlite(engine) else None

    @classmethod
    def connect(
        cls,
        url: str,
        *,
        worker_threads: int = DEFAULT_WORKER_THREADS,
        reconcile_workers: int = 1,
        busy_timeout: float = BUSY_TIMEOUT_SECONDS,
    ) -> Database:
        """The engine and the worker threads, sized together."""
        engine = make_engine(
            url,
            pool_size=pool_size_for(worker_threads, reconcile_workers),
            pool_timeout=busy_timeout,
        )
        return cls(engine, worker_threads=worker_threads, busy_timeout=busy_timeout)

    async def run(self, fn: Callable[..., T], /, *args: object, write: bool = False) -> T:
        """`fn(*args)` on a read or a write worker thread."""
        threads = self.write_threads if write else self.read_threads
        return await threads.run(fn, *args)

    @contextmanager
    def unit_of_work(self, *, write: bool = True) -> Iterator[Session]:
        """A session committed on success and rolled back on any error."""
        lock = self._sqlite_write_lock if write else None
        if lock is not None and not lock.acquire(timeout=self._busy_timeout):
            raise DatabaseBusy("The database is busy with other writes; retry soon.")
        try:
            session = (self._writes if write else self._reads)()
            try:
                yield session
                session.commit()
            except BaseException:
                session.rollback()
                raise
            finally:
                session.close()
        except PoolTimeout as exc:
            raise DatabaseBusy("No database connection came free in time; retry soon.") from exc
        except OperationalError as exc:
            if "database is locked" not in str(exc):
                raise
            raise DatabaseBusy("The database is locked by another process; retry soon.") from exc
        finally:
            if lock is not None:
                lock.release()

    def ping(self) -> None:
        """One round trip to the database on a connection of its own; raises when it fails."""
        with self.engine.connect() as connection:
            connection.execute(text("SELECT 1"))

    def dispose(self) -> None:
        self.read_threads.close()
        self.write_threads.close()
        self.engine.dispose()

"""The request's unit of work, as a FastAPI dependency: `work: UnitOfWork` in a route."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any, Concatenate, ParamSpec, TypeVar

from fastapi import Depends, Request
from sqlalchemy.orm import Session

from dockyard.server.db.session import Database
from dockyard.server.settings import Settings

_READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

P = ParamSpec("P")
T = TypeVar("T")


class Work:
    """The request's unit of work for an async handler: `await work(service_fn, *args)`.

    Opening the session, the service call, the commit and the close all run in one trip to a
    worker thread, and nothing else does: the thread holds its connection (and on SQLite,
    during a write, the database's one write lock) only while it does the request's database
    work. A sync handler with a session dependency held them across three more hand-offs
    (handler, response check, close), and the response check waited for a thread of a pool
    of 40 while up to 40 other requests' threads waited for that connection or lock: at 45
    concurrent writes every thread waited on another for 30 s, and requests failed with 500s.
    The service flushes, the commit happens once, before the response is sent, and any error
    rolls everything back.

    It also carries the app's settings (`work.settings`), so a route that needs both takes
    one dependency: FastAPI's resolution costs a few tens of microseconds per dependency.
    """

    __slots__ = ("_db", "_write", "settings")

    def __init__(self, db: Database, settings: Settings, *, write: bool) -> None:
        self._db = db
        self.settings = settings
        self._write = write

    async def __call__(
        self, fn: Callable[Concatenate[Session, P], T], /, *args: P.args, **kwargs: P.kwargs
    ) -> T:
        return await self._db.run(self._run, fn, args, kwargs, write=self._write)

    async def apart(self, fn: Callable[..., T], /, *args: object) -> T:
        """`fn(*args)` on a write thread, outside the request's unit of work (it opens its own,
        which may write). Never call it from inside `work(...)`: that would hold two
        connections, and on SQLite wait for the write lock its own request holds."""
        return await self._db.run(fn, *args, write=True)

    def _run(self, fn: Callable[..., T], args: tuple[Any, ...], kwargs: dict[str, Any]) -> T:
        with self._db.unit_of_work(write=self._write) as session:
            return fn(session, *args, **kwargs)


async def _work(request: Request) -> Work:
    state = request.app.state
    return Work(state.db, state.settings, write=request.method not in _READ_METHODS)


UnitOfWork = Annotated[Work, Depends(_work)]

"""Request-scoped dependencies: the database session and the settings."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Annotated, Any, Concatenate, ParamSpec, TypeVar

from fastapi import Depends, Request
from sqlalchemy.orm import Session

from dockyard.server.db.session import Database
from dockyard.server.kit.threads import in_worker_thread
from dockyard.server.settings import Settings

_READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

P = ParamSpec("P")
T = TypeVar("T")


def _session(request: Request) -> Iterator[Session]:
    # The request owns the transaction: services flush, and this commits once, before the
    # response is sent (scope="function"), so a failed commit is never reported as success.
    with request.app.state.db.unit_of_work(write=request.method not in _READ_METHODS) as session:
        yield session


class Work:
    """The request's unit of work for an async handler: `await work(service_fn, *args)`.

    Opening the session, the service call, the commit and the close all run in one trip to a
    worker thread. A sync handler with `DbSession` makes four (open, handler, response check,
    close), each a hand-off between the event loop and the thread pool: on the hottest routes
    those cost as much as the database work. The rules are the same as `DbSession`'s: the
    service flushes, the commit happens once, before the response is sent, and any error
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
        return await in_worker_thread(self._run, fn, args, kwargs)

    def _run(self, fn: Callable[..., T], args: tuple[Any, ...], kwargs: dict[str, Any]) -> T:
        with self._db.unit_of_work(write=self._write) as session:
            return fn(session, *args, **kwargs)


async def _work(request: Request) -> Work:
    state = request.app.state
    return Work(state.db, state.settings, write=request.method not in _READ_METHODS)


async def _settings(request: Request) -> Settings:
    return request.app.state.settings


DbSession = Annotated[Session, Depends(_session, scope="function")]
UnitOfWork = Annotated[Work, Depends(_work)]
AppSettings = Annotated[Settings, Depends(_settings)]

"""The worker threads that run a request's database work, off the event loop."""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

T = TypeVar("T")


class WorkerThreads:
    """A fixed number of threads, each of which may hold one database connection.

    The database's connection pool is sized from the same number (`db.session.Database`), so a
    thread never waits for a connection, and a thread that holds one never waits for anything
    but the database: a unit of work opens, runs, commits and closes in one call here.
    """

    def __init__(self, count: int, name: str = "dockyard-worker") -> None:
        self.count = count
        self._name = name
        self._executor = self._new_executor()

    def _new_executor(self) -> ThreadPoolExecutor:
        # Threads start on demand, up to `count`.
        return ThreadPoolExecutor(max_workers=self.count, thread_name_prefix=self._name)

    async def run(self, fn: Callable[..., T], /, *args: object) -> T:
        """`fn(*args)` in one of the threads, with the caller's context variables.

        What starlette's `run_in_threadpool` does, through a plain executor: anyio's hand-off
        (capacity limiter, cancel scope, result relay) is a visible share of a short request's
        time, and every unit of work pays it. Like anyio's, a cancelled caller still waits for
        the thread to finish, so a request never ends before its transaction does.
        """
        work = self._executor.submit(contextvars.copy_context().run, fn, *args)
        try:
            return await asyncio.wrap_future(work)
        except asyncio.CancelledError:
            # A call not started yet was cancelled with the wait; one running is waited for.
            while not work.done():
                with contextlib.suppress(Exception, asyncio.CancelledError):
                    await asyncio.wrap_future(work)
            raise

    def close(self) -> None:
        """Let the idle threads end; calls already running finish, later ones start new threads.

        An application may be started and stopped more than once (each test client does so),
        so closing must not leave it unable to run work afterwards.
        """
        executor, self._executor = self._executor, self._new_executor()
        executor.shutdown(wait=False)

"""The worker-thread hand-off: results, errors, context variables, and cancellation."""

from __future__ import annotations

import asyncio
import contextvars
import threading

import pytest

from dockyard.server.kit.threads import WorkerThreads

THREADS = WorkerThreads(4)

REQUEST = contextvars.ContextVar("request", default=None)


def test_returns_the_result_from_another_thread() -> None:
    async def main() -> tuple[int, str]:
        return await THREADS.run(lambda a, b: (a + b, threading.current_thread().name), 2, 3)

    total, thread = asyncio.run(main())
    assert total == 5
    assert thread.startswith("dockyard-worker")


def test_raises_the_thread_error() -> None:
    def fail() -> None:
        raise ValueError("boom")

    with pytest.raises(ValueError, match="boom"):
        asyncio.run(THREADS.run(fail))


def test_the_thread_sees_the_caller_context() -> None:
    async def main() -> str | None:
        REQUEST.set("r-1")
        return await THREADS.run(REQUEST.get)

    assert asyncio.run(main()) == "r-1"


def test_a_cancelled_caller_waits_for_the_running_thread() -> None:
    started, release = threading.Event(), threading.Event()
    finished: list[str] = []

    def work() -> None:
        started.set()
        release.wait(5)
        finished.append("done")

    async def main() -> None:
        task = asyncio.create_task(THREADS.run(work))
        await asyncio.to_thread(started.wait, 5)
        task.cancel()
        await asyncio.sleep(0.05)
        assert not task.done()  # still waiting for the thread
        release.set()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert finished == ["done"]

    asyncio.run(main())

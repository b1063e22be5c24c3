"""`client.workloads.run(...)`: a task run to its end, returned with its output."""

from __future__ import annotations

import asyncio
import sys

import pytest

from dockyard.sdk import AsyncClient, Client
from tests.sdk.live_server import LiveServer


def test_run_returns_the_finished_workload_with_its_output(client: Client) -> None:
    program = "import sys; print('hello'); print('bad', file=sys.stderr); sys.exit(0)"
    done = client.workloads.run(
        image="python:3.12", command=[sys.executable, "-c", program], name="sdk-task"
    )
    try:
        assert done.status == "succeeded" and done.exit_code == 0
        assert done.endpoint is None
        assert sorted((e.stream, e.level, e.message) for e in done.output) == [
            ("stderr", "ERROR", "bad"),
            ("stdout", "INFO", "hello"),
        ]
    finally:
        done.delete()


def test_a_failing_run_is_returned_not_raised_and_can_be_deleted(client: Client) -> None:
    done = client.workloads.run(
        image="python:3.12",
        command=[sys.executable, "-c", "raise SystemExit(7)"],
        env={"A": "1"},
        delete=True,
    )
    assert done.status == "failed" and done.exit_code == 7
    assert done.status_details.reason == "exit_nonzero"
    assert not [w for w in client.workloads.list() if w.id == done.id]


def test_run_needs_a_body_or_an_image(client: Client) -> None:
    with pytest.raises(ValueError, match="image"):
        client.workloads.run()


def test_the_async_client_runs_too(server: LiveServer) -> None:
    async def scenario() -> None:
        async with AsyncClient(server.url, server.token) as client:
            done = await client.workloads.run(
                image="python:3.12", command=[sys.executable, "-c", "print(1)"], delete=True
            )
        assert done.status == "succeeded" and [e.message for e in done.output] == ["1"]

    asyncio.run(scenario())

"""The asyncio client shares the blocking one's operations: same objects, same errors."""

from __future__ import annotations

import asyncio

import pytest

from dockyard.sdk import AsyncClient, Conflict, NotFound
from tests.sdk.live_server import LiveServer, http_app_spec, unique


def test_the_async_client(server: LiveServer) -> None:
    async def scenario() -> None:
        async with AsyncClient(server.url, server.token) as client:
            tag = unique("async")
            for i in range(3):
                await client.artifacts.create(
                    name=f"{tag}-{i}", spec=http_app_spec(), tags={"batch": tag}
                )
            names = [a.name async for a in client.artifacts.list(tag_values=[tag]).pages_of(2)]
            assert names == [f"{tag}-2", f"{tag}-1", f"{tag}-0"]

            artifact = await client.artifacts.create(name=tag, spec=http_app_spec())
            assert (await artifact.lock()).version == 1
            with pytest.raises(Conflict):
                await artifact.update(name="renamed")
            with pytest.raises(NotFound):
                await client.workloads.get("0" * 24)

            workload = await client.workloads.create(artifact_id=artifact.id, name=tag)
            await workload.wait("running", timeout=30, interval=0.2)
            assert (await workload.reload()).status == "running"
            await workload.delete()

    asyncio.run(scenario())


def test_a_blocking_loop_over_an_async_list_is_refused(server: LiveServer) -> None:
    client = AsyncClient(server.url, server.token)
    with pytest.raises(TypeError, match="async for"):
        list(client.artifacts.list())
    asyncio.run(client.aclose())

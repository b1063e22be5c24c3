"""The invoke proxy's stop, which a server's shutdown waits for."""

from __future__ import annotations

import asyncio

import pytest

from dockyard.server.app import create_app
from dockyard.server.settings import Settings


# The reconciler pokes the routing table from its thread after a pass, at any moment; each
# count of loop turns between the poke and the stop lands the stop at another step of the
# table's wake-up (the poke scheduled, the wait woken, the wait done).
@pytest.mark.parametrize("backend", ["sqlite"])
@pytest.mark.parametrize("turns", range(6))
def test_stop_ends_the_routing_table_even_as_a_poke_wakes_it(
    settings: Settings, turns: int
) -> None:
    app = create_app(settings, run_reconciler=False)
    proxy = app.state.proxy

    async def main() -> None:
        await proxy.start()
        await proxy.table.wait_for_change(30)  # the first read is in: the table waits
        assert proxy.table.version >= 1
        app.state.routes.poke()
        for _ in range(turns):
            await asyncio.sleep(0)
        stopping = asyncio.ensure_future(proxy.stop())
        done, _ = await asyncio.wait({stopping}, timeout=30)
        running = asyncio.all_tasks() - {asyncio.current_task(), stopping}
        if not done:
            for task in running:  # end them, so the failure is reported rather than a hang
                task.cancel()
            await asyncio.gather(stopping, return_exceptions=True)
        assert done, "stop() still waited for the routing table's task"
        assert not running  # the proxy's background tasks all ended

    try:
        asyncio.run(main())
    finally:
        app.state.db.dispose()

"""500 concurrent writes, spread over every write route, against a real `dockyard serve`.

The server runs as a subprocess (uvicorn, the fake runtime so containers are not what is
measured) on SQLite and on PostgreSQL. Every request must be answered within 30 s and none
with a 5xx. Before the unit-of-work change, 45 concurrent `POST /credentials` gave 500s after
30 s: a sync handler kept its connection (and SQLite's write lock) while it waited for a
thread, and every thread waited for a connection or that lock.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest
from bench.load import WRITE_ROUTES, burst
from bench.measure import Server

from dockyard.server.app import create_app
from dockyard.server.settings import Settings
from tests.conftest import ADMIN_TOKEN

REQUESTS = 500
CLIENT_TIMEOUT = 30.0


@pytest.fixture
def server(database_url: str, tmp_path: Path) -> Iterator[Server]:
    env = {"DOCKYARD_ADMIN_TOKEN": ADMIN_TOKEN}
    with Server(database_url, tmp_path / "home", runtime="fake", env=env) as running:
        yield running


def test_every_write_route_is_in_the_burst(tmp_path: Path) -> None:
    # Builds answer 501 in this release by design; every other write operation is exercised.
    settings = Settings(home=tmp_path / "home", runtime="fake", admin_token=ADMIN_TOKEN)
    app = create_app(settings, run_reconciler=False)
    document = app.openapi()
    app.state.db.dispose()
    documented = {
        (method.upper(), path.removeprefix("/api/v2"))
        for path, operations in document["paths"].items()
        for method in operations
        if method in ("post", "put", "patch", "delete") and not path.endswith("/builds")
    }
    assert documented == set(WRITE_ROUTES)


def test_500_concurrent_writes_get_no_5xx_and_no_time_out(server: Server) -> None:
    outcome = asyncio.run(burst(server.url, ADMIN_TOKEN, REQUESTS, timeout=CLIENT_TIMEOUT))
    assert outcome.errors == [], "\n".join(outcome.errors[:20])
    assert outcome.timeouts == 0
    assert sum(outcome.statuses.values()) == REQUESTS
    # The burst did the work it was meant to: most writes succeed (some are meant to find a
    # conflict, such as a replacement racing another on the same workload).
    assert outcome.succeeded >= REQUESTS * 0.8, outcome.by_route
    assert set(outcome.by_route) == set(WRITE_ROUTES)

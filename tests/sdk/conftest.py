"""Fixtures of the SDK tests: one real server per test session, a client signed in to it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from dockyard.sdk import Client
from tests.sdk.live_server import LiveServer, shared_server


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    with shared_server(tmp_path_factory) as live:
        yield live


@pytest.fixture(autouse=True)
def _no_user_config(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """Tests never read the developer's profile or DOCKYARD_* variables."""
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    for name in ("DOCKYARD_URL", "DOCKYARD_TOKEN", "DOCKYARD_PROFILE"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def client(server: LiveServer) -> Iterator[Client]:
    with Client(server.url, server.token) as dy:
        yield dy

"""Fixtures of the CLI tests: the shared real server and a runner signed in to it."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from dockyard.cli.main import app
from dockyard.sdk import Client
from tests.sdk.live_server import LiveServer, shared_server

Dockyard = Callable[..., Result]


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    with shared_server(tmp_path_factory) as live:
        yield live


@pytest.fixture(autouse=True)
def _no_user_config(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """The CLI under test never reads the developer's profile or DOCKYARD_* variables."""
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    for name in ("DOCKYARD_URL", "DOCKYARD_TOKEN", "DOCKYARD_PROFILE", "DOCKYARD_DEBUG"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def dockyard(server: LiveServer) -> Dockyard:
    """Run `dockyard ARGS…` in-process, signed in through DOCKYARD_URL / DOCKYARD_TOKEN."""
    runner = CliRunner()

    def run(*args: str, input: str | None = None, env: dict[str, str] | None = None) -> Result:
        environment = {"DOCKYARD_URL": server.url, "DOCKYARD_TOKEN": server.token, **(env or {})}
        return runner.invoke(app, list(args), input=input, env=environment)

    return run


@pytest.fixture
def sdk(server: LiveServer) -> Iterator[Client]:
    """An SDK client to arrange and check what the CLI does."""
    with Client(server.url, server.token) as client:
        yield client


@pytest.fixture
def write(tmp_path: Path) -> Callable[[str, str], str]:
    """Write a file in the test's directory and return its path."""

    def writer(name: str, text: str) -> str:
        path = tmp_path / name
        path.write_text(text)
        return str(path)

    return writer

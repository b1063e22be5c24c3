"""A real `dockyard serve` (process runtime) and the hosted platform's Python client on it.

The client is used exactly as its users and the tools built on it use it:
`datarobot.Client(token=…, endpoint=f"{base}/api/v2")`, its default `Token` scheme and its
`version/` handshake untouched, then its REST object's `get/post/patch/put/delete`.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import datarobot as dr
import pytest
from datarobot.rest import RESTClientObject

from tests.sdk.live_server import LiveServer, start_server

# The server runs workloads as local processes, open to every user (not only admins).
SERVER_SETTINGS = {"DOCKYARD_RUNTIME": "process", "DOCKYARD_PROCESS_RUNTIME_OPEN": "true"}


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    live = start_server(tmp_path_factory.mktemp("compat-home"), SERVER_SETTINGS)
    try:
        yield live
    finally:
        live.stop()


@pytest.fixture(autouse=True)
def _no_user_config(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """The client reads no developer's drconfig.yaml or DATAROBOT_* variables."""
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    for name in (
        "DATAROBOT_ENDPOINT",
        "DATAROBOT_API_TOKEN",
        "DATAROBOT_CONFIG_FILE",
        "DATAROBOT_DEFAULT_USE_CASE",
    ):
        monkeypatch.delenv(name, raising=False)


def connect(server: LiveServer, token: str | None = None) -> RESTClientObject:
    """What users write: the client with nothing but a token and the endpoint."""
    return dr.Client(token=token or server.token, endpoint=f"{server.url}/api/v2")


@pytest.fixture
def rest(server: LiveServer) -> RESTClientObject:
    return connect(server)


def wait_for(read: Callable[[], Any], done: Callable[[Any], bool], timeout: float = 60.0) -> Any:
    """Poll `read()` until `done(value)`; the last value is in the failure message."""
    deadline = time.monotonic() + timeout
    value = read()
    while not done(value):
        assert time.monotonic() < deadline, f"still waiting; last seen: {value!r}"
        time.sleep(0.3)
        value = read()
    return value

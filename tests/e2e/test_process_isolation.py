"""A process-runtime workload looks for the server's secrets and finds none of them.

Runs a real `dockyard serve` on the process runtime twice: admins only (the default; an admin
starts the workload, a non-admin is refused) and open (a laptop; a non-admin starts it). Either
way the replica must not be handed the data dir, Dockyard's files, the server's environment or
its admin token. The open mode still isolates nothing from a program that knows where the data
dir is (docs/security.md); this checks what Dockyard hands over, not what a determined program
could find on its own.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.e2e.conftest import APPS, Engine, ProcessEngine, Server, free_port, wait_for


@pytest.fixture(scope="module", params=["admins-only", "open"])
def mode(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture(scope="module")
def engine() -> Engine:
    return ProcessEngine()


@pytest.fixture(scope="module")
def server(mode: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    home = tmp_path_factory.mktemp(f"home-{mode}")
    running = Server(home, {"DOCKYARD_RUNTIME": "process"})
    running.env.pop("DOCKYARD_PROCESS_RUNTIME_OPEN", None)
    if mode == "open":
        running.env["DOCKYARD_PROCESS_RUNTIME_OPEN"] = "true"
    running.start()
    try:
        yield running
    finally:
        running.stop()


def _user(server: Server) -> httpx.Client:
    user = server.api.post("/users", json={"username": f"user-{free_port()}"})
    assert user.status_code == 201, user.text
    token = server.api.post("/apiTokens", json={"name": "t", "userId": user.json()["id"]})
    assert token.status_code == 201, token.text
    return httpx.Client(
        base_url=server.api.base_url,
        headers={"Authorization": f"Bearer {token.json()['token']}"},
        timeout=15,
    )


def _snoop_spec() -> dict[str, Any]:
    port = free_port()
    probe = {"path": "/healthz", "port": port, "initialDelaySeconds": 0, "periodSeconds": 1}
    container = {
        "name": "snoop",
        "primary": True,
        "imageUri": "docker.io/library/python:3.12-slim",
        "port": port,
        "entrypoint": [sys.executable, str(APPS / "snoop.py")],
        "environmentVars": [{"name": "GREETING", "value": "hello"}],
        "readinessProbe": probe,
    }
    return {"containerGroups": [{"name": "default", "containers": [container]}]}


def test_a_replica_finds_none_of_the_servers_secrets(server: Server, mode: str) -> None:
    user = _user(server)
    body = {"name": "snoop", "artifact": {"name": "snoop", "spec": _snoop_spec()}}
    if mode == "admins-only":
        refused = user.post("/workloads", json=body)
        assert refused.status_code == 403, refused.text
        assert refused.json()["code"] == "runtime_requires_admin"
        created = server.api.post("/workloads", json=body)
    else:
        created = user.post("/workloads", json=body)
    assert created.status_code == 201, created.text
    workload = created.json()
    wait_for(
        "the snoop to run",
        lambda: server.api.get(f"/workloads/{workload['id']}").json()["status"] == "running",
        context=lambda: server.api.get(f"/workloads/{workload['id']}/events").json(),
    )

    invoked = httpx.get(
        workload["endpoint"], headers={"Authorization": f"Bearer {server.token}"}, timeout=15
    )
    assert invoked.status_code == 200, invoked.text
    seen = invoked.json()

    assert seen["server_pid"] == server.process.pid
    home = str(server.home)
    assert home not in seen["cwd"] and home not in seen["env"]["HOME"]
    assert not [k for k, v in seen["env"].items() if home in v or k.startswith("DOCKYARD_")]
    assert seen["found"] == [], "Dockyard files within reach"
    assert "replica.json" not in seen["listing"]
    for what in ("server_environ", "server_cwd", "server_files", "shim_cwd"):
        assert str(seen[what]).startswith("refused"), (what, seen[what])
    assert server.token not in seen["tokens"]
    # Nothing of the server's own variables came along (only PATH, LANG, LC_*, TZ, HOME).
    assert seen["env"]["HOME"] == seen["cwd"] and Path(seen["cwd"]).is_dir()

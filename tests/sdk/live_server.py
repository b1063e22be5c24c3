"""A real `dockyard serve` in a subprocess, for the SDK and CLI tests.

Process runtime, a temporary data dir, a known admin token, a free port. Routes that other
parts of the server may not serve yet (promote, replacement, deployments, invoke) are found
out from the server itself, so a test of such a route runs as soon as the route exists.
"""

from __future__ import annotations

import os
import secrets
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

ADMIN_TOKEN = "dy_sdk_test_admin_" + "k" * 24
START_TIMEOUT = 30.0
MISSING = "000000000000000000000000"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# Python's HTTP server on the port Dockyard gives the replica in PORT (a replacement's new
# replicas get ports of their own on the process runtime).
SERVE_ON_PORT = (
    "import os, http.server as h; h.test(HandlerClass=h.SimpleHTTPRequestHandler, "
    "port=int(os.environ['PORT']), bind='127.0.0.1')"
)


def http_app_spec(port: int | None = None) -> dict[str, Any]:
    """A spec the process runtime can run, ready within a second."""
    port = port or free_port()
    return {
        "containerGroups": [
            {
                "containers": [
                    {
                        "primary": True,
                        "imageUri": "docker.io/library/python:3.12-slim",
                        "port": port,
                        "entrypoint": [sys.executable, "-c", SERVE_ON_PORT],
                        "readinessProbe": {
                            "path": "/",
                            "initialDelaySeconds": 0,
                            "periodSeconds": 1,
                        },
                    }
                ]
            }
        ]
    }


def unique(prefix: str) -> str:
    return f"{prefix}-{secrets.token_hex(3)}"


@dataclass
class LiveServer:
    url: str
    token: str
    home: Path
    process: subprocess.Popen[bytes]
    log: Path

    def http(self, token: str | None = None) -> httpx.Client:
        headers = {"Authorization": f"Bearer {token or self.token}"}
        return httpx.Client(base_url=self.url + "/api/v2", headers=headers, timeout=30)

    def stop(self) -> None:
        self._delete_workloads()
        self.process.terminate()
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=5)

    def _delete_workloads(self) -> None:
        # Workload processes outlive the server by design (it adopts them on restart): remove
        # them through the API so none is left behind.
        try:
            with self.http() as http:
                for deployment in _all(http, "/console/deployments"):
                    http.delete(f"/console/deployments/{deployment['id']}")
                for workload in _all(http, "/workloads"):
                    http.delete(f"/workloads/{workload['id']}")
        except httpx.HTTPError:
            pass


def _all(http: httpx.Client, path: str) -> list[dict[str, Any]]:
    response = http.get(path, params={"limit": 100})
    return response.json().get("data", []) if response.status_code == 200 else []


def start_server(home: Path, settings: dict[str, str] | None = None) -> LiveServer:
    """`settings`: more DOCKYARD_* variables for this server (they override the defaults)."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("DOCKYARD_")}
    env.update(
        DOCKYARD_HOME=str(home),
        DOCKYARD_RUNTIME="process",
        DOCKYARD_ADMIN_TOKEN=ADMIN_TOKEN,
        DOCKYARD_HOST="127.0.0.1",
        DOCKYARD_PORT=str(port),
        DOCKYARD_RESTART_BACKOFF_SECONDS="1",
    )
    env.update(settings or {})
    log = home / "server.log"
    command = [
        sys.executable,
        "-c",
        "from dockyard.cli.main import app; app()",
        "serve",
        "--log-level",
        "warning",
    ]
    with log.open("wb") as out:
        process = subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT)
    server = LiveServer(f"http://127.0.0.1:{port}", ADMIN_TOKEN, home, process, log)
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"dockyard serve exited:\n{log.read_text()[-3000:]}")
        try:
            if httpx.get(server.url + "/readyz", timeout=2).status_code == 200:
                return server
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    server.stop()
    raise RuntimeError(f"dockyard serve did not get ready:\n{log.read_text()[-3000:]}")


_shared: list[LiveServer] = []
_users = 0


@contextmanager
def shared_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """One server for the whole session, whichever test directory asks first.

    The SDK and CLI conftests each declare a session fixture; both get this one process,
    stopped when the last of them is finalized.
    """
    global _users
    if not _shared:
        _shared.append(start_server(tmp_path_factory.mktemp("dockyard-home")))
    _users += 1
    try:
        yield _shared[0]
    finally:
        _users -= 1
        if _users == 0:
            _shared.pop().stop()

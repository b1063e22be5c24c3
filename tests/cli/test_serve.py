"""`dockyard serve` says where workloads run, and a busy port stops it before anything starts."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import httpx

from tests.conftest import ADMIN_TOKEN
from tests.sdk.live_server import start_server


def _serve(home: Path, port: int, **env: str) -> subprocess.CompletedProcess[str]:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("DOCKYARD_")}
    environment.update(DOCKYARD_HOME=str(home), DOCKYARD_RUNTIME="process", **env)
    command = [sys.executable, "-c", "from dockyard.cli.main import app; app()", "serve"]
    return subprocess.run(
        [*command, "--port", str(port)],
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_the_banner_names_runtime_engine_and_image_store(tmp_path: Path) -> None:
    server = start_server(tmp_path)
    try:
        assert httpx.get(f"{server.url}/readyz").status_code == 200
        banner = server.log.read_text()
    finally:
        server.process.terminate()
        server.process.wait(15)

    for line in (
        f"data dir: {tmp_path}",
        "runtime: process",
        "engine: none: each container's entrypoint runs as a local process",
        "image store: none: images are not used",
        "who may run workloads here: admins only",
    ):
        assert line in banner, banner


def test_a_busy_port_fails_before_the_banner(tmp_path: Path) -> None:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]

        done = _serve(tmp_path / "home", port, DOCKYARD_ADMIN_TOKEN=ADMIN_TOKEN)

    assert done.returncode == 1
    assert f"Cannot listen on 127.0.0.1:{port}" in done.stderr
    assert "Is another `dockyard serve` running?" in done.stderr
    assert "Dockyard " not in done.stderr + done.stdout and "Traceback" not in done.stderr
    assert not (tmp_path / "home").exists(), "nothing may start before the port is ours"

"""A Docker-API engine for the docker runtime tests.

Uses DOCKER_HOST when set (CI sets it from `scripts/test-podman.sh start`); otherwise, when
podman is installed and we are root, starts a private Podman service with that script for the
session. Elsewhere the docker tests skip, or fail under DOCKYARD_TEST_REQUIRE_ALL=1.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from dockyard.server.runtimes.podman_service import engine_answers
from tests.conftest import require_service

SCRIPT = Path(__file__).resolve().parents[3] / "scripts" / "test-podman.sh"


@pytest.fixture(scope="session")
def docker_url() -> Iterator[str]:
    url = os.environ.get("DOCKER_HOST")
    if url:
        require_service(engine_answers(url), f"no container engine answers at DOCKER_HOST={url}")
        yield url
        return
    can_start = shutil.which("podman") is not None and os.geteuid() == 0
    require_service(
        can_start,
        "docker runtime tests need a container engine: set DOCKER_HOST, or run them as root "
        'with podman installed (eval "$(scripts/test-podman.sh start DIR)")',
    )
    directory = tempfile.mkdtemp(prefix="dockyard-podman-", dir="/tmp")
    started = subprocess.run([SCRIPT, "start", directory], capture_output=True, text=True)
    try:
        if started.returncode != 0:
            pytest.fail(f"scripts/test-podman.sh start failed: {started.stderr}")
        exports = dict(
            line.removeprefix("export ").split("=", 1)
            for line in started.stdout.splitlines()
            if line.startswith("export ")
        )
        yield exports["DOCKER_HOST"]
    finally:
        subprocess.run([SCRIPT, "stop", directory], capture_output=True)

"""A real `dockyard serve` in a subprocess, and the engines its workloads run on.

`engine` runs each test twice: on the process runtime (always available) and on a private
Podman service (DOCKER_HOST, or one `scripts/test-podman.sh` starts; skipped without podman,
failed under DOCKYARD_TEST_REQUIRE_ALL=1).
"""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest

from tests.server.runtimes.conftest import docker_url  # noqa: F401 - the shared Podman fixture

T = TypeVar("T")
APPS = Path(__file__).parent / "apps"
BUSYBOX_IMAGE = "localhost/dockyard-test-bb:1"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for(
    what: str,
    check: Callable[[], T | None],
    timeout: float = 30.0,
    context: Callable[[], Any] | None = None,
) -> T:
    """Poll `check` until it returns something truthy; fail with `what` after `timeout`.

    `context`, when given, is called on failure and its result shown to explain it."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        try:
            last = check()
        except (httpx.HTTPError, OSError) as exc:
            last = exc
        else:
            if last:
                return last
        time.sleep(0.1)
    extra = f"; context: {context()!r}" if context is not None else ""
    pytest.fail(f"timed out after {timeout:.0f} s waiting for {what} (last: {last!r}){extra}")


class Server:
    """One `dockyard serve` process on a free port with small reconcile settings."""

    def __init__(self, home: Path, env: dict[str, str], token: str | None = None) -> None:
        self.home = home
        self.port = free_port()
        self.token = token or "dy_e2e_" + secrets.token_hex(16)
        self.env = {
            **os.environ,
            "DOCKYARD_HOME": str(home),
            "DOCKYARD_ADMIN_TOKEN": self.token,
            "DOCKYARD_RESTART_BACKOFF_SECONDS": "0.5",
            "DOCKYARD_RESTART_BACKOFF_MAX_SECONDS": "1",
            "DOCKYARD_RESTART_LIMIT": "3",
            "DOCKYARD_RECONCILE_SWEEP_SECONDS": "1",
            **env,
        }
        self.process: subprocess.Popen[bytes] | None = None
        self.url = f"http://127.0.0.1:{self.port}"
        self.api = httpx.Client(
            base_url=f"{self.url}/api/v2",
            headers={"Authorization": f"Bearer {self.token}"},
            timeout=15,
        )

    def start(self) -> None:
        command = [_dockyard(), "serve", "--port", str(self.port), "--log-level", "warning"]
        log = open(self.home / "serve.log", "ab")  # noqa: SIM115 - the child owns it
        self.process = subprocess.Popen(
            command, env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        wait_for("the server to answer /readyz", self._ready, timeout=60)

    def _ready(self) -> bool:
        assert self.process is not None
        if self.process.poll() is not None:
            pytest.fail(f"dockyard serve exited: {self.log()[-3000:]}")
        return httpx.get(f"{self.url}/readyz", timeout=2).status_code == 200

    def kill9(self) -> None:
        assert self.process is not None
        os.kill(self.process.pid, signal.SIGKILL)
        self.process.wait(10)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)

    def log(self) -> str:
        return (self.home / "serve.log").read_text(errors="replace")


def _dockyard() -> str:
    beside = Path(sys.executable).with_name("dockyard")
    return str(beside) if beside.exists() else (shutil.which("dockyard") or "dockyard")


class Engine:
    """What a test needs to know about where its workloads run."""

    name = "abstract"

    def server_env(self) -> dict[str, str]:
        raise NotImplementedError

    def web(self, greeting: str = "hello", **probes: Any) -> dict[str, Any]:
        """A container group spec serving GET / with the greeting, ready on /healthz."""
        raise NotImplementedError

    def crashing(self) -> dict[str, Any]:
        raise NotImplementedError

    def objects(self, workload_id: str) -> set[str]:
        """Ids of what runs for the workload: pids (process) or container ids (podman)."""
        raise NotImplementedError

    def own_objects(self, workload_id: str) -> set[str]:
        """What runs of the workload's own containers: `objects` less what only holds a
        replica's place (the infra containers a replica parked at zero keeps running)."""
        return self.objects(workload_id)

    def kill_primary(self, workload_id: str) -> None:
        raise NotImplementedError

    def greeting(self, address: str) -> str:
        return httpx.get(f"http://{address}/", timeout=5).json()["greeting"]


def _spec(container: dict[str, Any], sidecars: tuple[dict[str, Any], ...] = ()) -> dict[str, Any]:
    return {"containerGroups": [{"name": "default", "containers": [container, *sidecars]}]}


def _probes(port: int, probes: dict[str, Any]) -> dict[str, Any]:
    fast = {"initialDelaySeconds": 0, "periodSeconds": 1, "timeoutSeconds": 2}
    out = {"readinessProbe": {"path": "/healthz", "port": port, **fast}}
    for key, value in probes.items():
        out[key] = {**fast, "port": port, **value}
    return out


class ProcessEngine(Engine):
    name = "process"

    def server_env(self) -> dict[str, str]:
        return {"DOCKYARD_RUNTIME": "process"}

    def web(self, greeting: str = "hello", **probes: Any) -> dict[str, Any]:
        port = free_port()  # processes share the host's ports: each workload its own
        return _spec(
            {
                "name": "web",
                "primary": True,
                "imageUri": "docker.io/library/python:3.12-slim",  # not used by this runtime
                "port": port,
                "entrypoint": [sys.executable, str(APPS / "web.py")],
                "environmentVars": [{"name": "GREETING", "value": greeting}],
                **_probes(port, probes),
            }
        )

    def crashing(self) -> dict[str, Any]:
        spec = self.web()
        spec["containerGroups"][0]["containers"][0]["environmentVars"].append(
            {"name": "MODE", "value": "crash"}
        )
        return spec

    def objects(self, workload_id: str) -> set[str]:
        return {str(pid) for pid, _ in _processes_of(workload_id)}

    def kill_primary(self, workload_id: str) -> None:
        apps = [
            pid
            for pid, cmdline in _processes_of(workload_id)
            if "web.py" in cmdline and "process_shim" not in cmdline
        ]
        assert apps, "no app process to kill"
        os.kill(apps[0], signal.SIGKILL)


def _processes_of(workload_id: str) -> list[tuple[int, str]]:
    """Live processes carrying the workload's WORKLOAD_ID, with their command lines."""
    marker = f"WORKLOAD_ID={workload_id}".encode()
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if marker not in (entry / "environ").read_bytes().split(b"\0"):
                continue
            status = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if status != "Z":
            found.append((int(entry.name), cmdline))
    return found


class PodmanEngine(Engine):
    name = "podman"

    def __init__(self, url: str) -> None:
        import docker

        from tests.support.images import ensure_busybox_image

        self.url = url
        self.client = docker.DockerClient(base_url=url, timeout=30)
        ensure_busybox_image(self.client, BUSYBOX_IMAGE)

    def server_env(self) -> dict[str, str]:
        return {"DOCKYARD_RUNTIME": "docker", "DOCKER_HOST": self.url}

    def web(self, greeting: str = "hello", **probes: Any) -> dict[str, Any]:
        script = (
            "mkdir -p /tmp/www && echo ok > /tmp/www/healthz && "
            'printf \'{"greeting": "%s"}\' "$GREETING" > /tmp/www/index.html && '
            'echo "INFO web listening on $PORT" && exec httpd -f -v -p "$PORT" -h /tmp/www'
        )
        return _spec(
            {
                "name": "web",
                "primary": True,
                "imageUri": BUSYBOX_IMAGE,
                "port": 8080,
                "entrypoint": ["sh", "-c", script],
                "environmentVars": [{"name": "GREETING", "value": greeting}],
                **_probes(8080, probes),
            }
        )

    def crashing(self) -> dict[str, Any]:
        spec = self.web()
        spec["containerGroups"][0]["containers"][0]["entrypoint"] = [
            "sh",
            "-c",
            "echo 'ERROR cannot start: crash mode' >&2; exit 3",
        ]
        return spec

    def objects(self, workload_id: str) -> set[str]:
        containers = self.client.containers.list(
            all=True, filters={"label": f"dockyard.workload={workload_id}"}
        )
        return {c.id for c in containers if c.status in ("running", "created", "restarting")}

    def own_objects(self, workload_id: str) -> set[str]:
        containers = self.client.containers.list(
            all=True, filters={"label": f"dockyard.workload={workload_id}"}
        )
        return {
            c.id
            for c in containers
            if c.status in ("running", "created", "restarting")
            and c.labels.get("dockyard.role") != "infra"
        }

    def all_objects(self, workload_id: str) -> set[str]:
        containers = self.client.containers.list(
            all=True, filters={"label": f"dockyard.workload={workload_id}"}
        )
        return {c.id for c in containers}

    def kill_primary(self, workload_id: str) -> None:
        containers = self.client.containers.list(
            filters={
                "label": [f"dockyard.workload={workload_id}", "dockyard.container=web"],
            }
        )
        assert containers, "no primary container to kill"
        containers[0].kill()


@pytest.fixture(scope="module", params=["process", "podman"])
def engine(request: pytest.FixtureRequest) -> Engine:
    if request.param == "process":
        return ProcessEngine()
    return PodmanEngine(request.getfixturevalue("docker_url"))


@pytest.fixture(scope="module")
def server(engine: Engine, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    # One server per engine: starting one costs seconds on a busy machine. Each test deletes
    # what it made (below), and a test that kills the server leaves a restarted one behind.
    home = tmp_path_factory.mktemp(f"home-{engine.name}")
    running = Server(home, engine.server_env())
    running.start()
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture(autouse=True)
def _clean_up(server: Server, engine: Engine) -> Iterator[None]:
    """Delete every workload the test left, so nothing outlives it on a shared engine."""
    yield
    if server.process is None or server.process.poll() is not None:
        server.start()
    workloads = server.api.get("/workloads").json().get("data", [])
    for workload in workloads:
        server.api.delete(f"/workloads/{workload['id']}")
    for workload in workloads:
        wait_for(
            f"workload {workload['id']} to leave nothing behind",
            lambda w=workload: not engine.objects(w["id"]),
            timeout=30,
        )

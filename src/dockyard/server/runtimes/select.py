"""Which runtime this server uses (DOCKYARD_RUNTIME), and the instance id its objects carry.

`auto` prefers a container engine that already answers, then a Podman service Dockyard starts
itself (the embedded default on machines with podman but no daemon), then local processes.
"""

from __future__ import annotations

import atexit
import os
import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from dockyard.server.kit.ids import new_id
from dockyard.server.runtimes.base import Runtime, RuntimePermanentError
from dockyard.server.runtimes.podman_service import PodmanService, engine_answers
from dockyard.server.settings import RuntimeName, Settings

if TYPE_CHECKING:
    from dockyard.server.runtimes.docker_build import Limits


def engine_candidates(environ: Mapping[str, str]) -> list[str]:
    """Docker-API endpoints to try, in order: the one DOCKER_HOST names, Docker's socket, the
    system Podman's, then this user's Podman."""
    candidates = []
    if environ.get("DOCKER_HOST"):
        candidates.append(environ["DOCKER_HOST"])
    candidates += ["unix:///var/run/docker.sock", "unix:///run/podman/podman.sock"]
    if environ.get("XDG_RUNTIME_DIR"):
        candidates.append(f"unix://{environ['XDG_RUNTIME_DIR']}/podman/podman.sock")
    return candidates


def choose_runtime(
    settings: Settings, environ: Mapping[str, str] | None = None
) -> tuple[Runtime, str]:
    """The runtime to use and a sentence saying which one and why, for the server's log."""
    environ = os.environ if environ is None else environ
    name = settings.runtime
    if name == RuntimeName.KUBERNETES:
        from dockyard.server.runtimes.kubernetes.runtime import KubernetesRuntime

        runtime = KubernetesRuntime.connect(settings)
        return runtime, (
            f"kubernetes runtime on {runtime.connection.server}, namespace {runtime.namespace}"
        )
    if name == RuntimeName.FAKE:
        from dockyard.server.runtimes.fake import FakeRuntime

        return FakeRuntime(), "fake runtime (in memory, for tests)"
    if name in (RuntimeName.AUTO, RuntimeName.DOCKER):
        found = _docker_runtime(settings, environ)
        if found is not None:
            return found
        if name == RuntimeName.DOCKER:
            raise RuntimePermanentError(
                "DOCKYARD_RUNTIME=docker but no container engine answers at "
                + ", ".join(engine_candidates(environ))
                + " and podman is not installed to start one",
                code="runtime_unavailable",
            )
    from dockyard.server.runtimes.process import ProcessRuntime

    reason = "" if name == RuntimeName.PROCESS else " (no container engine found)"
    return (
        ProcessRuntime(settings.home / "runtime" / "process", log_max_bytes=settings.log_max_bytes),
        f"process runtime{reason}: containers run as local processes; "
        "images, limits and securityContext are not applied",
    )


def _docker_runtime(settings: Settings, environ: Mapping[str, str]) -> tuple[Runtime, str] | None:
    from dockyard.server.runtimes.docker import DockerRuntime

    for base_url in engine_candidates(environ):
        if engine_answers(base_url):
            runtime = DockerRuntime.connect(base_url, limits=_limits(settings))
            return runtime, f"docker runtime on the engine at {base_url}"
    if shutil.which("podman") is None:
        return None
    service = PodmanService(settings.home / "podman")
    try:
        base_url = service.start()
    except OSError:
        return None
    atexit.register(service.stop)  # also stopped by runtime.close(); stopping twice is fine
    runtime = DockerRuntime.connect(base_url, on_close=service.stop, limits=_limits(settings))
    return runtime, f"docker runtime on a podman service Dockyard started at {base_url}"


def _limits(settings: Settings) -> Limits:
    from dockyard.server.runtimes.docker_build import Limits  # docker is imported when used

    return Limits(task_pids=settings.task_pids_limit, log_bytes=settings.log_max_bytes)


def instance_id(home: Path) -> str:
    """This server's id, kept in its data dir.

    It prefixes the server's reconcile leases, and it becomes the installation's id (the label
    on every runtime object) when the database has none yet, as on a first start."""
    path = home / "instance_id"
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        pass
    home.mkdir(parents=True, exist_ok=True)
    value = new_id()
    path.write_text(value + "\n")
    return value

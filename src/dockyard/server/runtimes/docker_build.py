"""What the docker runtime asks the engine to create: container options, images it needs.

Images are used as given: one already on the engine is never pulled again (a locally built or
retagged image is what the user meant); a missing one is pulled once, and a failed pull is a
permanent error that names the image.
"""

from __future__ import annotations

import io
import re
import shutil
import tarfile
from dataclasses import dataclass
from typing import Any

import docker
import docker.errors
from docker.types import LogConfig

from dockyard.server.runtimes.base import (
    ContainerSpec,
    GroupSpec,
    RuntimePermanentError,
    RuntimeTemporaryError,
)

INFRA_IMAGE = "localhost/dockyard-pause:1"


@dataclass(frozen=True)
class Limits:
    """What the runtime caps on its own, whatever a spec asks."""

    # Processes in one container of a task (or of a workload that may end as one): a fork
    # bomb stops there instead of exhausting the machine's process table.
    task_pids: int = 512
    log_bytes: int = 10 * 1024 * 1024  # output kept per container; the oldest is dropped


def may_run_as_task(group: GroupSpec) -> bool:
    """A declared task, or a group whose containers declare no probes: what runs and exits
    (often code the workload's creator did not write) and may end as a task."""
    return group.primary.port is None or not any(c.probes for c in group.containers)


def container_options(
    client: docker.DockerClient,
    container: ContainerSpec,
    group: GroupSpec,
    limits: Limits | None = None,
) -> dict[str, Any]:
    """`containers.create` keyword arguments enforcing the spec's env, limits and hardening."""
    limits = limits or Limits()
    security = container.security
    env = dict(container.env)
    if group.primary.port:
        env.setdefault("PORT", str(group.primary.port))  # the namespace's primary port
    options: dict[str, Any] = {
        "environment": env,
        # As PID 1 an app gets no default SIGTERM handling; an init forwards it (the engine's
        # `init = true` setting is ignored by Podman 4, so it is asked for on every container).
        "init": True,
        "read_only": security.read_only_root_filesystem,
        # `json-file` is what both Docker and Podman accept with a size; past it the engine
        # drops the oldest output.
        "log_config": LogConfig(type="json-file", config={"max-size": str(limits.log_bytes)}),
    }
    if may_run_as_task(group):
        options["pids_limit"] = limits.task_pids
    if container.entrypoint:
        options["entrypoint"] = list(container.entrypoint)
        options["command"] = []
    if container.memory:
        options["mem_limit"] = container.memory
    if container.cpu:
        options["nano_cpus"] = int(container.cpu * 1_000_000_000)
    if security.capabilities_drop:
        options["cap_drop"] = list(security.capabilities_drop)
    if security.capabilities_add:
        options["cap_add"] = list(security.capabilities_add)
    security_opt = []
    if security.allow_privilege_escalation is False:
        security_opt.append("no-new-privileges")
    if security.seccomp_profile == "Unconfined":
        security_opt.append("seccomp=unconfined")
    if security_opt:
        options["security_opt"] = security_opt
    if security.run_as_user is not None:
        user = str(security.run_as_user)
        if security.run_as_group is not None:
            user += f":{security.run_as_group}"
        options["user"] = user
    if security.run_as_non_root:
        _require_non_root(client, container)
    return options


def _require_non_root(client: docker.DockerClient, container: ContainerSpec) -> None:
    user = container.security.run_as_user
    if user is None:
        configured = client.images.get(container.image).attrs["Config"].get("User") or ""
        if configured.split(":")[0] in ("", "0", "root"):
            raise RuntimePermanentError(
                f"container {container.name}: runAsNonRoot is set but image "
                f"{container.image} runs as root; set runAsUser",
                code="run_as_non_root",
            )
    elif user == 0:
        raise RuntimePermanentError(
            f"container {container.name}: runAsNonRoot with runAsUser 0", code="run_as_non_root"
        )


def require_image(client: docker.DockerClient, image: str, *, pull_missing: bool) -> None:
    try:
        client.images.get(image)
        return
    except docker.errors.ImageNotFound:
        pass
    if pull_missing:
        try:
            client.images.pull(image)
            return
        except docker.errors.APIError as error:
            reason = error.explanation or str(error)
    else:
        reason = "pulling is turned off"
    raise RuntimePermanentError(
        f"image {image} is not on the container engine and could not be pulled ({reason}); "
        "build or load it there, or fix imageUri",
        code="image_not_found",
    )


def require_infra_image(client: docker.DockerClient, name: str = INFRA_IMAGE) -> None:
    """The pause image: the host's static `catatonit -P`, imported through the API (offline)."""
    try:
        client.images.get(name)
        return
    except docker.errors.ImageNotFound:
        pass
    catatonit = shutil.which("catatonit") or "/usr/libexec/podman/catatonit"
    try:
        data = io.BytesIO()
        with tarfile.open(fileobj=data, mode="w") as tar:
            tar.add(catatonit, arcname="pause")
    except OSError as error:
        raise RuntimePermanentError(
            f"no infra image {name} on the engine and no static catatonit to build it from "
            f"({error}); install catatonit or pass another infra image",
            code="infra_image_missing",
        ) from error
    answer = client.api.import_image_from_data(
        data.getvalue(), changes=['ENTRYPOINT ["/pause", "-P"]']
    )
    # Podman ignores the repository and tag of an import, so tag the result explicitly.
    image_id = re.search(r"sha256:[0-9a-f]{64}", str(answer))
    if image_id is None:
        raise RuntimeTemporaryError(f"importing the infra image answered {answer!r}")
    repository, _, tag = name.rpartition(":")
    client.images.get(image_id.group(0)).tag(repository, tag)

"""From a proton's stored artifact spec and runtime to the ProtonSpec a runtime runs."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from dockyard.core.bundles import resolve as resolve_bundle
from dockyard.core.units import parse_memory
from dockyard.server.runtimes.base import (
    ContainerSpec,
    GroupSpec,
    Probe,
    ProtonSpec,
    SecurityContext,
)

# (credential id, key) → secret value, read at container start.
SecretLookup = Callable[[str, str], str | None]


def build_proton_spec(
    *,
    instance_id: str,
    workload_id: str,
    proton_id: str,
    spec: Mapping[str, Any],
    runtime: Mapping[str, Any],
    platform_env: Mapping[str, str],
    secrets: SecretLookup,
) -> ProtonSpec:
    overlays = {g.get("name", "default"): g for g in runtime.get("containerGroups") or []}
    groups = []
    for group in spec.get("containerGroups") or []:
        name = group.get("name") or "default"
        overlay = overlays.get(name, {})
        containers = tuple(
            _container(container, overlay, platform_env, secrets)
            for container in group.get("containers") or []
        )
        replicas = int(overlay.get("replicaCount") or 1)
        groups.append(GroupSpec(name=name, containers=containers, replica_count=replicas))
    return ProtonSpec(
        instance_id=instance_id,
        workload_id=workload_id,
        proton_id=proton_id,
        groups=tuple(groups),
    )


def _container(
    container: Mapping[str, Any],
    overlay: Mapping[str, Any],
    platform_env: Mapping[str, str],
    secrets: SecretLookup,
) -> ContainerSpec:
    name = container.get("name") or "primary"
    env: dict[str, str] = {}
    for var in container.get("environmentVars") or []:
        if var.get("source", "string") == "dr-credential":
            value = secrets(var["drCredentialId"], var["key"])
            if value is not None:
                env[var["name"]] = value
        else:
            env[var["name"]] = str(var.get("value", ""))
    env.update(platform_env)
    if container.get("primary") and container.get("port"):
        env["PORT"] = str(container["port"])
    cpu, memory = _resources(name, overlay)
    entrypoint = container.get("entrypoint")
    return ContainerSpec(
        name=name,
        image=container.get("imageUri") or "",
        entrypoint=tuple(entrypoint) if entrypoint else None,
        env=env,
        port=container.get("port"),
        primary=bool(container.get("primary")),
        probes=_probes(container),
        cpu=cpu,
        memory=memory,
        security=_security(container.get("securityContext") or {}),
    )


def _probes(container: Mapping[str, Any]) -> tuple[Probe, ...]:
    own_port = container.get("port") or 8080
    probes = []
    for kind in ("startup", "readiness", "liveness"):
        probe = container.get(f"{kind}Probe")
        if probe:
            settings = {k: v for k, v in probe.items() if k not in ("path", "port", "scheme")}
            probes.append(
                Probe(
                    kind=kind,
                    path=probe.get("path") or "/",
                    port=int(probe.get("port") or own_port),
                    scheme=probe.get("scheme") or "HTTP",
                    settings=settings,
                )
            )
    return tuple(probes)


def _resources(name: str, overlay: Mapping[str, Any]) -> tuple[float | None, int | None]:
    cpu: float | None = None
    memory: int | None = None
    bundle = resolve_bundle(overlay.get("resourceBundles") or [])
    if bundle is not None:
        cpu, memory = bundle.cpu_count, bundle.memory_bytes
    for override in overlay.get("containers") or []:
        if override.get("name") == name:
            allocation = override.get("resourceAllocation") or {}
            if allocation.get("cpu") is not None:
                cpu = float(allocation["cpu"])
            if allocation.get("memory") is not None:
                memory = parse_memory(allocation["memory"])
    return cpu, memory


def _security(context: Mapping[str, Any]) -> SecurityContext:
    capabilities = context.get("capabilities") or {}
    seccomp = context.get("seccompProfile") or {}
    return SecurityContext(
        read_only_root_filesystem=bool(context.get("readOnlyRootFilesystem", False)),
        allow_privilege_escalation=context.get("allowPrivilegeEscalation"),
        capabilities_add=tuple(capabilities.get("add") or ()),
        capabilities_drop=tuple(capabilities.get("drop") or ()),
        run_as_user=context.get("runAsUser"),
        run_as_group=context.get("runAsGroup"),
        run_as_non_root=bool(context.get("runAsNonRoot", False)),
        seccomp_profile=seccomp.get("type"),
    )

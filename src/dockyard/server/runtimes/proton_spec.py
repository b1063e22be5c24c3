"""From a proton's stored artifact spec and runtime to the ProtonSpec a runtime runs."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from dockyard.core.bundles import resolve as resolve_bundle
from dockyard.core.spec import ENV_NAME
from dockyard.core.units import parse_memory
from dockyard.server.runtimes.base import (
    ContainerSpec,
    GroupSpec,
    Probe,
    ProtonSpec,
    RuntimePermanentError,
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
    built = ProtonSpec(
        instance_id=instance_id,
        workload_id=workload_id,
        proton_id=proton_id,
        groups=tuple(groups),
    )
    _refuse_unsafe_text(built)
    return built


def _refuse_unsafe_text(spec: ProtonSpec) -> None:
    """A spec stored before the input rules tightened (or a secret) can hold bytes no runtime
    can pass on: NUL anywhere, a line break in a probe request. Such a spec can never run, so
    it is a permanent failure with a reason, not a traceback on every pass."""
    for group in spec.groups:
        for container in group.containers:
            where = f"container {container.name!r}"
            texts = [container.image, *(container.entrypoint or ())]
            for name, value in container.env.items():
                if "\x00" in name or "\x00" in value:
                    raise _unsafe(f"{where}: environment variable {_shown(name)} has a NUL byte")
                if not ENV_NAME.fullmatch(name):
                    raise _unsafe(f"{where}: {_shown(name)} is not a valid variable name")
            for probe in container.probes:
                header_text = [*(probe.settings.get("httpHeaders") or {}).items()]
                lines = [probe.path, *(part for pair in header_text for part in pair)]
                if any(char in text for text in lines for char in "\x00\r\n"):
                    raise _unsafe(f"{where}: its {probe.kind} probe has a line break or NUL byte")
            if any("\x00" in text for text in texts):
                raise _unsafe(f"{where}: its image or entrypoint has a NUL byte")


def _unsafe(reason: str) -> RuntimePermanentError:
    return RuntimePermanentError(reason + "; fix the artifact and replace.", code="invalid_spec")


def _shown(name: str) -> str:
    return repr(name.replace("\x00", "\\0"))


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
                try:
                    memory = parse_memory(allocation["memory"])
                except ValueError as exc:  # stored before the bound: never runnable
                    raise _unsafe(f"container {name!r}: {exc}") from None
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

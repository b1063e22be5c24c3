"""From an artifact spec and a workload's runtime settings to the ProtonSpec a runtime runs."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping

from dockyard.core.bundles import resolve as resolve_bundle
from dockyard.core.spec import DEFAULT_PROBE_PORT, ENV_NAME, Container, ServiceArtifactSpec
from dockyard.core.spec import SecurityContext as SecuritySpec
from dockyard.core.units import parse_memory
from dockyard.core.workloads import GroupRuntime, WorkloadRuntime
from dockyard.server.runtimes.base import (
    ContainerSpec,
    GroupScaling,
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
    spec: ServiceArtifactSpec,
    runtime: WorkloadRuntime,
    platform_env: Mapping[str, str],
    secrets: SecretLookup,
    replica_counts: Mapping[str, int] | None = None,
) -> ProtonSpec:
    """`replica_counts`: per group, the count to run now where it differs from replicaCount
    (an autoscaled group's, which the runtime settings do not fix)."""
    replica_counts = replica_counts or {}
    overlays = {group.name: group for group in runtime.container_groups}
    groups = []
    for group in spec.container_groups:
        overlay = overlays.get(group.name) or GroupRuntime(name=group.name)
        containers = tuple(
            _container(container, overlay, platform_env, secrets) for container in group.containers
        )
        metrics: tuple[str, ...] = ()
        scaling = None
        if overlay.autoscaling is not None and overlay.scaled():
            metrics = tuple(p.scaling_metric for p in overlay.autoscaling.policies)
            scaling = GroupScaling(
                min_replicas=overlay.autoscaling.lowest,
                max_replicas=overlay.autoscaling.highest,
                targets=tuple((p.scaling_metric, p.target) for p in overlay.autoscaling.policies),
            )
        replicas = replica_counts.get(group.name, overlay.replica_count or 1)
        groups.append(
            GroupSpec(
                name=group.name,
                containers=containers,
                replica_count=replicas,
                scaling_metrics=metrics,
                scaling=scaling,
            )
        )
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
                lines = [probe.path, *(part for pair in probe.headers for part in pair)]
                if any(char in text for text in lines for char in "\x00\r\n"):
                    raise _unsafe(f"{where}: its {probe.kind} probe has a line break or NUL byte")
            if any("\x00" in text for text in texts):
                raise _unsafe(f"{where}: its image or entrypoint has a NUL byte")


def _unsafe(reason: str) -> RuntimePermanentError:
    return RuntimePermanentError(reason + "; fix the artifact and replace.", code="invalid_spec")


def _shown(name: str) -> str:
    return repr(name.replace("\x00", "\\0"))


def _container(
    container: Container,
    overlay: GroupRuntime,
    platform_env: Mapping[str, str],
    secrets: SecretLookup,
) -> ContainerSpec:
    name = container.name or "primary"
    env: dict[str, str] = {}
    credential_env: set[str] = set()
    for var in container.environment_vars:
        if var.name is None:
            continue  # an `api-key` variable: refused on every write, never stored
        if var.source == "dr-credential":
            value = secrets(var.dr_credential_id or "", var.key or "")
            if value is not None:
                env[var.name] = value
                credential_env.add(var.name)
        else:
            env[var.name] = str(var.value or "")
    env.update(platform_env)
    if container.primary and container.port:
        env["PORT"] = str(container.port)
    cpu, memory = _resources(name, overlay)
    cpu_request, memory_request = _requests(container, overlay)
    return ContainerSpec(
        name=name,
        image=container.image_uri or "",
        entrypoint=tuple(container.entrypoint) if container.entrypoint else None,
        env=env,
        port=container.port,
        primary=container.primary,
        probes=_probes(container),
        cpu=cpu,
        memory=memory,
        security=_security(container.security_context or SecuritySpec()),
        cpu_request=cpu_request,
        memory_request=memory_request,
        gpu=_gpus(container, overlay),
        credential_env=frozenset(credential_env - set(platform_env)),
    )


def _probes(container: Container) -> tuple[Probe, ...]:
    own_port = container.port or DEFAULT_PROBE_PORT
    probes = []
    for kind, probe in (
        ("startup", container.startup_probe),
        ("readiness", container.readiness_probe),
        ("liveness", container.liveness_probe),
    ):
        if probe is not None:
            probes.append(
                Probe(
                    kind=kind,
                    path=probe.path or "/",
                    port=probe.port or own_port,
                    scheme=probe.scheme or "HTTP",
                    headers=tuple((probe.http_headers or {}).items()),
                    initial_delay_seconds=probe.initial_delay_seconds,
                    period_seconds=probe.period_seconds,
                    timeout_seconds=probe.timeout_seconds,
                    failure_threshold=probe.failure_threshold,
                    success_threshold=probe.success_threshold or 1,
                    host=probe.host,
                )
            )
    return tuple(probes)


def _resources(name: str, overlay: GroupRuntime) -> tuple[float | None, int | None]:
    cpu: float | None = None
    memory: int | None = None
    bundle = resolve_bundle(overlay.resource_bundles)
    if bundle is not None:
        cpu, memory = bundle.cpu_count, bundle.memory_bytes
    for override in overlay.containers:
        if override.name == name and override.resource_allocation is not None:
            allocation = override.resource_allocation
            if allocation.cpu is not None:
                cpu = float(allocation.cpu)
            if allocation.memory is not None:
                try:
                    memory = parse_memory(allocation.memory)
                except ValueError as exc:  # stored before the bound: never runnable
                    raise _unsafe(f"container {name!r}: {exc}") from None
    return cpu, memory


def _requests(container: Container, overlay: GroupRuntime) -> tuple[float | None, int | None]:
    """`resourceRequest` of the artifact's container, each field overridden by the workload's."""
    name = container.name or "primary"
    asked = [container.resource_request]
    asked += [o.resource_request for o in overlay.containers if o.name == name]
    cpu: float | None = None
    memory: int | None = None
    for request in asked:
        if request is None:
            continue
        if request.cpu is not None:
            cpu = float(request.cpu)
        if request.memory is not None:
            try:
                memory = parse_memory(request.memory)
            except ValueError as exc:  # stored before the bound: never runnable
                raise _unsafe(f"container {name!r}: {exc}") from None
    return cpu, memory


def _gpus(container: Container, overlay: GroupRuntime) -> int | None:
    """GPUs for the container: a bundle's go to the group's primary (they are per replica),
    a container's own `resourceAllocation.gpu` overrides. Devices are whole, so a fraction
    rounds up."""
    name = container.name or "primary"
    gpus: float | None = None
    bundle = resolve_bundle(overlay.resource_bundles)
    if bundle is not None and bundle.gpu_count and container.primary:
        gpus = bundle.gpu_count
    for override in overlay.containers:
        allocation = override.resource_allocation
        if override.name == name and allocation is not None and allocation.gpu is not None:
            gpus = allocation.gpu
    return math.ceil(gpus) if gpus else None


def _security(context: SecuritySpec) -> SecurityContext:
    capabilities = context.capabilities
    return SecurityContext(
        read_only_root_filesystem=bool(context.read_only_root_filesystem),
        allow_privilege_escalation=context.allow_privilege_escalation,
        capabilities_add=tuple(capabilities.add or ()) if capabilities else (),
        capabilities_drop=tuple(capabilities.drop or ()) if capabilities else (),
        run_as_user=context.run_as_user,
        run_as_group=context.run_as_group,
        run_as_non_root=bool(context.run_as_non_root),
        seccomp_profile=context.seccomp_profile.type if context.seccomp_profile else None,
        seccomp_localhost_profile=(
            context.seccomp_profile.localhost_profile if context.seccomp_profile else None
        ),
    )


def group_cpu_limit(
    spec: ServiceArtifactSpec, runtime: WorkloadRuntime, group: str
) -> float | None:
    """A replica's CPU limit in cores (its containers' together), or None when any container
    has none: what `cpuAverageUtilization` takes a percentage of."""
    overlay = next((g for g in runtime.container_groups if g.name == group), None)
    overlay = overlay or GroupRuntime(name=group)
    found = next((g for g in spec.container_groups if g.name == group), None)
    if found is None:
        return None
    limits = [_resources(container.name or "primary", overlay)[0] for container in found.containers]
    if any(not limit for limit in limits):
        return None
    return float(sum(limit for limit in limits if limit))

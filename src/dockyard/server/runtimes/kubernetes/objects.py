"""The Kubernetes objects of a proton, as plain dicts ready for the API server.

Pure functions of the typed `ProtonSpec` the other runtimes get; nothing here talks to a
cluster. For a service proton, each container group is a Deployment (one pod holds all of the
group's containers, so sidecars share its network as on the docker runtime) and, when its
primary has a port, a ClusterIP Service; the proton's `dr-credential` variables are one Secret,
read by the containers through `secretKeyRef`. A task is a Job built from the same pod template.
A group that scales on CPU with at least one replica also gets a HorizontalPodAutoscaler.

- `deployment(spec, group, *, namespace, replicas=None, image_pull_policy=...) -> dict`
- `service(spec, group, *, namespace) -> dict | None`
- `secret(spec, *, namespace) -> dict | None`
- `job(spec, group=None, *, namespace, active_deadline_seconds=None, image_pull_policy=...)
  -> dict`
- `horizontal_pod_autoscaler(spec, group, *, namespace, min_replicas, max_replicas,
  cpu_percent, scale_down_stabilization_seconds=300) -> dict`
- `pod_template(spec, group, *, restart_policy, image_pull_policy=...) -> dict`
- `service_objects(spec, *, namespace, ...) -> list[dict]`: all of a service proton's objects,
  Secret first (the pods need it), then each group's Deployment and Service.
- `warnings(spec) -> list[str]`: what the objects cannot honour exactly as the spec asks.

Every object carries the labels of `labels.py` and a name from `names.py`. Containers declare
no `ports`: the Service's numeric `targetPort` and the probes do not need them, and a declared
port is what some local players (`podman kube play`) publish on every host interface.
"""

from __future__ import annotations

import base64
import math
import re
from typing import Any

from dockyard.server.runtimes.base import ContainerSpec, GroupSpec, Probe, ProtonSpec
from dockyard.server.runtimes.kubernetes.labels import (
    group_annotations,
    group_labels,
    group_selector,
    proton_labels,
)
from dockyard.server.runtimes.kubernetes.names import (
    container_name,
    object_name,
    secret_key,
    secret_name,
)

GPU_RESOURCE = "nvidia.com/gpu"
# Images are used as given: one the node already has is not pulled again, as on the docker
# runtime (a `:latest` tag would otherwise be pulled on every pod start).
DEFAULT_PULL_POLICY = "IfNotPresent"
PULL_POLICIES = ("IfNotPresent", "Always", "Never")
Manifest = dict[str, Any]
_EXPANDED = re.compile(r"\$(?=[$(])")  # a `$` the kubelet would read as syntax


def deployment(
    spec: ProtonSpec,
    group: str,
    *,
    namespace: str,
    replicas: int | None = None,
    image_pull_policy: str = DEFAULT_PULL_POLICY,
) -> Manifest:
    """The group's `apps/v1` Deployment; `replicas` defaults to the group's count (0 stops it)."""
    group_spec = spec.group(group)
    count = group_spec.replica_count if replicas is None else replicas
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": _metadata(spec, group_spec, namespace),
        "spec": {
            "replicas": count,
            "selector": {"matchLabels": group_selector(spec, group_spec)},
            "template": pod_template(
                spec, group, restart_policy="Always", image_pull_policy=image_pull_policy
            ),
        },
    }


def service(spec: ProtonSpec, group: str, *, namespace: str) -> Manifest | None:
    """The group's ClusterIP Service on its primary's port; None when the primary has no port
    (a task)."""
    group_spec = spec.group(group)
    port = group_spec.primary.port
    if port is None:
        return None
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": _metadata(spec, group_spec, namespace),
        "spec": {
            "type": "ClusterIP",
            "selector": group_selector(spec, group_spec),
            "ports": [{"name": "http", "protocol": "TCP", "port": port, "targetPort": port}],
        },
    }


def secret(spec: ProtonSpec, *, namespace: str) -> Manifest | None:
    """The proton's Secret of `dr-credential` values (keys from `names.secret_key`); None when
    no container has one."""
    data = {
        secret_key(group.name, container.name, variable): _b64(container.env[variable])
        for group in spec.groups
        for container in group.containers
        for variable in container.env
        if variable in container.credential_env
    }
    if not data:
        return None
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {
            "name": secret_name(spec.proton_id),
            "namespace": namespace,
            "labels": proton_labels(spec),
        },
        "type": "Opaque",
        "data": data,
    }


def job(
    spec: ProtonSpec,
    group: str | None = None,
    *,
    namespace: str,
    active_deadline_seconds: int | None = None,
    image_pull_policy: str = DEFAULT_PULL_POLICY,
) -> Manifest:
    """A task's `batch/v1` Job: one pod from the group's template (default: the proton's only
    group), never restarted nor retried (`backoffLimit: 0`), killed after
    `active_deadline_seconds`. Sidecars become init containers that keep running (Kubernetes'
    sidecar containers), so the Job ends when the primary does and they are stopped then."""
    group_spec = spec.group(group) if group is not None else spec.groups[0]
    template = pod_template(
        spec, group_spec.name, restart_policy="Never", image_pull_policy=image_pull_policy
    )
    pod = template["spec"]
    primary = container_name(group_spec.primary.name)
    sidecars = [c for c in pod["containers"] if c["name"] != primary]
    if sidecars:
        pod["containers"] = [c for c in pod["containers"] if c not in sidecars]
        pod["initContainers"] = [{**c, "restartPolicy": "Always"} for c in sidecars]
    job_spec: dict[str, Any] = {"backoffLimit": 0, "template": template}
    if active_deadline_seconds is not None:
        job_spec["activeDeadlineSeconds"] = active_deadline_seconds
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": _metadata(spec, group_spec, namespace),
        "spec": job_spec,
    }


def horizontal_pod_autoscaler(
    spec: ProtonSpec,
    group: str,
    *,
    namespace: str,
    min_replicas: int,
    max_replicas: int,
    cpu_percent: float,
    scale_down_stabilization_seconds: int = 300,
) -> Manifest:
    """An `autoscaling/v2` HorizontalPodAutoscaler for the group's Deployment, scaling on CPU
    as a percent of the pod's CPU limit (the sum of its containers' limits), like Dockyard's
    own scaler. Kubernetes' utilization targets count against requests instead, so the target
    is an average value: `cpu_percent` of the limit. Raises ValueError when no container of the
    group has a CPU limit (the API refuses such a workload first)."""
    group_spec = spec.group(group)
    limit = sum(container.cpu or 0 for container in group_spec.containers)
    if not limit:
        raise ValueError(f"group {group!r} has no CPU limit to scale against")
    name = object_name(spec.proton_id, group_spec.name)
    return {
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": _metadata(spec, group_spec, namespace),
        "spec": {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": name},
            "minReplicas": min_replicas,
            "maxReplicas": max_replicas,
            "metrics": [
                {
                    "type": "Resource",
                    "resource": {
                        "name": "cpu",
                        "target": {
                            "type": "AverageValue",
                            "averageValue": _cpu(limit * cpu_percent / 100),
                        },
                    },
                }
            ],
            "behavior": {
                "scaleDown": {"stabilizationWindowSeconds": scale_down_stabilization_seconds}
            },
        },
    }


def service_objects(
    spec: ProtonSpec,
    *,
    namespace: str,
    replicas: int | None = None,
    image_pull_policy: str = DEFAULT_PULL_POLICY,
) -> list[Manifest]:
    """Every object of a service proton, in the order to create them: its Secret (when it has
    credentials), then each group's Deployment and Service. `replicas`, when given, is every
    group's count (0 for a stopped proton)."""
    found: list[Manifest | None] = [secret(spec, namespace=namespace)]
    for group in spec.groups:
        found.append(
            deployment(
                spec,
                group.name,
                namespace=namespace,
                replicas=replicas,
                image_pull_policy=image_pull_policy,
            )
        )
        found.append(service(spec, group.name, namespace=namespace))
    return [manifest for manifest in found if manifest is not None]


def pod_template(
    spec: ProtonSpec,
    group: str,
    *,
    restart_policy: str,
    image_pull_policy: str = DEFAULT_PULL_POLICY,
) -> Manifest:
    """The pod template of a group: every container of the group in one pod, labelled with
    `labels.group_labels` (what the Deployment selects and what watches find)."""
    if image_pull_policy not in PULL_POLICIES:
        raise ValueError(f"image pull policy {image_pull_policy!r} is not one of {PULL_POLICIES}")
    group_spec = spec.group(group)
    return {
        "metadata": {
            "labels": group_labels(spec, group_spec),
            "annotations": group_annotations(group_spec),
        },
        "spec": {
            "containers": [
                _container(spec, group_spec, container, image_pull_policy)
                for container in group_spec.containers
            ],
            "restartPolicy": restart_policy,
            # Workloads get no API credentials of the namespace (Dockyard's own are there),
            # and no variables naming every Service beside them (docker gives none either).
            "automountServiceAccountToken": False,
            "enableServiceLinks": False,
        },
    }


def warnings(spec: ProtonSpec) -> list[str]:
    """What the objects do not honour exactly as the spec asks, in words for the workload's
    events (a request above its limit is lowered to the limit: Kubernetes refuses it)."""
    found = []
    for group in spec.groups:
        for container in group.containers:
            where = f"container {container.name!r}"
            if _above(container.cpu_request, container.cpu):
                found.append(f"{where}: its CPU request is above its limit; the limit is used")
            if _above(container.memory_request, container.memory):
                found.append(f"{where}: its memory request is above its limit; the limit is used")
    return found


# --- parts ---------------------------------------------------------------------------------


def _metadata(spec: ProtonSpec, group: GroupSpec, namespace: str) -> Manifest:
    return {
        "name": object_name(spec.proton_id, group.name),
        "namespace": namespace,
        "labels": group_labels(spec, group),
        "annotations": group_annotations(group),
    }


def _container(
    spec: ProtonSpec, group: GroupSpec, container: ContainerSpec, pull_policy: str
) -> Manifest:
    found: Manifest = {
        "name": container_name(container.name),
        "image": container.image,
        "imagePullPolicy": pull_policy,
        # A container that fails without writing a termination message gets the end of its
        # log there instead: Dockyard reads it from pod status (`statusDetails`), without a
        # log request, and it outlives a log the node has rotated away.
        "terminationMessagePolicy": "FallbackToLogsOnError",
    }
    if container.entrypoint:
        # Like the docker runtime: the entrypoint replaces the image's, and its CMD is dropped.
        found["command"] = [_literal(part) for part in container.entrypoint]
    env = _env(spec, group, container)
    if env:
        found["env"] = env
    resources = _resources(container)
    if resources:
        found["resources"] = resources
    for kind, probe in _probes(group, container).items():
        found[f"{kind}Probe"] = probe
    security = _security(container)
    if security:
        found["securityContext"] = security
    return found


def _env(spec: ProtonSpec, group: GroupSpec, container: ContainerSpec) -> list[Manifest]:
    values = dict(container.env)
    if group.primary.port:
        values.setdefault("PORT", str(group.primary.port))  # the pod's primary port, as on docker
    found: list[Manifest] = []
    for name, value in values.items():
        if name in container.credential_env:
            reference = {
                "name": secret_name(spec.proton_id),
                "key": secret_key(group.name, container.name, name),
            }
            found.append({"name": name, "valueFrom": {"secretKeyRef": reference}})
        else:
            found.append({"name": name, "value": _literal(value)})
    return found


def _literal(text: str) -> str:
    """`text` as the container should see it. The kubelet expands `$(NAME)` in commands and
    variable values and reads `$$` as `$`, where the other runtimes pass text as it is: a `$`
    before `(` or `$` is doubled so it stays itself (any other `$`, as in a shell's `$PORT`,
    is left alone by the kubelet and here)."""
    return _EXPANDED.sub("$$", text)


def _resources(container: ContainerSpec) -> Manifest:
    limits: dict[str, str] = {}
    requests: dict[str, str] = {}
    if container.cpu:
        limits["cpu"] = _cpu(container.cpu)
    if container.memory:
        limits["memory"] = str(container.memory)
    if container.gpu:
        limits[GPU_RESOURCE] = str(container.gpu)
    if container.cpu_request:
        requests["cpu"] = _cpu(min(container.cpu_request, container.cpu or math.inf))
    if container.memory_request:
        requests["memory"] = str(min(container.memory_request, container.memory or math.inf))
    found: Manifest = {}
    if limits:
        found["limits"] = limits
    if requests:
        found["requests"] = requests
    return found


def _cpu(cores: float) -> str:
    return f"{max(1, round(cores * 1000))}m"


def _above(request: float | None, limit: float | None) -> bool:
    return bool(request and limit and request > limit)


def _probes(group: GroupSpec, container: ContainerSpec) -> dict[str, Manifest]:
    found = {probe.kind: _probe(probe) for probe in container.probes}
    if container is group.primary and container.port and "readiness" not in found:
        # As the reconciler does on the other runtimes: a primary with no readiness probe is
        # ready once its port accepts connections, checked often so it gets traffic quickly.
        found["readiness"] = {
            "tcpSocket": {"port": container.port},
            "periodSeconds": 1,
            "timeoutSeconds": 1,
            "failureThreshold": 1,
        }
    return found


def _probe(probe: Probe) -> Manifest:
    action: Manifest = {"path": probe.path, "port": probe.port, "scheme": probe.scheme.upper()}
    if probe.host:
        action["host"] = probe.host
    if probe.headers:
        action["httpHeaders"] = [{"name": name, "value": value} for name, value in probe.headers]
    found: Manifest = {
        "httpGet": action,
        "initialDelaySeconds": probe.initial_delay_seconds,
        "periodSeconds": probe.period_seconds,
        "timeoutSeconds": probe.timeout_seconds,
        "failureThreshold": probe.failure_threshold,
    }
    if probe.kind == "readiness":
        # Kubernetes accepts another success threshold only on readiness probes.
        found["successThreshold"] = probe.success_threshold
    return found


def _security(container: ContainerSpec) -> Manifest:
    context = container.security
    found: Manifest = {}
    if context.read_only_root_filesystem:
        found["readOnlyRootFilesystem"] = True
    if context.allow_privilege_escalation is not None:
        found["allowPrivilegeEscalation"] = context.allow_privilege_escalation
    capabilities: Manifest = {}
    if context.capabilities_add:
        capabilities["add"] = [_capability(c) for c in context.capabilities_add]
    if context.capabilities_drop:
        capabilities["drop"] = [_capability(c) for c in context.capabilities_drop]
    if capabilities:
        found["capabilities"] = capabilities
    if context.run_as_user is not None:
        found["runAsUser"] = context.run_as_user
    if context.run_as_group is not None:
        found["runAsGroup"] = context.run_as_group
    if context.run_as_non_root:
        found["runAsNonRoot"] = True
    if context.seccomp_profile:
        profile: Manifest = {"type": context.seccomp_profile}
        if context.seccomp_profile == "Localhost" and context.seccomp_localhost_profile:
            profile["localhostProfile"] = context.seccomp_localhost_profile
        found["seccompProfile"] = profile
    return found


def _capability(name: str) -> str:
    # Docker takes `CAP_NET_ADMIN` or `NET_ADMIN`; Kubernetes wants the bare name.
    upper = name.upper()
    return upper[4:] if upper.startswith("CAP_") else upper


def _b64(value: str) -> str:
    return base64.b64encode(value.encode("utf-8", "surrogatepass")).decode("ascii")

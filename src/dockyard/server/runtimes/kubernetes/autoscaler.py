"""Who sizes an autoscaled group on Kubernetes, and how Dockyard keeps out of the other's way.

A group that scales on CPU alone gets a HorizontalPodAutoscaler (`autoscaling/v2`): the
cluster measures the pods' CPU (metrics-server) and writes the Deployment's `replicas`.
While it does, Dockyard leaves `replicas` out of what it writes to that Deployment (except
to start or stop it: an HPA does nothing to a Deployment at 0) and reports the Deployment's
count to the reconciler (`RuntimeScalesGroups.own_scale`), which then runs no rule of its own
for the group. A group that scales on concurrency (and so may scale to zero) has no HPA:
Dockyard's scaler sets its count and the runtime patches the Deployment's `replicas`.

When Dockyard lowers a Deployment's count after draining the replicas above it, it first
gives those pods the lowest `controller.kubernetes.io/pod-deletion-cost`, so the ReplicaSet
deletes them and not a pod that still serves.

One group cannot scale on both CPU and concurrency here: the HPA and Dockyard's scaler would
both write its count. Such a spec is refused (`metric_not_available`) with that reason.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from typing import Any

from lightkube import Client
from lightkube.resources.autoscaling_v2 import HorizontalPodAutoscaler

from dockyard.server.runtimes.base import (
    GroupSpec,
    ProtonSpec,
    RuntimePermanentError,
    RuntimeScale,
    refuse_unmeasured_cpu,
)
from dockyard.server.runtimes.kubernetes import objects
from dockyard.server.runtimes.kubernetes.labels import (
    ANNOTATION_GROUP,
    LABEL_GROUP,
    LABEL_PROTON,
    MANAGED_BY,
    MANAGER,
    label_value,
)
from dockyard.server.runtimes.kubernetes.names import object_name
from dockyard.server.runtimes.kubernetes.watch_cache import Obj, WatchCache

CPU = "cpuAverageUtilization"
# The ReplicaSet deletes the pods with the lowest cost first (the annotation's default is 0).
DELETION_COST = "controller.kubernetes.io/pod-deletion-cost"
FIRST_TO_GO = str(-(2**31))
_QUANTITY = re.compile(r"^([0-9.]+)([numkMG]?)$")
_SCALE = {"n": 1e-9, "u": 1e-6, "m": 1e-3, "": 1.0, "k": 1e3, "M": 1e6, "G": 1e9}


def sized_by_cluster(group: GroupSpec) -> bool:
    """Whether the group's count is the HPA's: it scales on CPU alone, never below one."""
    scaling = group.scaling
    return (
        scaling is not None
        and set(group.scaling_metrics) == {CPU}
        and scaling.min_replicas >= 1
        and scaling.target(CPU) is not None
    )


def refuse(spec: ProtonSpec) -> None:
    """Refuse autoscaling this runtime cannot do (`RuntimePermanentError`)."""
    refuse_unmeasured_cpu(spec)
    for group in spec.groups:
        if CPU in group.scaling_metrics and len(set(group.scaling_metrics)) > 1:
            raise RuntimePermanentError(
                f"Group '{group.name}' scales on cpuAverageUtilization and "
                f"{', '.join(sorted(set(group.scaling_metrics) - {CPU}))}: on Kubernetes, CPU "
                "autoscaling is the cluster's HorizontalPodAutoscaler and the other metrics are "
                "Dockyard's own scaler, and both cannot size one group; keep one kind of policy.",
                code="metric_not_available",
            )


def autoscaler(spec: ProtonSpec, group: GroupSpec, *, namespace: str, stabilization: int) -> Obj:
    """The group's HPA (`sized_by_cluster(group)` must hold)."""
    scaling = group.scaling
    target = scaling.target(CPU) if scaling is not None else None
    assert scaling is not None and target is not None
    return objects.horizontal_pod_autoscaler(
        spec,
        group.name,
        namespace=namespace,
        min_replicas=scaling.min_replicas,
        max_replicas=scaling.max_replicas,
        cpu_percent=target,
        scale_down_stabilization_seconds=stabilization,
    )


def leave_count_to_cluster(
    spec: ProtonSpec, manifests: list[Obj], known: Callable[[str], Obj | None]
) -> list[Obj]:
    """`manifests` with `replicas` left out of each Deployment an HPA sizes, once it runs
    (`known`: the Deployment as the cluster has it, by name). One at 0 is Dockyard's to start:
    the HPA does not act on a Deployment scaled to 0."""
    sized = {object_name(spec.proton_id, g.name) for g in spec.groups if sized_by_cluster(g)}
    for manifest in manifests:
        name = manifest["metadata"]["name"]
        if manifest["kind"] != "Deployment" or name not in sized:
            continue
        current = known(name)
        wanted = manifest["spec"].get("replicas")
        if current is not None and int(current["spec"].get("replicas") or 0) > 0 and wanted:
            del manifest["spec"]["replicas"]
    return manifests


def leaving(pods: Iterable[Obj], slots: dict[str, int], count: int) -> list[Obj]:
    """The live pods whose replica index (`slots`, by pod uid) is `count` or above: those a
    Deployment lowered to `count` should delete, not yet marked so."""
    return [
        pod
        for pod in pods
        if slots.get(pod["metadata"]["uid"], -1) >= count
        and (pod["metadata"].get("annotations") or {}).get(DELETION_COST) != FIRST_TO_GO
    ]


def reading(deployment: Obj, hpa: Obj) -> RuntimeScale | None:
    """What the HPA has the Deployment run, and the CPU it last read as a percent of each
    pod's limit; None while the Deployment is stopped (at 0 the HPA does nothing)."""
    replicas = int(deployment["spec"].get("replicas") or 0)
    if replicas <= 0:
        return None
    cpu_limit = pod_cpu_limit(deployment)
    value = None
    for metric in (hpa.get("status") or {}).get("currentMetrics") or []:
        current = ((metric.get("resource") or {}).get("current")) or {}
        if metric.get("type") != "Resource" or (metric.get("resource") or {}).get("name") != "cpu":
            continue
        if current.get("averageValue") and cpu_limit:
            cores = cores_of(str(current["averageValue"]))
            value = None if cores is None else round(100.0 * cores / cpu_limit, 3)
        elif current.get("averageUtilization") is not None:
            value = float(current["averageUtilization"])
    return RuntimeScale(replicas=replicas, metric=CPU, value=value)


def pod_cpu_limit(deployment: Obj) -> float | None:
    """The cores a pod of the Deployment may use: its containers' CPU limits summed."""
    containers = deployment["spec"]["template"]["spec"].get("containers") or []
    limits = [((c.get("resources") or {}).get("limits") or {}).get("cpu") for c in containers]
    cores = [cores_of(str(limit)) for limit in limits if limit is not None]
    return sum(c for c in cores if c) or None


def cores_of(quantity: str) -> float | None:
    """A CPU quantity (`250m`, `1`, `1500000n`) in cores; None when it is not one."""
    found = _QUANTITY.match(quantity.strip())
    if found is None:
        return None
    return float(found.group(1)) * _SCALE[found.group(2)]


class ClusterScaling:
    """The HPAs of Dockyard's groups: a watch cache, and keeping them as the specs say."""

    def __init__(
        self,
        api: Client,
        namespace: str,
        *,
        stabilization_seconds: float,
        on_event: Callable[[str, Obj], None] | None = None,
    ) -> None:
        self.namespace = namespace
        self.stabilization = max(0, round(stabilization_seconds))
        self.cache = WatchCache(
            api,
            HorizontalPodAutoscaler,
            namespace,
            labels={MANAGED_BY: MANAGER},
            index_label=LABEL_PROTON,
            on_event=on_event,
        )

    def sync(
        self,
        spec: ProtonSpec,
        apply: Callable[[Obj], None],
        delete: Callable[[Any, str, WatchCache], None],
    ) -> None:
        """Create or patch the HPA of each group the cluster sizes; delete the one of a group
        that no longer scales on CPU (its count is Dockyard's again)."""
        for group in spec.groups:
            name = object_name(spec.proton_id, group.name)
            if sized_by_cluster(group):
                made = autoscaler(
                    spec, group, namespace=self.namespace, stabilization=self.stabilization
                )
                apply(made)
            elif self.cache.get(name) is not None:
                delete(HorizontalPodAutoscaler, name, self.cache)

    def doomed(self, proton_id: str) -> list[str]:
        """Names of the proton's HPAs, to delete with it."""
        return [hpa["metadata"]["name"] for hpa in self.cache.indexed(label_value(proton_id))]

    def own_scale(self, deployments: list[Obj]) -> dict[str, RuntimeScale]:
        """By group: the count each HPA keeps its Deployment (of one proton's) at."""
        found: dict[str, RuntimeScale] = {}
        for deployment in deployments:
            meta = deployment["metadata"]
            hpa = self.cache.get(meta["name"])
            if hpa is None:
                continue
            group = (meta.get("annotations") or {}).get(ANNOTATION_GROUP) or (
                meta.get("labels") or {}
            ).get(LABEL_GROUP, "")
            seen = reading(deployment, hpa)
            if seen is not None:
                found[group] = seen
        return found

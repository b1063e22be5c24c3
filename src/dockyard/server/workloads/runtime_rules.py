"""Checks of a workload's runtime settings against the artifact it runs. What the server's
runtime refuses, and who may start replicas on it, is asked through `server/platform.py`."""

from __future__ import annotations

from dockyard.core.autoscaling import NIM_METRICS
from dockyard.core.bundles import CATALOG
from dockyard.core.errors import Forbidden, RuleViolation, ValidationFailed
from dockyard.core.spec import ServiceArtifactSpec
from dockyard.core.units import parse_memory
from dockyard.core.workloads import GroupRuntime, WorkloadRuntime


def check_runtime(
    runtime: WorkloadRuntime,
    spec: ServiceArtifactSpec,
    loc: list[str | int],
    *,
    max_replicas: int = 0,
) -> WorkloadRuntime:
    """The runtime to store: checked against the artifact, top-level replicaCount applied.

    `max_replicas`: the admin's cap on any group's replicas (0: none)."""
    runtime = _apply_top_level_replicas(runtime, [g.name for g in spec.container_groups], loc)
    if spec.is_task:
        _check_task_runtime(runtime)
    for g, group in enumerate(runtime.container_groups):
        at: list[str | int] = [*loc, "containerGroups", g]
        # What the server reports, never what a client sets (a response echoed back).
        group.current_replica_count = group.desired_replica_count = None
        _check_autoscaling(group, max_replicas)
        artifact_group = spec.group(group.name)
        if artifact_group is None:
            raise ValidationFailed.at(
                [*at, "name"], f"the artifact has no container group named '{group.name}'"
            )
        names = artifact_group.container_names()
        for b, bundle in enumerate(group.resource_bundles):
            if bundle not in CATALOG:
                known = ", ".join(CATALOG)
                raise ValidationFailed.at(
                    [*at, "resourceBundles", b], f"unknown bundle '{bundle}'; known: {known}"
                )
        for c, container in enumerate(group.containers):
            if container.name not in names:
                raise ValidationFailed.at(
                    [*at, "containers", c, "name"],
                    f"group '{group.name}' has no container named '{container.name}'",
                )
            # Limits and requests alike: a memory that does not parse is refused at its path.
            sized = (
                ("resourceAllocation", container.resource_allocation),
                ("resourceRequest", container.resource_request),
            )
            for field, resources in sized:
                if resources is None or resources.memory is None:
                    continue
                try:
                    parse_memory(resources.memory)
                except ValueError as exc:
                    raise ValidationFailed.at(
                        [*at, "containers", c, field, "memory"], str(exc)
                    ) from None
    return runtime


def _check_autoscaling(group: GroupRuntime, max_replicas: int) -> None:
    scaling = group.autoscaling if group.scaled() else None
    if scaling is not None:
        for policy in scaling.policies:
            if policy.scaling_metric in NIM_METRICS:
                raise RuleViolation(
                    f"The scaling metric '{policy.scaling_metric}' applies to NIM containers "
                    "only; scale on cpuAverageUtilization or httpRequestsConcurrency.",
                    code="type_not_supported",
                )
    requested = scaling.highest if scaling is not None else (group.replica_count or 1)
    if max_replicas and requested > max_replicas:
        # The hosted platform's quota answer, word for word, so its clients recognise it.
        raise Forbidden(
            f"Requested replicas ({requested}) exceeds the maximum allowed ({max_replicas}).",
            code="replica_limit_exceeded",
        )


def _apply_top_level_replicas(
    runtime: WorkloadRuntime, group_names: list[str], loc: list[str | int]
) -> WorkloadRuntime:
    """`runtime.replicaCount` (the hosted platform's sandbox client sends it) sizes the one
    container group of the artifact; with several groups or with autoscaling it means nothing
    definite, so it is refused."""
    count = runtime.replica_count
    if count is None:
        return runtime
    at = [*loc, "replicaCount"]
    if len(group_names) != 1:
        raise ValidationFailed.at(
            at,
            f"runtime.replicaCount needs an artifact with one container group (this one has "
            f"{len(group_names)}); set containerGroups[].replicaCount instead",
        )
    name = group_names[0]
    groups = [group.model_copy() for group in runtime.container_groups]
    for group in groups:
        if group.scaled():
            raise ValidationFailed.at(at, "runtime.replicaCount cannot be used with autoscaling")
        if group.name != name:
            continue  # an unknown group name is reported by the checks that follow
        if "replica_count" in group.model_fields_set and group.replica_count != count:
            raise ValidationFailed.at(
                at,
                f"runtime.replicaCount ({count}) differs from containerGroups[].replicaCount "
                f"({group.replica_count}) of group '{name}'; give one of them",
            )
        group.replica_count = count
        break
    else:
        groups.append(GroupRuntime(name=name, replica_count=count))
    return runtime.model_copy(update={"container_groups": groups})


def _check_task_runtime(runtime: WorkloadRuntime) -> None:
    """A task runs once, as one replica: no more replicas, no autoscaling."""
    for group in runtime.container_groups:
        if group.autoscaling is not None:
            raise RuleViolation(
                "A task (a primary container without a port) runs once and is not "
                "autoscaled; remove autoscaling.",
                code="not_for_tasks",
            )
        if group.replica_count is not None and group.replica_count != 1:
            raise RuleViolation(
                f"A task (a primary container without a port) runs as one replica; "
                f"replicaCount {group.replica_count} is not for tasks.",
                code="not_for_tasks",
            )

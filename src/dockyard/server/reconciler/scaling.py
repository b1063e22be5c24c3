"""The autoscaler's part of a pass over a workload whose groups it sizes.

`measure` (with observe, I/O): every server's invoke load on the workload, from the database,
and the CPU its replicas used, from the runtime. `plan_scaling` (with decide, pure): each
scaled group's new count by the rule of `autoscaling/rule.py`, the `scaled` events, why a wake
failed, and which scaled-away replicas are drained enough to remove. A group the runtime's
own autoscaler sizes (`RuntimeScalesGroups`: Kubernetes' HPA for CPU) takes the runtime's
count instead of the rule's.

A replica scaled away first drains: the routing table stops sending it requests, and it is
removed once no server reports a request in flight on it (after `settle_seconds`, the time
every server's routing table and load report take to notice), or after `drain_seconds`.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from dockyard.core.autoscaling import CPU_UTILIZATION
from dockyard.server.autoscaling.repository import WorkloadLoad, load_of
from dockyard.server.autoscaling.rule import GroupLoad, GroupScale, ScaleWindows, step
from dockyard.server.db.session import Database
from dockyard.server.reconciler.state import Phase, ProtonSnapshot, ReplicaState
from dockyard.server.runtimes.base import (
    ReplicaKey,
    Runtime,
    RuntimeReportsUsage,
    RuntimeScale,
    RuntimeScalesGroups,
)
from dockyard.server.runtimes.proton_spec import group_cpu_limit

# (proton id, group) → (when this server began watching it, its recent recommendations)
History = dict[tuple[str, str], tuple[float, tuple[tuple[float, int], ...]]]


@dataclass(frozen=True)
class ScalingPolicy:
    windows: ScaleWindows = field(default_factory=ScaleWindows)
    interval_seconds: float = 1.0  # how often a scaled workload is looked at
    drain_seconds: float = 30.0
    settle_seconds: float = 2.0
    load_fresh_seconds: float = 2.0  # a server's load report older than this counts nothing


@dataclass(frozen=True)
class Measured:
    """What `measure` found of one proton's load."""

    load: WorkloadLoad
    cpu: dict[ReplicaKey, float] | None = None  # cores per replica; None: not measured
    # Groups the runtime's own autoscaler sizes (Kubernetes' HPA), with the count it set.
    sized_by_runtime: dict[str, RuntimeScale] = field(default_factory=dict)


@dataclass
class ScalePlan:
    scale: dict[str, GroupScale]  # each scaled group's state after this pass
    events: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    history: History = field(default_factory=dict)
    removable: set[ReplicaKey] = field(default_factory=set)  # scaled away and drained


def measure(
    db: Database,
    runtime: Runtime,
    workload_id: str,
    proton: ProtonSnapshot,
    now: datetime,
    policy: ScalingPolicy,
) -> Measured:
    load = load_of(db, workload_id, now - timedelta(seconds=policy.load_fresh_seconds))
    cpu = None
    on_cpu = any(
        scaling is not None and scaling.uses(CPU_UTILIZATION)
        for scaling in (proton.scaling(group) for group in proton.scale)
    )
    if on_cpu and isinstance(runtime, RuntimeReportsUsage):
        cpu = runtime.cpu_usage(proton.id)
    sized = runtime.own_scale(proton.id) if isinstance(runtime, RuntimeScalesGroups) else {}
    return Measured(load, cpu, sized)


def plan_scaling(
    proton: ProtonSnapshot,
    replicas: dict[ReplicaKey, ReplicaState],
    measured: Measured,
    history: History,
    now: datetime,
    policy: ScalingPolicy,
) -> ScalePlan:
    """Each scaled group's count after this pass, from what was measured (pure)."""
    plan = ScalePlan(scale=dict(proton.scale))
    moment = now.timestamp()
    load = measured.load
    for group, state in proton.scale.items():
        scaling = proton.scaling(group)
        if scaling is None:
            continue
        members = [r for r in replicas.values() if r.key[0] == group]
        if group in measured.sized_by_runtime:
            _follow_runtime(plan, group, state, measured.sized_by_runtime[group])
            plan.removable |= _drained(members, plan.scale[group].desired, load, now, policy)
            continue
        serving = [r for r in members if _serving(r)]
        cpu = None
        if measured.cpu is not None and all(r.key in measured.cpu for r in serving):
            cpu = sum(measured.cpu[r.key] for r in serving)
        since = [moment if proton.running_since is None else proton.running_since.timestamp()]
        if load.last_request_at is not None:
            since.append(load.last_request_at.timestamp())
        group_load = GroupLoad(
            ready=len(serving),
            in_flight=sum(load.mean.get(r.name, 0.0) for r in serving),
            cpu_cores=cpu,
            cpu_limit=group_cpu_limit(proton.spec, proton.runtime, group),
            waiting=load.waiting,
            idle_seconds=moment - max(since),
        )
        watched_since, recent = history.get((proton.id, group), (moment, ()))
        moved = step(
            scaling, state.desired, group_load, moment, policy.windows, recent,
            watched_since=watched_since,
        )  # fmt: skip
        plan.history[(proton.id, group)] = (watched_since, moved.history)
        new = replace(state, wake_error=_wake_error(state, serving, members))
        if moved.desired != state.desired:
            plan.events.append(
                (
                    "scaled",
                    {
                        "group": group,
                        "from": state.desired,
                        "to": moved.desired,
                        "metric": moved.metric,
                        "value": moved.value,
                    },
                )
            )
            new = replace(new, desired=moved.desired)
        plan.scale[group] = new
        plan.removable |= _drained(members, new.desired, load, now, policy)
    return plan


def _follow_runtime(plan: ScalePlan, group: str, state: GroupScale, own: RuntimeScale) -> None:
    """A group the runtime's autoscaler sizes: its count is the runtime's, and no rule of
    Dockyard's runs for it (the two would fight over the count)."""
    new = replace(state, wake_error=None)
    if own.replicas != state.desired:
        moved = {"from": state.desired, "to": own.replicas, "metric": own.metric}
        plan.events.append(("scaled", {"group": group, **moved, "value": own.value}))
        new = replace(new, desired=own.replicas)
    plan.scale[group] = new


def _serving(replica: ReplicaState) -> bool:
    return replica.ready and replica.phase == Phase.RUNNING and replica.draining_since is None


def _wake_error(
    state: GroupScale, serving: list[ReplicaState], members: list[ReplicaState]
) -> str | None:
    """Why the group cannot serve: a replica failed while none was ready (a wake from zero
    that crashed). Cleared once a replica is ready again."""
    if serving:
        return None
    failed = [r for r in members if r.phase == Phase.FAILED or r.gave_up is not None]
    if failed:
        return failed[0].message or f"replica {failed[0].name} failed to start"
    return state.wake_error


def _drained(
    members: list[ReplicaState],
    desired: int,
    load: WorkloadLoad,
    now: datetime,
    policy: ScalingPolicy,
) -> set[ReplicaKey]:
    done = set()
    for replica in members:
        if replica.key[1] < desired or replica.phase == Phase.MISSING:
            continue
        if not (replica.ready and replica.phase == Phase.RUNNING):
            done.add(replica.key)  # never took traffic, or cannot now: nothing to wait for
            continue
        if replica.draining_since is None:
            continue  # this pass starts its drain
        waited = (now - replica.draining_since).total_seconds()
        idle = load.in_flight.get(replica.name, 0) == 0
        if waited >= policy.drain_seconds or (waited >= policy.settle_seconds and idle):
            done.add(replica.key)
    return done

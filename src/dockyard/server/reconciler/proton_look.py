"""One look at a proton: observe its replicas, run the probes that are due, keep the results.

The bookkeeping of each replica's probes (`ctx.health`) lives across passes; it is made anew
whenever the replica's containers (re)start.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from dockyard.server.reconciler.decide import ReplicaKey
from dockyard.server.reconciler.pipeline_context import PassContext
from dockyard.server.reconciler.prober import ProbeJob
from dockyard.server.reconciler.probes import (
    HealthEvent,
    ProbeKind,
    ReplicaHealth,
    probes_for_container,
)
from dockyard.server.reconciler.store import ProtonSnapshot
from dockyard.server.runtimes.base import ObservedReplica, ReplicaPhase
from dockyard.server.workloads.statuses import ErrorReason

Events = list[tuple[str, dict[str, Any]]]


@dataclass
class Sighting:
    """What one look at a proton found: the runtime's view and the probe results.

    Taken once per pass. A pass that first looks without its lease and then finds it must act
    hands the same sighting to the leased pass, so no probe result is read twice or lost."""

    observed: dict[ReplicaKey, ObservedReplica]
    changes: dict[ReplicaKey, list[HealthEvent]]
    gave_up: dict[ReplicaKey, str]  # why a probe asked for a restart
    events: Events  # the probes' own events (probe_failed)
    health: dict[ReplicaKey, tuple[bool, bool]] = field(default_factory=dict)  # started, ready
    # Which kind of probe asked for that restart, as the errored reason it would become.
    gave_up_on: dict[ReplicaKey, ErrorReason] = field(default_factory=dict)
    # Why a replica that is not ready yet is not: its last failed probe, in words.
    not_ready_because: dict[ReplicaKey, str] = field(default_factory=dict)


def look(ctx: PassContext, proton: ProtonSnapshot, now: datetime) -> Sighting:
    """Observe the proton's replicas and run the probes that are due."""
    observed = {(s.group, s.index): s for s in ctx.runtime.observe(proton.id)}
    return probe(ctx, proton, observed, now)


def wanted_replicas(spec: dict[str, Any], runtime: dict[str, Any]) -> tuple[ReplicaKey, ...]:
    counts = {
        g.get("name", "default"): g.get("replicaCount")
        for g in runtime.get("containerGroups") or []
    }
    keys: list[ReplicaKey] = []
    for group in spec.get("containerGroups") or []:
        name = group.get("name") or "default"
        keys.extend((name, index) for index in range(int(counts.get(name) or 1)))
    return tuple(keys)


def next_probe_due(ctx: PassContext, proton: ProtonSnapshot) -> float | None:
    # Only this proton's slots: scanning every replica's bookkeeping on every pass costs a
    # server with hundreds of workloads more than the passes themselves.
    keys = set(proton.replicas) | set(wanted_replicas(proton.spec, proton.runtime))
    dues = []
    for key in keys:
        current = ctx.health.get((proton.id, *key))
        due = current[1].next_due() if current is not None else None
        if due is not None:
            dues.append(due)
    return min(dues) if dues else None


def forget_health(ctx: PassContext, proton_id: str) -> None:
    for slot in [slot for slot in ctx.health if slot[0] == proton_id]:
        del ctx.health[slot]


# --- probing ---------------------------------------------------------------------------------


def probe(
    ctx: PassContext,
    proton: ProtonSnapshot,
    observed: dict[ReplicaKey, ObservedReplica],
    now: datetime,
) -> Sighting:
    """Run due probes on running replicas and record their results."""
    jobs: list[tuple[ReplicaKey, Any]] = []
    for key, state in observed.items():
        health = health_for(ctx, proton, key, state)
        if state.phase == ReplicaPhase.RUNNING:
            jobs.extend((key, spec) for spec in health.due(now.timestamp(), ctx.pass_grid))
    results = ctx.prober.run(
        [ProbeJob(spec, observed[key].host, proton.id, key[0], key[1]) for key, spec in jobs]
    )
    sighting = Sighting(observed, {}, {}, [])
    for (key, spec), (ok, why) in zip(jobs, results, strict=True):
        found = ctx.health[(proton.id, *key)][1].record(spec, ok, now.timestamp(), why)
        sighting.changes.setdefault(key, []).extend(found)
        if not ok and found:
            sighting.events.append(("probe_failed", {"replica": replica_name(key), "reason": why}))
            if HealthEvent.RESTART in found and why:
                sighting.gave_up_on[key] = ErrorReason.PROBE_FAILED
                if spec.kind == ProbeKind.READINESS:
                    limit = ctx.policy.ready_timeout_seconds
                    why = f"not ready {limit:g} s after starting ({why})"
                    sighting.gave_up_on[key] = ErrorReason.READY_TIMEOUT
                sighting.gave_up[key] = why
    for key in observed:
        health = ctx.health[(proton.id, *key)][1]
        sighting.health[key] = (health.started, health.ready)
        if not health.ready and health.last_failure:
            sighting.not_ready_because[key] = health.last_failure
    return sighting


def health_for(
    ctx: PassContext,
    proton: ProtonSnapshot,
    key: ReplicaKey,
    state: ObservedReplica,
    *,
    just_started: bool = False,
) -> ReplicaHealth:
    """The replica's probe bookkeeping; new whenever its containers (re)started.

    `just_started`: this pass started it, so nothing recorded about it holds any more."""
    slot = (proton.id, *key)
    seen = (state.started_at, state.restart_count)
    current = ctx.health.get(slot)
    if current is not None and current[0] == seen and not just_started:
        return current[1]
    started_at = state.started_at.timestamp() if state.started_at else ctx.clock().timestamp()
    specs = []
    for group in proton.spec.get("containerGroups") or []:
        if (group.get("name") or "default") == key[0]:
            for container in group.get("containers") or []:
                specs.extend(
                    probes_for_container(container, lambda port: state.probe_ports.get(port, port))
                )
    health = ReplicaHealth(
        started_at=started_at, specs=specs, ready_timeout=ctx.policy.ready_timeout_seconds
    )
    record = proton.replicas.get(key)
    if current is None and record is not None and not just_started:
        # First look since this server started: trust what the last server recorded.
        health.assume(started=record.started, ready=record.ready)
    ctx.health[slot] = (seen, health)
    return health


def replica_name(key: ReplicaKey) -> str:
    return f"{key[0]}-{key[1]}"

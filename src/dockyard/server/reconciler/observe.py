"""The first step of a pass: what each live proton's replicas are now.

It asks the runtime (`observe`), and then either runs the probes that are due (the runtime
leaves health to Dockyard) or reads the readiness and restarts the runtime reports (it is a
`RuntimeManagesHealth`). The result is each replica's `ReplicaState` as seen, on top of what
was recorded, plus the events that go with what changed.

The probe bookkeeping of each replica (`ctx.health`) lives across passes; it is made anew
whenever the replica's containers (re)start.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from dockyard.server.reconciler.context import PassContext
from dockyard.server.reconciler.prober import ProbeJob
from dockyard.server.reconciler.probes import (
    HealthEvent,
    ProbeKind,
    ProbeSpec,
    ReplicaHealth,
    probes_for_container,
)
from dockyard.server.reconciler.scaling import Measured, measure
from dockyard.server.reconciler.state import Phase, ProtonSnapshot, ReplicaState, Snapshot
from dockyard.server.runtimes.base import (
    ObservedReplica,
    ReplicaKey,
    ReplicaPhase,
    RuntimeManagesHealth,
    RuntimeNotice,
)
from dockyard.server.workloads.statuses import FINISHED, ErrorReason, Status

Events = list[tuple[str, dict[str, Any]]]


@dataclass
class Sighting:
    """What one look at a proton found."""

    replicas: dict[ReplicaKey, ReplicaState]  # each replica as seen now
    observed: dict[ReplicaKey, ObservedReplica]  # the runtime's own report
    events: Events = field(default_factory=list)
    measured: Measured | None = None  # an autoscaled active proton's load


def observe(
    ctx: PassContext, snapshot: Snapshot, now: datetime, known: dict[str, Sighting] | None = None
) -> dict[str, Sighting]:
    """Look at every proton of the workload a pass may act on (by proton id).

    Protons in `known` were looked at already in this pass and are not looked at again, so
    no probe result is taken twice."""
    sightings = dict(known or {})
    for proton in looked_at(snapshot):
        if proton.id not in sightings and _settled(snapshot):
            # A finished task stays as it ended until the user acts (a nudge, then a fresh
            # look): its replicas are what was recorded, and the runtime is not asked.
            sightings[proton.id] = Sighting(dict(proton.replicas), {})
        if proton.id not in sightings and _unstarted_task(snapshot, proton):
            # Nothing of it was recorded as started, so there is nothing to see but what a
            # crash cut short between a start and its record: ensure finds that itself, and
            # runs no task a second time. A look first would only cost the engine a listing.
            sightings[proton.id] = Sighting({}, {})
        if proton.id not in sightings:
            if snapshot.desired_state == "running" and _parked_at_zero(ctx, proton):
                sightings[proton.id] = Sighting(dict(proton.replicas), {})
            else:
                sightings[proton.id] = look(ctx, proton, now)
            if proton.role == "active" and proton.scale and snapshot.desired_state == "running":
                sightings[proton.id].measured = measure(
                    ctx.db, ctx.runtime, snapshot.workload_id, proton, now, ctx.scaling
                )
    return sightings


def _settled(snapshot: Snapshot) -> bool:
    return (
        snapshot.status in FINISHED
        and snapshot.desired_state == "running"
        and snapshot.replacement is None
    )


def _unstarted_task(snapshot: Snapshot, proton: ProtonSnapshot) -> bool:
    return (
        proton.task
        and proton.role == "active"
        and not proton.replicas
        and snapshot.status == Status.SUBMITTED
        and snapshot.desired_state == "running"
        and snapshot.replacement is None
    )


def looked_at(snapshot: Snapshot) -> list[ProtonSnapshot]:
    """The active proton, and the candidate of a replacement that has not switched yet."""
    protons = [p for p in (snapshot.proton("active"),) if p is not None]
    replacement = snapshot.replacement
    candidate = snapshot.proton("candidate")
    if replacement is not None and replacement.switched_at is None and candidate is not None:
        protons.append(candidate)
    return protons


def _parked_at_zero(ctx: PassContext, proton: ProtonSnapshot) -> bool:
    """The autoscaler holds the proton at zero and each of its replicas is recorded stopped:
    nothing of it runs for the runtime to report. Not asking keeps the passes that watch for
    a request (and the wake's own pass) to the database alone: a look at the engine is its
    slowest round trip, and a wake waits on it. A runtime that manages health is asked still
    (it may have its own view of what winds down)."""
    if isinstance(ctx.runtime, RuntimeManagesHealth) or proton.role != "active":
        return False
    if not proton.scale or any(state.desired for state in proton.scale.values()):
        return False
    return all(r.phase in (Phase.STOPPED, Phase.MISSING) for r in proton.replicas.values())


def look(ctx: PassContext, proton: ProtonSnapshot, now: datetime) -> Sighting:
    observed = {state.key: state for state in ctx.runtime.observe(proton.id)}
    if isinstance(ctx.runtime, RuntimeManagesHealth):
        sighting = _read_health(proton, observed, now)
        for notice in ctx.runtime.notices(proton.id):
            sighting.events.append(("runtime_event", _notice_details(notice)))
        return sighting
    return _probe(ctx, proton, observed, now)


def _notice_details(notice: RuntimeNotice) -> dict[str, Any]:
    details: dict[str, Any] = {
        "reason": notice.reason,
        "message": notice.message,
        "type": "Warning" if notice.warning else "Normal",
    }
    if notice.replica is not None:
        details["replica"] = notice.replica
    if notice.count > 1:
        details["count"] = notice.count
    return details


def _read_health(
    proton: ProtonSnapshot, observed: dict[ReplicaKey, ObservedReplica], now: datetime
) -> Sighting:
    """Readiness and restarts as the runtime reports them; the restarts it made count toward
    the restart limit until the replica is ready again."""
    sighting = Sighting({}, observed)
    for key, seen in observed.items():
        record = proton.replicas.get(key) or ReplicaState(key)
        running = seen.phase == ReplicaPhase.RUNNING
        ready = running and bool(seen.ready)
        state = record.with_changes(
            phase=Phase(seen.phase),
            ready=ready,
            ever_ready=record.ever_ready or ready,
            primary_exited=seen.primary_exited,
            exit_code=seen.exit_code,
            started=running,
            host=seen.host,
            port=seen.port,
            started_at=seen.started_at,
            restart_count=seen.restart_count,
            message=seen.message or seen.waiting_reason,
            waiting_reason=seen.waiting_reason,
        )
        restarts = seen.restart_count - record.restart_count if key in proton.replicas else 0
        if restarts > 0:
            state = state.with_changes(failures_in_a_row=record.failures_in_a_row + restarts)
            reason = seen.message or "restarted by the runtime"
            sighting.events.append(("replica_restarted", {"replica": state.name, "reason": reason}))
        if ready and not record.ready:
            sighting.events.append(("replica_ready", {"replica": state.name}))
            state = state.with_changes(ready_since=now, failures_in_a_row=0)
        elif record.ready and not ready:
            sighting.events.append(("replica_unready", {"replica": state.name}))
            state = state.with_changes(ready_since=None)
        sighting.replicas[key] = state
    return sighting


def _probe(
    ctx: PassContext,
    proton: ProtonSnapshot,
    observed: dict[ReplicaKey, ObservedReplica],
    now: datetime,
) -> Sighting:
    """Run due probes on running replicas and take their results."""
    jobs: list[tuple[ReplicaKey, ProbeSpec]] = []
    for key, seen in observed.items():
        health = health_for(ctx, proton, key, seen)
        if seen.phase == ReplicaPhase.RUNNING:
            jobs.extend((key, spec) for spec in health.due(now.timestamp(), ctx.pass_grid))
    results = ctx.prober.run(
        [ProbeJob(spec, observed[key].host, proton.id, key[0], key[1]) for key, spec in jobs]
    )
    sighting = Sighting({}, observed)
    happened: dict[ReplicaKey, list[HealthEvent]] = {}
    gave_up: dict[ReplicaKey, tuple[ErrorReason, str]] = {}  # the kind and why
    for (key, spec), (ok, why) in zip(jobs, results, strict=True):
        found = ctx.health[(proton.id, *key)][1].record(spec, ok, now.timestamp(), why)
        happened.setdefault(key, []).extend(found)
        if not ok and found:
            sighting.events.append(("probe_failed", {"replica": _name(key), "reason": why}))
            if HealthEvent.RESTART in found and why:
                if spec.kind == ProbeKind.READINESS:
                    limit = ctx.policy.ready_timeout_seconds
                    why = f"not ready {limit:g} s after starting ({why})"
                    gave_up[key] = (ErrorReason.READY_TIMEOUT, why)
                else:
                    gave_up[key] = (ErrorReason.PROBE_FAILED, why)
    for key, seen in observed.items():
        health = ctx.health[(proton.id, *key)][1]
        record = proton.replicas.get(key) or ReplicaState(key)
        running = seen.phase == ReplicaPhase.RUNNING
        changes = happened.get(key, [])
        state = record.with_changes(
            phase=Phase(seen.phase),
            ready=running and health.ready,
            ever_ready=record.ever_ready or (running and health.ready),
            primary_exited=seen.primary_exited,
            exit_code=seen.exit_code,
            started=running and health.started,
            host=seen.host,
            port=seen.port,
            started_at=seen.started_at,
            wants_restart=running and HealthEvent.RESTART in changes,
            gave_up=gave_up[key][0] if key in gave_up else None,
            message=seen.message
            or (gave_up[key][1] if key in gave_up else None)
            or (health.last_failure if running and not health.ready else None),
        )
        if HealthEvent.READY in changes:
            sighting.events.append(("replica_ready", {"replica": state.name}))
            state = state.with_changes(ready_since=now, failures_in_a_row=0)
        if HealthEvent.UNREADY in changes:
            sighting.events.append(("replica_unready", {"replica": state.name}))
            state = state.with_changes(ready_since=None)
        sighting.replicas[key] = state
    return sighting


def health_for(
    ctx: PassContext,
    proton: ProtonSnapshot,
    key: ReplicaKey,
    seen: ObservedReplica,
    *,
    just_started: bool = False,
) -> ReplicaHealth:
    """The replica's probe bookkeeping; new whenever its containers (re)started.

    `just_started`: this pass started it, so nothing recorded about it holds any more."""
    slot = (proton.id, *key)
    start = (seen.started_at, seen.restart_count)
    current = ctx.health.get(slot)
    if current is not None and current[0] == start and not just_started:
        return current[1]
    started_at = seen.started_at.timestamp() if seen.started_at else ctx.clock().timestamp()
    specs = []
    for container in proton.containers(key[0]):
        specs.extend(probes_for_container(container, lambda port: seen.probe_ports.get(port, port)))
    # A replica the autoscaler adds is wanted now: requests wait for it (at zero, held by
    # the proxy), so its readiness is checked every tenth of a second until it first passes.
    health = ReplicaHealth(
        started_at=started_at,
        specs=specs,
        ready_timeout=ctx.policy.ready_timeout_seconds,
        hurry=key[0] in proton.scale,
    )
    record = proton.replicas.get(key)
    if current is None and record is not None and not just_started:
        # First look since this server started: trust what the last server recorded.
        health.assume(started=record.started, ready=record.ready)
    ctx.health[slot] = (start, health)
    return health


def next_probe_due(
    ctx: PassContext, proton: ProtonSnapshot, started: Collection[ReplicaKey] = ()
) -> float | None:
    """When a probe of the proton is next due; `started`: replicas this pass started beyond
    what the snapshot knew (the autoscaler added them)."""
    # Only this proton's slots: scanning every replica's bookkeeping on every pass costs a
    # server with hundreds of workloads more than the passes themselves.
    keys = set(proton.replicas) | set(proton.wanted()) | set(started)
    dues = []
    for key in keys:
        current = ctx.health.get((proton.id, *key))
        due = current[1].next_due() if current is not None else None
        if due is not None:
            dues.append(due)
    return min(dues) if dues else None


def forget_health(ctx: PassContext, proton_id: str) -> None:
    # A copy of the keys first: passes of other workloads add theirs meanwhile.
    for slot in [slot for slot in list(ctx.health) if slot[0] == proton_id]:
        del ctx.health[slot]


def _name(key: ReplicaKey) -> str:
    return f"{key[0]}-{key[1]}"

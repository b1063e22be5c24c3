"""One proton's share of a pass: observe its replicas, probe them, decide, act on the runtime."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from dockyard.server.reconciler.decide import (
    Phase,
    Plan,
    ReplicaChange,
    ReplicaKey,
    ReplicaView,
    WorkloadView,
    decide,
)
from dockyard.server.reconciler.outcomes import ProtonOutcome, ReplicaOutcome
from dockyard.server.reconciler.pipeline_context import PassContext
from dockyard.server.reconciler.prober import ProbeJob
from dockyard.server.reconciler.probes import (
    HealthEvent,
    ProbeKind,
    ReplicaHealth,
    probes_for_container,
)
from dockyard.server.reconciler.spec_build import build_proton_spec
from dockyard.server.reconciler.store import ProtonSnapshot
from dockyard.server.runtimes.base import ReplicaPhase, ReplicaState, RuntimePermanentError
from dockyard.server.workloads.statuses import Status

Events = list[tuple[str, dict[str, Any]]]

_PHASES = {
    ReplicaPhase.PENDING: Phase.PENDING,
    ReplicaPhase.RUNNING: Phase.RUNNING,
    ReplicaPhase.FAILED: Phase.FAILED,
    ReplicaPhase.STOPPED: Phase.STOPPED,
}


@dataclass(frozen=True)
class ProtonGoal:
    """What the workload wants of this proton in this pass."""

    desired_state: str  # running | stopped
    status: Status
    expires_at: datetime | None = None


@dataclass
class Sighting:
    """What one look at a proton found: the runtime's view and the probe results.

    Taken once per pass. A pass that first looks without its lease and then finds it must act
    hands the same sighting to the leased pass, so no probe result is read twice or lost."""

    observed: dict[ReplicaKey, ReplicaState]
    changes: dict[ReplicaKey, list[HealthEvent]]
    gave_up: dict[ReplicaKey, str]  # why a probe asked for a restart
    events: Events  # the probes' own events (probe_failed)
    health: dict[ReplicaKey, tuple[bool, bool]] = field(default_factory=dict)  # started, ready
    # Why a replica that is not ready yet is not: its last failed probe, in words.
    not_ready_because: dict[ReplicaKey, str] = field(default_factory=dict)


def look(ctx: PassContext, proton: ProtonSnapshot, now: datetime) -> Sighting:
    """Observe the proton's replicas and run the probes that are due."""
    observed = {(s.group, s.index): s for s in ctx.runtime.observe(proton.id)}
    return _probe(ctx, proton, observed, now)


def run_proton(
    ctx: PassContext,
    workload_id: str,
    proton: ProtonSnapshot,
    goal: ProtonGoal,
    now: datetime,
    events: Events,
    sighting: Sighting | None = None,
) -> tuple[ProtonOutcome, Plan]:
    sighting = sighting or look(ctx, proton, now)
    views, plan = _plan(ctx, proton, goal, sighting, now, events)
    return _act(ctx, workload_id, proton, plan, views, sighting.observed, events, now), plan


def preview_proton(
    ctx: PassContext, proton: ProtonSnapshot, goal: ProtonGoal, now: datetime
) -> tuple[Sighting, ProtonOutcome | None, Events]:
    """Look and decide without acting: the outcome when the plan needs no runtime call,
    None when it does (the caller then takes the lease and runs the pass for real)."""
    sighting = look(ctx, proton, now)
    events: Events = []
    views, plan = _plan(ctx, proton, goal, sighting, now, events)
    if plan.acts:
        return sighting, None, events
    # With nothing to carry out, acting only records what was seen: no runtime call happens.
    outcome = _act(ctx, "", proton, plan, views, dict(sighting.observed), events, now)
    return sighting, outcome, events


def _plan(
    ctx: PassContext,
    proton: ProtonSnapshot,
    goal: ProtonGoal,
    sighting: Sighting,
    now: datetime,
    events: Events,
) -> tuple[dict[ReplicaKey, ReplicaView], Plan]:
    events.extend(sighting.events)
    views = _views(proton, sighting, now, events)
    view = WorkloadView(
        desired_state=goal.desired_state,
        status=goal.status,
        wanted=wanted_replicas(proton.spec, proton.runtime),
        replicas=tuple(views.values()),
        expires_at=goal.expires_at.timestamp() if goal.expires_at else None,
    )
    return views, decide(view, now.timestamp(), ctx.policy)


def remove_proton(ctx: PassContext, proton: ProtonSnapshot) -> ProtonOutcome:
    """Delete every runtime object of the proton; its row stays for history."""
    ctx.runtime.remove_proton(proton.id)
    forget_health(ctx, proton.id)
    return ProtonOutcome(proton.id, removed=list(proton.replicas), retire=True)


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


def _probe(
    ctx: PassContext,
    proton: ProtonSnapshot,
    observed: dict[ReplicaKey, ReplicaState],
    now: datetime,
) -> Sighting:
    """Run due probes on running replicas and record their results."""
    jobs: list[tuple[ReplicaKey, Any]] = []
    for key, state in observed.items():
        health = _health_for(ctx, proton, key, state)
        if state.phase == ReplicaPhase.RUNNING and not ctx.runtime.manages_health:
            jobs.extend((key, spec) for spec in health.due(now.timestamp(), ctx.pass_grid))
    results = ctx.prober.run(
        [ProbeJob(spec, observed[key].host, proton.id, key[0], key[1]) for key, spec in jobs]
    )
    sighting = Sighting(observed, {}, {}, [])
    for (key, spec), (ok, why) in zip(jobs, results, strict=True):
        found = ctx.health[(proton.id, *key)][1].record(spec, ok, now.timestamp(), why)
        sighting.changes.setdefault(key, []).extend(found)
        if not ok and found:
            sighting.events.append(("probe_failed", {"replica": _name(key), "reason": why}))
            if HealthEvent.RESTART in found and why:
                if spec.kind == ProbeKind.READINESS:
                    limit = ctx.policy.ready_timeout_seconds
                    why = f"not ready {limit:g} s after starting ({why})"
                sighting.gave_up[key] = why
    for key in observed:
        health = ctx.health[(proton.id, *key)][1]
        sighting.health[key] = (health.started, health.ready)
        if not health.ready and health.last_failure:
            sighting.not_ready_because[key] = health.last_failure
    return sighting


def _views(
    proton: ProtonSnapshot, sighting: Sighting, now: datetime, events: Events
) -> dict[ReplicaKey, ReplicaView]:
    """Each replica's view for the decision: what was seen, on top of what was recorded."""
    views: dict[ReplicaKey, ReplicaView] = {}
    for key, state in sighting.observed.items():
        started, ready = sighting.health[key]
        record = proton.replicas.get(key)
        happened = sighting.changes.get(key, [])
        running = state.phase == ReplicaPhase.RUNNING
        ready_since = record.ready_since if record else None
        failures = record.failures_in_a_row if record else 0
        if HealthEvent.READY in happened:
            events.append(("replica_ready", {"replica": _name(key)}))
            ready_since, failures = now, 0
        if HealthEvent.UNREADY in happened:
            events.append(("replica_unready", {"replica": _name(key)}))
            ready_since = None
        next_restart = record.next_restart_at if record else None
        views[key] = ReplicaView(
            key=key,
            phase=_PHASES[state.phase],
            ready=running and ready,
            started=running and started,
            wants_restart=running and HealthEvent.RESTART in happened,
            failures_in_a_row=failures,
            backoff_step=record.backoff_step if record else 0,
            next_restart_at=next_restart.timestamp() if next_restart else None,
            ready_since=ready_since.timestamp() if ready_since else None,
            message=state.message
            or sighting.gave_up.get(key)
            or (sighting.not_ready_because.get(key) if running else None),
        )
    return views


def _health_for(
    ctx: PassContext,
    proton: ProtonSnapshot,
    key: ReplicaKey,
    state: ReplicaState,
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


# --- acting ----------------------------------------------------------------------------------


def _act(
    ctx: PassContext,
    workload_id: str,
    proton: ProtonSnapshot,
    plan: Plan,
    views: dict[ReplicaKey, ReplicaView],
    observed: dict[ReplicaKey, ReplicaState],
    events: Events,
    now: datetime,
) -> ProtonOutcome:
    outcome = ProtonOutcome(proton.id, status=plan.status, reason=plan.reason)
    if plan.expired:
        events.append(("expired", {"reason": "draft workload reached its time limit"}))
    if plan.remove_all:
        ctx.runtime.remove_proton(proton.id)
        outcome.removed = list(proton.replicas)
        forget_health(ctx, proton.id)
        return outcome
    if plan.stop_all:
        ctx.runtime.stop_proton(proton.id)
        return _record(outcome, proton, views, observed, {})
    for key in plan.remove:
        ctx.runtime.remove_replica(proton.id, *key)
        outcome.removed.append(key)
    changes = {change.key: change for change in plan.changes}
    if plan.ensure or plan.restart:
        spec = build_proton_spec(
            instance_id=ctx.instance_id,
            workload_id=workload_id,
            proton_id=proton.id,
            spec=proton.spec,
            runtime=proton.runtime,
            platform_env=ctx.platform_env(workload_id),
            secrets=ctx.secrets(),
        )
        try:
            if plan.ensure and not proton.replicas:
                # First start of this proton: say what the runtime cannot honour (the process
                # runtime ignores images and limits) rather than pretend.
                for warning in ctx.runtime.validate(spec):
                    events.append(("runtime_warning", {"reason": warning}))
            for key in plan.ensure:
                observed[key] = ctx.runtime.ensure_replica(spec, *key)
                _health_for(ctx, proton, key, observed[key], just_started=True)
                events.append(("replica_started", {"replica": _name(key)}))
            for key in plan.restart:
                reason = views[key].message or "health check failed"
                observed[key] = ctx.runtime.restart_replica(proton.id, *key)
                _health_for(ctx, proton, key, observed[key], just_started=True)
                events.append(("replica_restarted", {"replica": _name(key), "reason": reason}))
        except RuntimePermanentError as exc:
            outcome.status, outcome.reason = Status.ERRORED, exc.reason
            outcome.log_tail = [exc.reason]
            events.append(("replica_failed", {"reason": exc.reason, "code": exc.code}))
    if outcome.status == Status.ERRORED and outcome.log_tail is None:
        outcome.log_tail = _tail(observed)
        events.append(("replica_failed", {"reason": outcome.reason}))
    return _record(outcome, proton, views, observed, changes)


def _record(
    outcome: ProtonOutcome,
    proton: ProtonSnapshot,
    views: dict[ReplicaKey, ReplicaView],
    observed: dict[ReplicaKey, ReplicaState],
    changes: dict[ReplicaKey, ReplicaChange],
) -> ProtonOutcome:
    for key, state in observed.items():
        if key in outcome.removed:
            continue
        view = views.get(key)
        record = proton.replicas.get(key)
        change = changes.get(key)
        restarted = bool(change and change.restarted)
        next_restart = record.next_restart_at if record else None
        if change and change.next_restart_at:
            next_restart = _when(change.next_restart_at)
        outcome.replicas.append(
            ReplicaOutcome(
                group=key[0],
                index=key[1],
                phase=state.phase.value,
                ready=bool(view and view.ready) and not restarted,
                started=bool(view and view.started) and not restarted,
                host=state.host,
                port=state.port,
                restart_count=(record.restart_count if record else 0) + int(restarted),
                failures_in_a_row=_pick(change, "failures_in_a_row", view),
                backoff_step=_pick(change, "backoff_step", view),
                next_restart_at=next_restart,
                ready_since=_when(view.ready_since) if view and view.ready_since else None,
                started_at=state.started_at,
                message=(view.message if view else None) or state.message,
            )
        )
    return outcome


def _pick(change: ReplicaChange | None, attribute: str, view: ReplicaView | None) -> int:
    if change is not None and getattr(change, attribute) is not None:
        return int(getattr(change, attribute))
    return int(getattr(view, attribute)) if view is not None else 0


def _when(timestamp: float) -> datetime:
    return datetime.fromtimestamp(timestamp, UTC)


def _tail(observed: dict[ReplicaKey, ReplicaState]) -> list[str]:
    lines: list[str] = []
    for state in observed.values():
        lines.extend(state.last_output)
    return lines[-50:]


def _name(key: ReplicaKey) -> str:
    return f"{key[0]}-{key[1]}"

"""One proton's share of a pass: look at it (`proton_look`), decide, act on the runtime."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

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
from dockyard.server.reconciler.probes import HealthEvent
from dockyard.server.reconciler.proton_look import (
    Events,
    Sighting,
    forget_health,
    health_for,
    look,
    replica_name,
    wanted_replicas,
)
from dockyard.server.reconciler.store import ProtonSnapshot
from dockyard.server.runtimes.base import ObservedReplica, ReplicaPhase, RuntimePermanentError
from dockyard.server.runtimes.proton_spec import build_proton_spec
from dockyard.server.workloads.statuses import ErrorReason, Failure, Status

# A runtime's permanent error codes → the errored reason a user sees; the rest: start_failed.
_REASONS = {"image_not_found": ErrorReason.IMAGE_PULL_FAILED}
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
            events.append(("replica_ready", {"replica": replica_name(key)}))
            ready_since, failures = now, 0
        if HealthEvent.UNREADY in happened:
            events.append(("replica_unready", {"replica": replica_name(key)}))
            ready_since = None
        next_restart = record.next_restart_at if record else None
        views[key] = ReplicaView(
            key=key,
            phase=_PHASES[state.phase],
            ready=running and ready,
            started=running and started,
            wants_restart=running and HealthEvent.RESTART in happened,
            gave_up=sighting.gave_up_on.get(key),
            failures_in_a_row=failures,
            backoff_step=record.backoff_step if record else 0,
            next_restart_at=next_restart.timestamp() if next_restart else None,
            ready_since=ready_since.timestamp() if ready_since else None,
            message=state.message
            or sighting.gave_up.get(key)
            or (sighting.not_ready_because.get(key) if running else None),
        )
    return views


# --- acting ----------------------------------------------------------------------------------


def _act(
    ctx: PassContext,
    workload_id: str,
    proton: ProtonSnapshot,
    plan: Plan,
    views: dict[ReplicaKey, ReplicaView],
    observed: dict[ReplicaKey, ObservedReplica],
    events: Events,
    now: datetime,
) -> ProtonOutcome:
    outcome = ProtonOutcome(proton.id, status=plan.status, reason=plan.reason, failure=plan.failure)
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
    outcome.removed.extend(plan.remove)
    changes = {change.key: change for change in plan.changes}
    if plan.ensure or plan.restart or plan.remove:
        try:
            spec = build_proton_spec(
                instance_id=ctx.instance_id,
                workload_id=workload_id,
                proton_id=proton.id,
                spec=proton.spec,
                runtime=proton.runtime,
                platform_env=ctx.platform_env(workload_id),
                secrets=ctx.secrets(workload_id),
            )
            if plan.ensure and not proton.replicas:
                # First start of this proton: say what the runtime cannot honour (the process
                # runtime ignores images and limits) rather than pretend.
                for warning in ctx.runtime.validate(spec):
                    events.append(("runtime_warning", {"reason": warning}))
            if plan.ensure or plan.remove:
                for state in ctx.runtime.ensure_proton(spec, plan.ensure):
                    observed[state.key] = state
                    health_for(ctx, proton, state.key, state, just_started=True)
                    events.append(("replica_started", {"replica": replica_name(state.key)}))
            for key in plan.restart:
                reason = views[key].message or "health check failed"
                observed[key] = ctx.runtime.restart_replica(proton.id, *key)
                health_for(ctx, proton, key, observed[key], just_started=True)
                events.append(
                    ("replica_restarted", {"replica": replica_name(key), "reason": reason})
                )
        except RuntimePermanentError as exc:
            outcome.status, outcome.reason = Status.ERRORED, exc.reason
            outcome.failure = Failure(_REASONS.get(exc.code, ErrorReason.START_FAILED), exc.reason)
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
    observed: dict[ReplicaKey, ObservedReplica],
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


def _tail(observed: dict[ReplicaKey, ObservedReplica]) -> list[str]:
    lines: list[str] = []
    for state in observed.values():
        lines.extend(state.last_output)
    return lines[-50:]

"""One reconcile pass over one workload: lease → observe → probe → decide → act → apply."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from dockyard.server.db.session import Database
from dockyard.server.reconciler import store
from dockyard.server.reconciler.decide import (
    Phase,
    Plan,
    ReplicaKey,
    ReplicaView,
    RestartPolicy,
    WorkloadView,
    decide,
)
from dockyard.server.reconciler.prober import ProbeJob, Prober
from dockyard.server.reconciler.probes import HealthEvent, ReplicaHealth, probes_for_container
from dockyard.server.reconciler.spec_build import SecretLookup, build_proton_spec
from dockyard.server.runtimes.base import (
    ReplicaPhase,
    ReplicaState,
    Runtime,
    RuntimePermanentError,
    RuntimeTemporaryError,
)
from dockyard.server.workloads.statuses import INACTIVE, Status

log = logging.getLogger(__name__)

_PHASES = {
    ReplicaPhase.PENDING: Phase.PENDING,
    ReplicaPhase.RUNNING: Phase.RUNNING,
    ReplicaPhase.FAILED: Phase.FAILED,
    ReplicaPhase.STOPPED: Phase.STOPPED,
}


@dataclass
class PassContext:
    """What every pass needs; one per reconciler."""

    db: Database
    runtime: Runtime
    instance_id: str
    policy: RestartPolicy
    prober: Prober
    clock: Callable[[], datetime]
    secrets: Callable[[], SecretLookup]  # opens what reads credentials at container start
    platform_env: Callable[[str], dict[str, str]]  # workload id → injected variables
    sweep_seconds: float = 5.0
    # (proton, group, index) → (container start seen, probe bookkeeping)
    health: dict[tuple[str, str, int], tuple[Any, ReplicaHealth]] = field(default_factory=dict)


def reconcile_workload(ctx: PassContext, workload_id: str) -> float:
    """Run one pass; returns the seconds until this workload wants its next one."""
    now = ctx.clock()
    snapshot = store.lease_and_load(ctx.db, workload_id, now)
    if snapshot is None:
        return 1.0  # another pass holds the lease, or the workload is gone
    try:
        observed = _observe(ctx, snapshot)
        views, events = _probe(ctx, snapshot, observed, now)
        view = WorkloadView(
            desired_state=snapshot.desired_state,
            status=snapshot.status,
            wanted=wanted_replicas(snapshot.proton_spec, snapshot.proton_runtime),
            replicas=tuple(views.values()),
            expires_at=snapshot.expires_at.timestamp() if snapshot.expires_at else None,
        )
        plan = decide(view, now.timestamp(), ctx.policy)
        outcome = _act(ctx, snapshot, plan, views, observed, events, now)
    except RuntimeTemporaryError as exc:
        log.warning("workload %s: runtime busy (%s); retrying", workload_id, exc.message)
        store.release(ctx.db, snapshot)
        return exc.delay
    except Exception:
        log.exception("workload %s: reconcile pass failed", workload_id)
        store.release(ctx.db, snapshot)
        return 5.0
    store.apply_outcome(ctx.db, snapshot, outcome)
    return _next_pass(ctx, snapshot, outcome, now)


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


def _observe(ctx: PassContext, snapshot: store.Snapshot) -> dict[ReplicaKey, ReplicaState]:
    if snapshot.proton_id is None:
        return {}
    return {(s.group, s.index): s for s in ctx.runtime.observe(snapshot.proton_id)}


def _probe(
    ctx: PassContext,
    snapshot: store.Snapshot,
    observed: dict[ReplicaKey, ReplicaState],
    now: datetime,
) -> tuple[dict[ReplicaKey, ReplicaView], list[tuple[str, dict[str, Any]]]]:
    """Run due probes on running replicas; build each replica's view for the decision."""
    views: dict[ReplicaKey, ReplicaView] = {}
    events: list[tuple[str, dict[str, Any]]] = []
    jobs = []
    for key, state in observed.items():
        record = snapshot.replicas.get(key)
        health = _health_for(ctx, snapshot, key, state, record)
        if state.phase == ReplicaPhase.RUNNING and not ctx.runtime.manages_health:
            jobs.extend((key, spec) for spec in health.due(now.timestamp()))
    results = ctx.prober.run(
        [
            ProbeJob(spec, observed[key].host, snapshot.proton_id or "", key[0], key[1])
            for key, spec in jobs
        ]
    )
    outcomes: dict[ReplicaKey, list[HealthEvent]] = {}
    for (key, spec), (ok, why) in zip(jobs, results, strict=True):
        health = ctx.health[(snapshot.proton_id or "", *key)][1]
        changes = health.record(spec, ok, now.timestamp())
        outcomes.setdefault(key, []).extend(changes)
        if not ok and changes:
            events.append(("probe_failed", {"replica": _name(key), "reason": why}))
    for key, state in observed.items():
        health = ctx.health[(snapshot.proton_id or "", *key)][1]
        record = snapshot.replicas.get(key)
        changes = outcomes.get(key, [])
        running = state.phase == ReplicaPhase.RUNNING
        ready_since = record.ready_since if record else None
        failures = record.failures_in_a_row if record else 0
        if HealthEvent.READY in changes:
            events.append(("replica_ready", {"replica": _name(key)}))
            ready_since, failures = now, 0
        if HealthEvent.UNREADY in changes:
            events.append(("replica_unready", {"replica": _name(key)}))
            ready_since = None
        views[key] = ReplicaView(
            key=key,
            phase=_PHASES[state.phase],
            ready=running and health.ready,
            started=running and health.started,
            wants_restart=running and HealthEvent.RESTART in changes,
            failures_in_a_row=failures,
            backoff_step=record.backoff_step if record else 0,
            next_restart_at=record.next_restart_at.timestamp()
            if record and record.next_restart_at
            else None,
            ready_since=ready_since.timestamp() if ready_since else None,
            message=state.message,
        )
    return views, events


def _health_for(ctx, snapshot, key, state, record) -> ReplicaHealth:  # type: ignore[no-untyped-def]
    slot = (snapshot.proton_id or "", *key)
    seen = (state.started_at, state.restart_count)
    current = ctx.health.get(slot)
    if current is not None and current[0] == seen:
        return current[1]
    started_at = state.started_at.timestamp() if state.started_at else ctx.clock().timestamp()
    specs = []
    for group in snapshot.proton_spec.get("containerGroups") or []:
        if (group.get("name") or "default") == key[0]:
            for container in group.get("containers") or []:
                specs.extend(
                    probes_for_container(container, lambda port: state.probe_ports.get(port, port))
                )
    health = ReplicaHealth(started_at=started_at, specs=specs)
    if current is None and record is not None:
        # First look since this server started: trust what the last server recorded.
        health.assume(started=record.started, ready=record.ready)
    ctx.health[slot] = (seen, health)
    return health


def _act(ctx, snapshot, plan: Plan, views, observed, events, now) -> store.Outcome:  # type: ignore[no-untyped-def]
    outcome = store.Outcome(events=list(events), status=plan.status, reason=plan.reason)
    proton_id = snapshot.proton_id
    if proton_id is None:
        return outcome
    if plan.expired:
        outcome.events.append(("expired", {"reason": "draft workload reached its time limit"}))
    if plan.remove_all:
        ctx.runtime.remove_proton(proton_id)
        outcome.removed = list(snapshot.replicas)
        _forget_health(ctx, proton_id)
        return outcome
    if plan.stop_all:
        ctx.runtime.stop_proton(proton_id)
        return _record(outcome, snapshot, views, observed, plan, now)
    for key in plan.remove:
        ctx.runtime.remove_replica(proton_id, *key)
        outcome.removed.append(key)
    changes = {change.key: change for change in plan.changes}
    if plan.ensure or plan.restart:
        spec = build_proton_spec(
            instance_id=ctx.instance_id,
            workload_id=snapshot.workload_id,
            proton_id=proton_id,
            spec=snapshot.proton_spec,
            runtime=snapshot.proton_runtime,
            platform_env=ctx.platform_env(snapshot.workload_id),
            secrets=ctx.secrets(),
        )
        try:
            for key in plan.ensure:
                observed[key] = ctx.runtime.ensure_replica(spec, *key)
                outcome.events.append(("replica_started", {"replica": _name(key)}))
            for key in plan.restart:
                reason = views[key].message or "health check failed"
                observed[key] = ctx.runtime.restart_replica(proton_id, *key)
                outcome.events.append(
                    ("replica_restarted", {"replica": _name(key), "reason": reason})
                )
        except RuntimePermanentError as exc:
            outcome.status, outcome.reason = Status.ERRORED, exc.reason
            outcome.log_tail = [exc.reason]
            outcome.events.append(("replica_failed", {"reason": exc.reason, "code": exc.code}))
    if outcome.status == Status.ERRORED and outcome.log_tail is None:
        outcome.log_tail = _tail(observed)
        outcome.events.append(("replica_failed", {"reason": outcome.reason}))
    return _record(outcome, snapshot, views, observed, plan, now, changes)


def _record(outcome, snapshot, views, observed, plan, now, changes=None) -> store.Outcome:  # type: ignore[no-untyped-def]
    changes = changes or {}
    for key, state in observed.items():
        if key in outcome.removed:
            continue
        view = views.get(key)
        record = snapshot.replicas.get(key)
        change = changes.get(key)
        restarts = (record.restart_count if record else 0) + (
            1 if change and change.restarted else 0
        )
        outcome.replicas.append(
            store.ReplicaOutcome(
                group=key[0],
                index=key[1],
                phase=state.phase.value,
                ready=bool(view and view.ready) and not (change and change.restarted),
                started=bool(view and view.started),
                host=state.host,
                port=state.port,
                restart_count=restarts,
                failures_in_a_row=_pick(change, "failures_in_a_row", view, 0),
                backoff_step=_pick(change, "backoff_step", view, 0),
                next_restart_at=_when(change.next_restart_at)
                if change and change.next_restart_at
                else (record.next_restart_at if record else None),
                ready_since=_when(view.ready_since) if view and view.ready_since else None,
                started_at=state.started_at,
                message=state.message,
            )
        )
    return outcome


def _pick(change, attribute: str, view, default: int) -> int:  # type: ignore[no-untyped-def]
    if change is not None and getattr(change, attribute) is not None:
        return int(getattr(change, attribute))
    if view is not None:
        return int(getattr(view, attribute))
    return default


def _when(timestamp: float) -> datetime:
    return datetime.fromtimestamp(timestamp, UTC)


def _tail(observed: dict[ReplicaKey, ReplicaState]) -> list[str]:
    lines: list[str] = []
    for state in observed.values():
        lines.extend(state.last_output)
    return lines[-50:]


def _forget_health(ctx: PassContext, proton_id: str) -> None:
    for slot in [slot for slot in ctx.health if slot[0] == proton_id]:
        del ctx.health[slot]


def _next_pass(
    ctx: PassContext, snapshot: store.Snapshot, outcome: store.Outcome, now: datetime
) -> float:
    status = outcome.status or snapshot.status
    if status in INACTIVE:
        return ctx.sweep_seconds * 6
    delays = [ctx.sweep_seconds]
    if status != Status.RUNNING:
        delays.append(0.5)
    for (proton_id, _, _), (_, health) in ctx.health.items():
        if proton_id == snapshot.proton_id:
            due = health.next_due()
            if due is not None:
                delays.append(due - now.timestamp())
    for replica in outcome.replicas:
        if replica.next_restart_at is not None:
            delays.append((replica.next_restart_at - now).total_seconds())
    if snapshot.expires_at is not None:
        delays.append((snapshot.expires_at - now).total_seconds())
    return max(0.05, min(delays))


def _name(key: ReplicaKey) -> str:
    return f"{key[0]}-{key[1]}"

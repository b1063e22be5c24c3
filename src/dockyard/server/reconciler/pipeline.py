"""One reconcile pass over one workload: observe → probe → decide, then lease → act → apply
only when there is something to do or to record.

The active proton follows what the user wants (running or stopped). During a replacement a
candidate proton is brought up beside it; once it runs (and has warmed up) traffic switches
to it, and the old one drains and is removed (rollout.py decides when).
"""

from __future__ import annotations

import logging
from datetime import datetime

from dockyard.server.reconciler import outcomes, store
from dockyard.server.reconciler.pipeline_context import PassContext
from dockyard.server.reconciler.proton_look import (
    Events,
    Sighting,
    next_probe_due,
    wanted_replicas,
)
from dockyard.server.reconciler.proton_pass import (
    ProtonGoal,
    preview_proton,
    remove_proton,
    run_proton,
)
from dockyard.server.reconciler.rollout import RolloutView, decide_rollout
from dockyard.server.runtimes.base import RuntimeTemporaryError
from dockyard.server.workloads.statuses import INACTIVE, Status

log = logging.getLogger(__name__)

__all__ = ["PassContext", "reconcile_workload", "wanted_replicas"]


def reconcile_workload(ctx: PassContext, workload_id: str, *, fresh: bool = False) -> float:
    """Run one pass; returns the seconds until this workload wants its next one.

    Most passes find a running workload as recorded. They decide on a snapshot read without
    the lease (or kept from the last such pass) and write nothing; only a pass with something
    to do or to record takes the lease, and it re-decides on what it reads under it. `fresh`
    ignores a kept snapshot (a nudge: the user just changed what the workload should be)."""
    now = ctx.clock()
    snapshot = None if fresh else ctx.snapshots.get(workload_id)
    if snapshot is None:
        snapshot = store.load(ctx.db, workload_id, now)
    if snapshot is None or snapshot.held:
        ctx.snapshots.pop(workload_id, None)
        return 1.0  # another pass holds the lease, or the workload is gone
    seen: dict[str, Sighting] = {}
    try:
        quiet = _look_without_lease(ctx, snapshot, now, seen)
    except RuntimeTemporaryError as exc:
        log.warning("workload %s: runtime busy (%s); retrying", workload_id, exc.message)
        _report_engine_trouble(ctx, workload_id, exc.message)
        return exc.delay
    except Exception:
        log.exception("workload %s: reconcile pass failed", workload_id)
        return 5.0
    if quiet is not None and workload_id not in ctx.engine_trouble:
        ctx.snapshots[workload_id] = snapshot
        return _next_pass(ctx, snapshot, quiet)
    ctx.snapshots.pop(workload_id, None)
    return _leased_pass(ctx, workload_id, now, seen)


def _look_without_lease(
    ctx: PassContext, snapshot: store.Snapshot, now: datetime, seen: dict[str, Sighting]
) -> outcomes.Outcome | None:
    """The outcome of a pass that needs neither the runtime nor the database; else None.

    Only a workload with one proton and no rollout qualifies: that is the steady state, and
    rollouts are short and do more than one proton's decision."""
    active = snapshot.proton("active")
    if active is None or snapshot.replacement is not None or len(snapshot.protons) != 1:
        return None
    goal = ProtonGoal(snapshot.desired_state, snapshot.status, snapshot.expires_at)
    sighting, active_outcome, events = preview_proton(ctx, active, goal, now)
    seen[active.id] = sighting
    if active_outcome is None:
        return None
    outcome = outcomes.Outcome(protons=[active_outcome], events=events)
    outcome.status, outcome.reason = active_outcome.status, active_outcome.reason
    outcome.failure = active_outcome.failure
    return outcome if outcomes.changes_nothing(snapshot, outcome) else None


def _leased_pass(
    ctx: PassContext, workload_id: str, now: datetime, seen: dict[str, Sighting]
) -> float:
    snapshot = store.lease_and_load(ctx.db, workload_id, now, store.lease_owner(ctx.server_id))
    if snapshot is None:
        return 1.0  # another pass holds the lease, or the workload is gone
    try:
        outcome = _pass(ctx, snapshot, now, seen)
    except RuntimeTemporaryError as exc:
        log.warning("workload %s: runtime busy (%s); retrying", workload_id, exc.message)
        store.release(ctx.db, snapshot)
        _report_engine_trouble(ctx, workload_id, exc.message)
        return exc.delay
    except Exception:
        log.exception("workload %s: reconcile pass failed", workload_id)
        store.release(ctx.db, snapshot)
        return 5.0
    if ctx.engine_trouble.pop(workload_id, None) is not None:
        outcome.events.append(("runtime_recovered", {"reason": "the runtime answers again"}))
    if outcomes.changes_nothing(snapshot, outcome):
        store.release(ctx.db, snapshot)
    elif outcomes.apply_outcome(ctx.db, snapshot, outcome):
        for hook in ctx.on_routes_changed:
            hook(workload_id)
    return _next_pass(ctx, snapshot, outcome)


def _report_engine_trouble(ctx: PassContext, workload_id: str, message: str) -> None:
    """Tell the workload's events that its runtime cannot be reached, once per outage.

    The pass is retried after the error's delay; nothing about the workload changes, since
    what runs may well be fine and the reconciler catches up when the engine answers."""
    if workload_id in ctx.engine_trouble:
        return
    ctx.engine_trouble[workload_id] = message
    outcomes.record_events(ctx.db, workload_id, [("runtime_error", {"reason": message})])


def _pass(
    ctx: PassContext,
    snapshot: store.Snapshot,
    now: datetime,
    seen: dict[str, Sighting] | None = None,
) -> outcomes.Outcome:
    seen = seen or {}
    outcome = outcomes.Outcome()
    events: Events = outcome.events
    active = snapshot.proton("active")
    if active is not None:
        goal = ProtonGoal(snapshot.desired_state, snapshot.status, snapshot.expires_at)
        active_outcome, _ = run_proton(
            ctx, snapshot.workload_id, active, goal, now, events, seen.get(active.id)
        )
        outcome.protons.append(active_outcome)
        outcome.status, outcome.reason = active_outcome.status, active_outcome.reason
        outcome.failure = active_outcome.failure
    if snapshot.replacement is not None:
        _rollout(ctx, snapshot, now, outcome, events)
    for draining in [p for p in snapshot.protons if p.role == "draining"]:
        if snapshot.replacement is None:  # a drain left over from an interrupted rollout
            outcome.protons.append(remove_proton(ctx, draining))
    return outcome


def _rollout(
    ctx: PassContext,
    snapshot: store.Snapshot,
    now: datetime,
    outcome: outcomes.Outcome,
    events: Events,
) -> None:
    replacement = snapshot.replacement
    assert replacement is not None
    candidate = snapshot.proton("candidate")
    candidate_status: Status | None = None
    running_since = None
    if candidate is not None and replacement.switched_at is None:
        goal = ProtonGoal("running", candidate.status)
        candidate_outcome, _ = run_proton(ctx, snapshot.workload_id, candidate, goal, now, events)
        outcome.protons.append(candidate_outcome)
        candidate_status = candidate_outcome.status or candidate.status
        running_since = candidate.running_since.timestamp() if candidate.running_since else None
    step = decide_rollout(
        RolloutView(
            status=replacement.status,
            candidate_status=candidate_status,
            candidate_running_since=running_since,
            warmup_seconds=replacement.warmup_seconds,
            keep_seconds=replacement.keep_seconds,
            switched_at=replacement.switched_at.timestamp() if replacement.switched_at else None,
            workload_wants_running=snapshot.desired_state == "running",
        ),
        now.timestamp(),
    )
    if step.candidate_status is not None and candidate is not None:
        _proton_outcome(outcome, candidate.id).status = step.candidate_status
    if step.remove_candidate and candidate is not None:
        _replace(outcome, remove_proton(ctx, candidate))
    if step.remove_previous:
        previous = next(
            (p for p in snapshot.protons if p.id == replacement.previous_proton_id), None
        )
        if previous is not None:
            _replace(outcome, remove_proton(ctx, previous))
    if step.switch and candidate is not None:
        # From here the candidate is the workload's active proton: its status is the workload's.
        outcome.status, outcome.reason = step.candidate_status or Status.RUNNING, None
        outcome.failure = None
        active_outcome = _proton_outcome(outcome, snapshot.proton_id or "")
        active_outcome.status = None  # the switch marks it draining
    outcome.rollout = outcomes.RolloutChange(
        status=step.status,
        message=step.message,
        switch=step.switch,
        finished=step.finish,
    )


def _proton_outcome(outcome: outcomes.Outcome, proton_id: str) -> outcomes.ProtonOutcome:
    for proton_outcome in outcome.protons:
        if proton_outcome.proton_id == proton_id:
            return proton_outcome
    found = outcomes.ProtonOutcome(proton_id)
    outcome.protons.append(found)
    return found


def _replace(outcome: outcomes.Outcome, new: outcomes.ProtonOutcome) -> None:
    outcome.protons = [p for p in outcome.protons if p.proton_id != new.proton_id] + [new]


def _next_pass(ctx: PassContext, snapshot: store.Snapshot, outcome: outcomes.Outcome) -> float:
    # Measured from now, not from the pass's start: a pass that created containers took most
    # of a second, and the new replica's first probe is due right away.
    now = ctx.clock()
    status = outcome.status or snapshot.status
    if status in INACTIVE and snapshot.replacement is None:
        return ctx.sweep_seconds * 6
    delays = [ctx.sweep_seconds]
    if status != Status.RUNNING or snapshot.replacement is not None:
        delays.append(0.5)
    for proton in snapshot.protons:
        due = next_probe_due(ctx, proton)
        if due is not None:
            delays.append(due - now.timestamp())
    for proton_outcome in outcome.protons:
        for replica in proton_outcome.replicas:
            if replica.next_restart_at is not None:
                delays.append((replica.next_restart_at - now).total_seconds())
    if snapshot.expires_at is not None:
        delays.append((snapshot.expires_at - now).total_seconds())
    return max(0.05, min(delays))

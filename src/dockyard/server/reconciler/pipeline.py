"""One reconcile pass over one workload, top to bottom: observe → decide → act → apply.

1. Read the workload's snapshot without a lease (or keep the one the last quiet pass read).
2. `observe.py`: what the runtime and the probes say of its live protons.
3. `decide.py`: one pure decision over the whole workload (with `rollout.py` during a
   replacement).
4. A decision that calls no runtime verb and changes nothing recorded ends the pass here: no
   lease, no write. This is most passes over a running workload.
5. Otherwise take the lease and re-read the snapshot. If it is the one decided on (nearly
   always), the decision stands; if someone changed the workload in between, decide again
   on what the lease holds.
6. `act.py`: carry the decision out on the runtime, outside any transaction.
7. `repository.apply`: write the outcome in one transaction, if the lease still holds.
"""

from __future__ import annotations

import logging
from datetime import datetime

from dockyard.server.reconciler import repository
from dockyard.server.reconciler.act import Outcome, act
from dockyard.server.reconciler.context import PassContext
from dockyard.server.reconciler.decide import ScalingInputs, WorkloadPlan, decide_workload
from dockyard.server.reconciler.observe import Sighting, next_probe_due, observe
from dockyard.server.reconciler.state import Snapshot
from dockyard.server.runtimes.base import RuntimeManagesHealth, RuntimeTemporaryError
from dockyard.server.workloads.statuses import INACTIVE, Status

log = logging.getLogger(__name__)

TASK_LOOK_SECONDS = 0.2  # how often a running task is looked at
TASK_FIRST_LOOK_SECONDS = 0.05  # the first look after its start


def reconcile_workload(ctx: PassContext, workload_id: str, *, fresh: bool = False) -> float:
    """Run one pass; returns the seconds until this workload wants its next one.

    `fresh` ignores a kept snapshot (a nudge: the user just changed what the workload should
    be)."""
    try:
        return _pass(ctx, workload_id, fresh)
    finally:
        # Started and recorded (then counted as running), or not started: either way the
        # slot it held while it started is no longer this pass's.
        ctx.task_starts.release(workload_id)


def _pass(ctx: PassContext, workload_id: str, fresh: bool) -> float:
    now = ctx.clock()
    snapshot = None if fresh else ctx.snapshots.get(workload_id)
    if snapshot is None:
        snapshot = repository.load(ctx.db, workload_id, now)
    if snapshot is None or snapshot.held:
        ctx.snapshots.pop(workload_id, None)
        return 1.0  # another pass holds the lease, or the workload is gone
    try:
        sightings = observe(ctx, snapshot, now)
        plan = _decide(ctx, snapshot, sightings, now)
        _ready_first(plan, sightings, now)
        if not plan.acts and workload_id not in ctx.engine_trouble:
            quiet = act(ctx, snapshot, plan, sightings)  # no runtime call: the plan makes none
            if quiet.changes_nothing(snapshot):
                ctx.snapshots[workload_id] = snapshot
                return _next_pass(ctx, snapshot, quiet)
    except RuntimeTemporaryError as exc:
        log.warning("workload %s: runtime busy (%s); retrying", workload_id, exc.message)
        _report_engine_trouble(ctx, workload_id, exc.message)
        return exc.delay
    except Exception:
        log.exception("workload %s: reconcile pass failed", workload_id)
        return 5.0
    ctx.snapshots.pop(workload_id, None)
    return _leased_pass(ctx, snapshot, sightings, plan, now)


def _leased_pass(
    ctx: PassContext,
    seen: Snapshot,
    sightings: dict[str, Sighting],
    plan: WorkloadPlan,
    now: datetime,
) -> float:
    owner = repository.lease_owner(ctx.server_id)
    snapshot = repository.lease_and_load(ctx.db, seen.workload_id, now, owner)
    if snapshot is None:
        return 1.0  # another pass holds the lease, or the workload is gone
    try:
        if not snapshot.same_as(seen):
            # What was seen of a proton whose records did not change still holds (its probe
            # results are not taken twice); a proton recorded differently is looked at again.
            before = {proton.id: proton for proton in seen.protons}
            now_read = {proton.id: proton for proton in snapshot.protons}
            kept = {
                proton_id: sighting
                for proton_id, sighting in sightings.items()
                if proton_id in now_read and before.get(proton_id) == now_read[proton_id]
            }
            sightings = observe(ctx, snapshot, now, known=kept)
            plan = _decide(ctx, snapshot, sightings, now)
        outcome = act(ctx, snapshot, plan, sightings)
    except RuntimeTemporaryError as exc:
        log.warning("workload %s: runtime busy (%s); retrying", snapshot.workload_id, exc.message)
        repository.release(ctx.db, snapshot)
        _report_engine_trouble(ctx, snapshot.workload_id, exc.message)
        return exc.delay
    except Exception:
        log.exception("workload %s: reconcile pass failed", snapshot.workload_id)
        repository.release(ctx.db, snapshot)
        return 5.0
    if ctx.engine_trouble.pop(snapshot.workload_id, None) is not None:
        outcome.events.append(("runtime_recovered", {"reason": "the runtime answers again"}))
    if outcome.changes_nothing(snapshot):
        repository.release(ctx.db, snapshot)
    elif repository.apply(ctx.db, snapshot, outcome, ctx.clock()):
        for hook in ctx.on_routes_changed:
            hook(snapshot.workload_id)
    return _next_pass(ctx, snapshot, outcome)


def _decide(
    ctx: PassContext, snapshot: Snapshot, sightings: dict[str, Sighting], now: datetime
) -> WorkloadPlan:
    seen = {proton_id: sighting.replicas for proton_id, sighting in sightings.items()}
    restarts = isinstance(ctx.runtime, RuntimeManagesHealth)
    measured = {pid: s.measured for pid, s in sightings.items() if s.measured is not None}
    scaling = ScalingInputs(measured, ctx.scale_history, ctx.scaling)
    plan = decide_workload(
        snapshot,
        seen,
        now,
        ctx.policy,
        runtime_restarts=restarts,
        task_policy=ctx.task_policy,
        task_slot_free=_task_slot_free(ctx, snapshot),
        scaling=scaling,
    )
    _keep_scale_history(ctx, snapshot, plan)
    return plan


def _ready_first(plan: WorkloadPlan, sightings: dict[str, Sighting], now: datetime) -> None:
    """A pass that saw a replica become ready and would also start others (the autoscaler
    asking for more while its first added replica passes its probe) records the ready one
    first: its starts move to the pass right after, instead of keeping that replica out of
    traffic for as long as creating the others takes."""
    became_ready = any(
        event == "replica_ready" for sighting in sightings.values() for event, _ in sighting.events
    )
    protons = plan.protons.values()
    if not became_ready or plan.retire or not any(p.ensure for p in protons):
        return
    if any(p.restart or p.remove or p.stop_all or p.park or p.remove_all for p in protons):
        return  # a pass that restarts or removes something does it all at once, as before
    for proton_plan in protons:
        proton_plan.ensure = []
    plan.wake_at = now if plan.wake_at is None else min(plan.wake_at, now)


def _task_slot_free(ctx: PassContext, snapshot: Snapshot) -> bool:
    """Whether a task waiting to start may start now (DOCKYARD_MAX_RUNNING_TASKS)."""
    active = snapshot.proton("active")
    if active is None or not active.task or snapshot.status != Status.SUBMITTED:
        return True  # only a task about to start asks: no count on other passes
    return ctx.task_starts.take(
        snapshot.workload_id, lambda: repository.running_tasks(ctx.db), ctx.task_policy
    )


def _keep_scale_history(ctx: PassContext, snapshot: Snapshot, plan: WorkloadPlan) -> None:
    """The autoscaler's recommendations outlive the pass (its stabilization window reads
    them); those of protons no longer active are dropped."""
    active = snapshot.proton_id
    # A copy of the keys first: passes of other workloads add theirs meanwhile.
    kept = list(ctx.scale_history)
    for key in [key for key in kept if key[0] != active and key[0] in plan.protons]:
        del ctx.scale_history[key]
    for proton_plan in plan.protons.values():
        if proton_plan.scale is not None:
            ctx.scale_history.update(proton_plan.scale.history)


def _report_engine_trouble(ctx: PassContext, workload_id: str, message: str) -> None:
    """Tell the workload's events that its runtime cannot be reached, once per outage.

    The pass is retried after the error's delay; nothing about the workload changes, since
    what runs may well be fine and the reconciler catches up when the engine answers."""
    if workload_id in ctx.engine_trouble:
        return
    ctx.engine_trouble[workload_id] = message
    repository.record_events(ctx.db, workload_id, [("runtime_error", {"reason": message})])


def _next_pass(ctx: PassContext, snapshot: Snapshot, outcome: Outcome) -> float:
    # Measured from now, not from the pass's start: a pass that created containers took most
    # of a second, and the new replica's first probe is due right away.
    now = ctx.clock()
    status = outcome.status or snapshot.status
    if status in INACTIVE and snapshot.replacement is None:
        return ctx.sweep_seconds * 6
    delays = [ctx.sweep_seconds]
    if status != Status.RUNNING or snapshot.replacement is not None:
        delays.append(0.5)
    active = snapshot.proton("active")
    if active is not None and active.task:
        # A task's end is seen by looking: right after its start soonest, as a short program
        # is done by then; then often, so a client polling for it waits little, unless the
        # runtime reports exits (then a look now and then only stands in for a lost report).
        starting = status in (Status.SUBMITTED, Status.PROVISIONING)
        if starting:
            delays.append(TASK_FIRST_LOOK_SECONDS)
        elif not ctx.runtime.watches_exits():
            delays.append(TASK_LOOK_SECONDS)
    if outcome.wake_at is not None:
        delays.append((outcome.wake_at - now).total_seconds())
    if any(proton.scale for proton in snapshot.protons if proton.role == "active"):
        delays.append(ctx.scaling.interval_seconds)  # the autoscaler's own rhythm
    started = {o.proton_id: o.replicas.keys() for o in outcome.protons}
    for proton in snapshot.protons:
        due = next_probe_due(ctx, proton, started.get(proton.id, ()))
        if due is not None:
            delays.append(due - now.timestamp())
    for proton_outcome in outcome.protons:
        for replica in proton_outcome.replicas.values():
            if replica.next_restart_at is not None:
                delays.append((replica.next_restart_at - now).total_seconds())
    if snapshot.expires_at is not None:
        delays.append((snapshot.expires_at - now).total_seconds())
    return max(0.05, min(delays))

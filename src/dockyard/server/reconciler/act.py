"""The third step of a pass: carry a plan out on the runtime, outside any transaction.

Only this step calls the runtime's changing verbs (`ensure_proton`, `restart_replica`,
`stop_proton`, `remove_proton`). A plan that asks for none of them is turned into an outcome
without a call, which is how a quiet pass ends without a lease. What comes out is the
`Outcome` that `repository.apply` writes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from dockyard.server.autoscaling.rule import GroupScale
from dockyard.server.reconciler.context import PassContext
from dockyard.server.reconciler.decide import Plan, RolloutChange, WorkloadPlan
from dockyard.server.reconciler.observe import Events, Sighting, forget_health, health_for
from dockyard.server.reconciler.state import Phase, ProtonSnapshot, ReplicaState, Snapshot
from dockyard.server.runtimes.base import ObservedReplica, ReplicaKey, RuntimePermanentError
from dockyard.server.runtimes.proton_spec import build_proton_spec
from dockyard.server.workloads.statuses import FINISHED, ErrorReason, Failure, Status

# A runtime's permanent error codes → the errored reason a user sees; the rest: start_failed.
_REASONS = {"image_not_found": ErrorReason.IMAGE_PULL_FAILED}


@dataclass
class ProtonOutcome:
    proton_id: str
    replicas: dict[ReplicaKey, ReplicaState] = field(default_factory=dict)
    removed: list[ReplicaKey] = field(default_factory=list)
    status: Status | None = None
    reason: str | None = None
    failure: Failure | None = None  # with status ERRORED: why, for statusDetails
    log_tail: list[str] | None = None
    retire: bool = False  # its runtime objects are gone; keep the row for history only
    scale: dict[str, GroupScale] | None = None  # the autoscaler's state to store, if changed


@dataclass
class Outcome:
    protons: list[ProtonOutcome] = field(default_factory=list)
    status: Status | None = None  # the workload's (its active proton's) status
    reason: str | None = None
    failure: Failure | None = None
    exit_code: int | None = None  # a finished task's
    wake_at: datetime | None = None  # the next pass by then at the latest
    events: Events = field(default_factory=list)
    rollout: RolloutChange | None = None

    def changes_nothing(self, snapshot: Snapshot) -> bool:
        """A pass that saw everything as recorded: giving the lease back is all there is to do.

        Most passes over a healthy workload are like this, and skipping the loads and writes
        of `repository.apply` is most of what keeps an idle server's CPU low."""
        if self.events or self.rollout is not None:
            return False
        if self.status is not None and self.status != snapshot.status:
            return False
        protons = {proton.id: proton for proton in snapshot.protons}
        for outcome in self.protons:
            proton = protons.get(outcome.proton_id)
            if proton is None or outcome.removed or outcome.retire:
                return False
            if outcome.log_tail is not None or outcome.scale is not None:
                return False
            if outcome.status is not None and outcome.status != proton.status:
                return False
            if set(outcome.replicas) != set(proton.replicas):
                return False
            if any(state.settled_changed() for state in outcome.replicas.values()):
                return False
        return True


def act(
    ctx: PassContext,
    snapshot: Snapshot,
    plan: WorkloadPlan,
    sightings: dict[str, Sighting],
) -> Outcome:
    """Carry out the plan; the outcome says what to record."""
    protons = {proton.id: proton for proton in snapshot.protons}
    outcome = Outcome(status=plan.status, reason=plan.reason, failure=plan.failure)
    outcome.exit_code, outcome.wake_at = plan.exit_code, plan.wake_at
    outcome.rollout = plan.rollout
    for proton_id, proton_plan in plan.protons.items():
        sighting = sightings[proton_id]
        outcome.events.extend(sighting.events)
        proton = protons[proton_id]
        done = _act_on_proton(ctx, snapshot.workload_id, proton, proton_plan, sighting, outcome)
        outcome.protons.append(done)
        switched = plan.rollout is not None and plan.rollout.switch
        if proton.role == "active" and done.failure is not proton_plan.failure and not switched:
            # The runtime refused to start it: the workload is errored, and says why.
            outcome.status, outcome.reason, outcome.failure = done.status, done.reason, done.failure
    for proton_id in plan.retire:
        proton = protons[proton_id]
        ctx.runtime.remove_proton(proton.id)
        forget_health(ctx, proton.id)
        outcome.protons.append(ProtonOutcome(proton.id, removed=list(proton.replicas), retire=True))
    return outcome


def _act_on_proton(
    ctx: PassContext,
    workload_id: str,
    proton: ProtonSnapshot,
    plan: Plan,
    sighting: Sighting,
    workload: Outcome,
) -> ProtonOutcome:
    events = workload.events
    outcome = ProtonOutcome(proton.id, status=plan.status, reason=plan.reason, failure=plan.failure)
    if plan.expired:
        events.append(("expired", {"reason": "draft workload reached its time limit"}))
    if plan.remove_all:
        ctx.runtime.remove_proton(proton.id)
        outcome.removed = list(proton.replicas)
        forget_health(ctx, proton.id)
        return outcome
    if plan.scale is not None:
        events.extend(plan.scale.events)
        if plan.scale.scale != proton.scale or not proton.scale_stored:
            outcome.scale = plan.scale.scale
    if plan.stop_all:
        ctx.runtime.stop_proton(proton.id)
    elif plan.park:
        ctx.runtime.park_proton(proton.id)
    observed = dict(sighting.observed)
    replicas = dict(plan.replicas)
    outcome.removed = list(plan.remove)
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
                replica_counts=plan.replica_counts,
            )
            if plan.ensure and not proton.replicas:
                # First start of this proton: say what the runtime cannot honour (the process
                # runtime ignores images and limits) rather than pretend.
                for warning in ctx.runtime.validate(spec):
                    events.append(("runtime_warning", {"reason": warning}))
            if plan.ensure or plan.remove:
                for seen in ctx.runtime.ensure_proton(spec, plan.ensure):
                    replicas[seen.key] = _after_start(ctx, proton, replicas, observed, seen)
                    events.append(("replica_started", {"replica": replicas[seen.key].name}))
            for key in plan.restart:
                reason = replicas[key].message or "health check failed"
                seen = ctx.runtime.restart_replica(proton.id, *key)
                replicas[key] = _after_start(ctx, proton, replicas, observed, seen)
                events.append(
                    ("replica_restarted", {"replica": replicas[key].name, "reason": reason})
                )
        except RuntimePermanentError as exc:
            outcome.status, outcome.reason = Status.ERRORED, exc.reason
            outcome.failure = Failure(_REASONS.get(exc.code, ErrorReason.START_FAILED), exc.reason)
            outcome.log_tail = [exc.reason]
            events.append(("replica_failed", {"reason": exc.reason, "code": exc.code}))
    if outcome.status == Status.ERRORED and outcome.log_tail is None:
        outcome.log_tail = _tail(observed)
        events.append(("replica_failed", {"reason": outcome.reason}))
    elif outcome.status in FINISHED and outcome.log_tail is None:
        outcome.log_tail = _tail(observed)  # what lists show of a finished task's output
    outcome.replicas = {k: v for k, v in replicas.items() if k not in outcome.removed}
    return outcome


def _after_start(
    ctx: PassContext,
    proton: ProtonSnapshot,
    replicas: dict[ReplicaKey, ReplicaState],
    observed: dict[ReplicaKey, ObservedReplica],
    seen: ObservedReplica,
) -> ReplicaState:
    """A replica this pass (re)started, as the runtime answered; its probes start over."""
    observed[seen.key] = seen
    health_for(ctx, proton, seen.key, seen, just_started=True)
    state = replicas.get(seen.key) or ReplicaState(seen.key)
    return state.with_changes(
        phase=Phase(seen.phase),
        host=seen.host,
        port=seen.port,
        started_at=seen.started_at,
        message=state.message or seen.message,
    )


def _tail(observed: dict[ReplicaKey, ObservedReplica]) -> list[str]:
    lines: list[str] = []
    for state in observed.values():
        lines.extend(state.last_output)
    return lines[-50:]

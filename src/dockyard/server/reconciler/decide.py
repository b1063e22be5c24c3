"""Pure reconcile decisions: (desired, recorded, observed, now) → a plan. No I/O here.

`decide` plans one proton; `decide_workload` plans a whole pass: the active proton, the
candidate of a replacement in flight (with `rollout.py`), and protons left to remove. The
plan is carried out by `act.py` and written by `repository.apply`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from dockyard.server.reconciler.rollout import RolloutView, decide_rollout
from dockyard.server.reconciler.scaling import (
    History,
    Measured,
    ScalePlan,
    ScalingPolicy,
    plan_scaling,
)
from dockyard.server.reconciler.state import Phase, ProtonSnapshot, ReplicaState, Snapshot
from dockyard.server.reconciler.tasks import TaskPolicy, judge_task
from dockyard.server.runtimes.base import ReplicaKey, Waiting
from dockyard.server.workloads.statuses import FINISHED, ErrorReason, Failure, Status


@dataclass(frozen=True)
class RestartPolicy:
    backoff_seconds: float = 10.0
    backoff_max_seconds: float = 300.0
    healthy_reset_seconds: float = 600.0
    limit: int = 5
    ready_timeout_seconds: float = 300.0  # never ready this long after a start: failed

    def delay(self, step: int) -> float:
        """First restart at once, then back-off doubling from `backoff_seconds` to the cap."""
        if step <= 0:
            return 0.0
        return min(self.backoff_seconds * 2 ** (step - 1), self.backoff_max_seconds)


@dataclass
class ProtonView:
    """What one proton's decision reads."""

    desired_state: str  # running | stopped
    status: Status
    wanted: tuple[ReplicaKey, ...]  # every replica the runtime settings ask for
    replicas: tuple[ReplicaState, ...]  # as observed in this pass
    expires_at: datetime | None = None
    # The runtime restarts failed replicas itself (RuntimeManagesHealth): the decision only
    # counts its restarts, and stops the proton when it gives up on it.
    runtime_restarts: bool = False
    # A declared task (tasks.py), or a service of one replica without probes, which ends as
    # a task if its primary exits before it was ever ready. Only ever the active proton.
    task: bool = False
    may_end_as_task: bool = False
    task_slot_free: bool = True  # below DOCKYARD_MAX_RUNNING_TASKS: a task may start
    task_policy: TaskPolicy = field(default_factory=TaskPolicy)
    # Groups the autoscaler sizes, with the count it asks for: their replicas beyond it drain
    # before they go, and adding or removing them never moves a running proton back.
    scaled: dict[str, int] = field(default_factory=dict)
    # Scaled-away replicas that are drained (see `scaling.plan_scaling`); None: remove at once.
    removable: set[ReplicaKey] | None = None
    proton_status: Status | None = None  # the proton's own (`status` is the workload's)


@dataclass
class Plan:
    """One proton's decision: runtime calls to make and each replica as they leave it."""

    ensure: list[ReplicaKey] = field(default_factory=list)  # replicas to create or start
    restart: list[ReplicaKey] = field(default_factory=list)
    remove: list[ReplicaKey] = field(default_factory=list)
    stop_all: bool = False
    park: bool = False  # stop_all for the autoscaler at zero: `Runtime.park_proton`
    remove_all: bool = False
    status: Status | None = None
    reason: str | None = None
    failure: Failure | None = None  # with status ERRORED or FAILED: why, for statusDetails
    exit_code: int | None = None  # with status SUCCEEDED or FAILED: the task's
    wake_at: datetime | None = None  # look again by then at the latest (a task's run cap)
    expired: bool = False
    replicas: dict[ReplicaKey, ReplicaState] = field(default_factory=dict)
    # Per scaled group, how many replicas the runtime keeps: the autoscaler's count, or more
    # while the ones above it drain.
    replica_counts: dict[str, int] = field(default_factory=dict)
    scale: ScalePlan | None = None  # the autoscaler's verdict on the active proton

    @property
    def acts(self) -> bool:
        """Whether carrying the plan out calls the runtime (and so needs the lease)."""
        stops = self.stop_all or self.park or self.remove_all
        return bool(self.ensure or self.restart or self.remove or stops)


def decide(view: ProtonView, now: datetime, policy: RestartPolicy) -> Plan:
    plan = _decide(view, now, policy)
    for replica in view.replicas:
        plan.replicas.setdefault(replica.key, replica)
    return plan


def _decide(view: ProtonView, now: datetime, policy: RestartPolicy) -> Plan:
    if view.status == Status.TERMINATED:
        return Plan(remove_all=any(r.phase != Phase.MISSING for r in view.replicas))
    if view.expires_at is not None and now >= view.expires_at:
        return Plan(remove_all=True, status=Status.TERMINATED, reason="draft expired", expired=True)
    if view.desired_state == "stopped":
        return _decide_stopped(view)
    if view.status == Status.ERRORED or view.status in FINISHED:
        # Errored, and a finished task, are sticky: keep what is there for inspection (and
        # the logs) until the user acts.
        return Plan()
    wake_at = None
    if view.task or view.may_end_as_task:
        replica = next((r for r in view.replicas if r.key in view.wanted), None)
        verdict = judge_task(replica, declared=view.task, now=now, policy=view.task_policy)
        if verdict.end is not None:
            # Stop what is left (sidecars, the network); the stopped containers keep the logs.
            # A replica that was its primary alone has nothing left.
            end = verdict.end
            reason = end.failure.message if end.failure else "the task succeeded"
            left = any(r.phase not in (Phase.STOPPED, Phase.MISSING) for r in view.replicas)
            return Plan(
                stop_all=left,
                status=end.status,
                reason=reason,
                failure=end.failure,
                exit_code=end.exit_code,
            )
        wake_at = verdict.deadline
        if view.task and view.status == Status.SUBMITTED and not view.task_slot_free:
            return Plan()  # DOCKYARD_MAX_RUNNING_TASKS run already: wait in submitted
    plan = _decide_running(view, now, policy)
    plan.wake_at = wake_at
    return plan


def _decide_stopped(view: ProtonView) -> Plan:
    # Stopped containers are kept (their logs stay readable); a later start makes a new
    # proton and the old one is garbage-collected.
    present = [r for r in view.replicas if r.phase not in (Phase.MISSING, Phase.STOPPED)]
    # A scaled proton at zero has its replicas parked (stopped, with what a runtime keeps of
    # them still up) while it runs: a stop takes those down too, once, and moves the proton
    # through stopping as any other.
    parked = bool(view.scaled) and view.proton_status not in (
        None,
        Status.STOPPING,
        Status.STOPPED,
    )
    if present or parked:
        return Plan(stop_all=True, status=Status.STOPPING)
    return Plan(status=Status.STOPPED)


def _decide_running(view: ProtonView, now: datetime, policy: RestartPolicy) -> Plan:
    plan = Plan()
    by_key = {replica.key: replica for replica in view.replicas}
    _plan_removals(view, by_key, plan, now)
    for key in view.wanted:
        replica = by_key.get(key) or ReplicaState(key)
        if replica.draining_since is not None:
            # Asked for again before it went: it takes requests again.
            replica = plan.replicas[key] = replica.with_changes(draining_since=None)
        if view.runtime_restarts and replica.phase == Phase.PENDING:
            # A runtime that manages health brings a pending replica up on its own; what
            # Dockyard decides is how long to wait for it.
            failure = _pending_too_long(replica, now, policy)
            if failure:
                _give_up(plan, failure, stop=True)
                return plan
            continue
        # Missing, stopped, or still pending (perhaps half-made by a server that died in the
        # middle): ensure is idempotent and builds or starts whatever is not there yet.
        if replica.phase in (Phase.MISSING, Phase.STOPPED, Phase.PENDING):
            plan.ensure.append(key)
            continue
        healthy_for = (now - replica.ready_since).total_seconds() if replica.ready_since else 0.0
        if replica.ready and replica.backoff_step and healthy_for >= policy.healthy_reset_seconds:
            replica = plan.replicas[key] = replica.with_changes(backoff_step=0)
        if view.task and replica.phase == Phase.FAILED:
            continue  # a sidecar ended: a task's containers are never restarted
        if replica.phase == Phase.FAILED or replica.wants_restart:
            failure = _plan_restart(plan, replica, now, policy, view.runtime_restarts)
            if failure:
                _give_up(plan, failure, stop=view.runtime_restarts)
                return plan
    plan.status = _roll_up(view, by_key, plan)
    return plan


def _plan_removals(
    view: ProtonView, by_key: dict[ReplicaKey, ReplicaState], plan: Plan, now: datetime
) -> None:
    """Replicas no longer wanted go; a scaled group's drain first, highest index first (the
    runtime keeps a group's replicas as a count, so one can go only once those above it
    have)."""
    wanted = set(view.wanted)
    unwanted = sorted(
        (key for key, r in by_key.items() if key not in wanted and r.phase != Phase.MISSING),
        reverse=True,
    )
    if not view.wanted and view.scaled and view.removable is not None:
        _park(view, by_key, plan, unwanted, now)
        return
    kept_above: set[str] = set()  # groups with a replica above the current one staying
    for key in unwanted:
        group = key[0]
        if group not in view.scaled or view.removable is None:
            plan.remove.append(key)
            continue
        if key in view.removable and group not in kept_above:
            plan.remove.append(key)
            continue
        kept_above.add(group)
        replica = by_key[key]
        if replica.draining_since is None:
            plan.replicas[key] = replica.with_changes(draining_since=now)
    plan.remove.sort()
    for group, desired in view.scaled.items():
        staying = [
            key[1] for key, r in by_key.items()
            if key[0] == group and r.phase != Phase.MISSING and key not in plan.remove
        ]  # fmt: skip
        plan.replica_counts[group] = max([desired, *(index + 1 for index in staying)])


def _park(
    view: ProtonView,
    by_key: dict[ReplicaKey, ReplicaState],
    plan: Plan,
    unwanted: list[ReplicaKey],
    now: datetime,
) -> None:
    """The autoscaler holds the whole proton at zero: once every replica has drained, they are
    parked (stopped, keeping what the runtime can of them), not removed, so a wake starts them
    again instead of creating them (quicker), and their output stays readable."""
    live = [key for key in unwanted if by_key[key].phase != Phase.STOPPED]
    assert view.removable is not None
    if live and all(key in view.removable for key in live):
        plan.park = True
    for key in live:
        if by_key[key].draining_since is None:
            plan.replicas[key] = by_key[key].with_changes(draining_since=now)
    for group in view.scaled:
        plan.replica_counts[group] = 1 + max(
            (index for (name, index) in by_key if name == group), default=-1
        )


def _give_up(plan: Plan, failure: Failure, *, stop: bool) -> None:
    plan.status, plan.reason, plan.failure = Status.ERRORED, failure.message, failure
    # A runtime that restarts on its own would go on forever: stop it, as Dockyard itself
    # stops restarting. What ran stays for its logs.
    plan.stop_all = stop


def _pending_too_long(
    replica: ReplicaState, now: datetime, policy: RestartPolicy
) -> Failure | None:
    """A replica the runtime has not got running `ready_timeout_seconds` after it was made
    (an image that cannot be pulled, no machine to run it): why to give up, else None."""
    if replica.started_at is None:
        return None
    waited = (now - replica.started_at).total_seconds()
    if waited < policy.ready_timeout_seconds:
        return None
    what = replica.message or replica.waiting_reason or "it never started"
    reason = (
        ErrorReason.IMAGE_PULL_FAILED
        if replica.waiting_reason == Waiting.IMAGE_PULL
        else ErrorReason.READY_TIMEOUT
    )
    return Failure(
        reason,
        f"replica {replica.name} not running {policy.ready_timeout_seconds:g} s after it was "
        f"created: {what}",
    )


def _plan_restart(
    plan: Plan, replica: ReplicaState, now: datetime, policy: RestartPolicy, by_runtime: bool
) -> Failure | None:
    """Restart now, wait for the back-off, or give up; returns why when giving up."""
    if replica.failures_in_a_row >= policy.limit:
        what = replica.message or "the container keeps failing"
        if replica.phase == Phase.FAILED:
            reason = ErrorReason.CRASH_LOOP
        else:
            reason = replica.gave_up or ErrorReason.PROBE_FAILED
        return Failure(
            reason,
            f"replica {replica.name} restarted {policy.limit} times without becoming ready: {what}",
        )
    if by_runtime:
        return None  # the runtime restarts it on its own back-off
    if replica.next_restart_at is not None and now < replica.next_restart_at:
        return None  # still backing off
    step = replica.backoff_step + 1
    plan.restart.append(replica.key)
    plan.replicas[replica.key] = replica.with_changes(
        ready=False,
        started=False,
        restart_count=replica.restart_count + 1,
        failures_in_a_row=replica.failures_in_a_row + 1,
        backoff_step=step,
        next_restart_at=now + timedelta(seconds=policy.delay(step)),
    )
    return None


def _roll_up(view: ProtonView, by_key: dict[ReplicaKey, ReplicaState], plan: Plan) -> Status:
    """Running when every replica is ready (an autoscaled group: see `_scaled_group_runs`);
    otherwise the earliest stage any replica is in."""
    wanted = [by_key.get(key) for key in view.wanted]
    plain = [by_key.get(key) for key in view.wanted if key[0] not in view.scaled]
    if (
        all(r is not None and r.ready and r.phase == Phase.RUNNING for r in plain)
        and not any(key[0] not in view.scaled for key in plan.restart)
        and all(_scaled_group_runs(view, group, by_key) for group in view.scaled)
    ):
        return Status.RUNNING
    if any(r is None or r.phase in (Phase.MISSING, Phase.PENDING) for r in wanted):
        return (
            Status.PROVISIONING
            if view.status in (Status.SUBMITTED, Status.PROVISIONING)
            else Status.LAUNCHING
        )
    return Status.LAUNCHING


def _scaled_group_runs(
    view: ProtonView, group: str, by_key: dict[ReplicaKey, ReplicaState]
) -> bool:
    """An autoscaled group runs while a replica of it is ready or the autoscaler holds it at
    zero; once running, replicas the autoscaler adds do not take that back while they start
    (one that fails does)."""
    members = [r for r in by_key.values() if r.key[0] == group]
    if view.scaled[group] == 0 or any(r.ready and r.phase == Phase.RUNNING for r in members):
        return True
    starting = all(r.phase != Phase.FAILED and not r.failures_in_a_row for r in members)
    return view.status == Status.RUNNING and starting


# --- a whole pass ----------------------------------------------------------------------------


@dataclass
class RolloutChange:
    """What happens to the open replacement in this pass."""

    status: str
    message: str | None = None
    switch: bool = False  # the candidate becomes active, the active one drains
    finished: bool = False


@dataclass
class WorkloadPlan:
    """A pass's decision over every live proton of one workload."""

    protons: dict[str, Plan] = field(default_factory=dict)  # by proton id, in order of acting
    retire: list[str] = field(default_factory=list)  # protons whose runtime objects go
    status: Status | None = None  # the workload's (its active proton's) status
    reason: str | None = None
    failure: Failure | None = None
    exit_code: int | None = None  # a finished task's
    wake_at: datetime | None = None  # the next pass by then at the latest
    rollout: RolloutChange | None = None

    @property
    def acts(self) -> bool:
        return bool(self.retire) or any(plan.acts for plan in self.protons.values())


@dataclass(frozen=True)
class ScalingInputs:
    """What the autoscaler's decision reads besides the snapshot (see `scaling.py`)."""

    measured: dict[str, Measured] = field(default_factory=dict)  # by proton id
    history: History = field(default_factory=dict)
    policy: ScalingPolicy = field(default_factory=ScalingPolicy)


def decide_workload(
    snapshot: Snapshot,
    seen: dict[str, dict[ReplicaKey, ReplicaState]],
    now: datetime,
    policy: RestartPolicy,
    *,
    runtime_restarts: bool = False,
    task_policy: TaskPolicy | None = None,
    task_slot_free: bool = True,
    scaling: ScalingInputs | None = None,
) -> WorkloadPlan:
    """Plan a pass from the snapshot and what `observe` saw of each proton (by proton id).

    `task_slot_free`: fewer tasks run than DOCKYARD_MAX_RUNNING_TASKS allows (asked only for
    a task waiting to start)."""
    plan = WorkloadPlan()
    active = snapshot.proton("active")
    if active is not None:
        scaled = _scale_active(snapshot, active, seen, now, scaling)
        view = _view(active, snapshot.desired_state, snapshot.status, seen, runtime_restarts)
        view.expires_at = snapshot.expires_at
        _as_task(view, active, task_policy or TaskPolicy(), task_slot_free)
        if scaled is not None:
            view.wanted = active.wanted(scaled.scale)
            view.scaled = {group: state.desired for group, state in scaled.scale.items()}
            view.removable = scaled.removable
        active_plan = plan.protons[active.id] = decide(view, now, policy)
        active_plan.scale = scaled
        if scaled is not None and scaled.sized_by_runtime and active.id in seen:
            # Replicas the runtime's own autoscaler took away (an HPA lowered the count):
            # the runtime has nothing left of them and nothing wants them, only their rows.
            gone = {
                key
                for key in set(active.replicas) - set(seen[active.id]) - set(view.wanted)
                if key[0] in scaled.sized_by_runtime
            }
            active_plan.remove = sorted({*active_plan.remove, *gone})
        plan.status, plan.reason = active_plan.status, active_plan.reason
        plan.failure, plan.exit_code = active_plan.failure, active_plan.exit_code
        plan.wake_at = active_plan.wake_at
    if snapshot.replacement is not None:
        _decide_rollout(plan, snapshot, seen, now, policy, runtime_restarts)
    elif drains := [p.id for p in snapshot.protons if p.role == "draining"]:
        plan.retire.extend(drains)  # left over from an interrupted rollout
    return plan


def _decide_rollout(
    plan: WorkloadPlan,
    snapshot: Snapshot,
    seen: dict[str, dict[ReplicaKey, ReplicaState]],
    now: datetime,
    policy: RestartPolicy,
    runtime_restarts: bool,
) -> None:
    replacement = snapshot.replacement
    assert replacement is not None
    candidate = snapshot.proton("candidate")
    candidate_plan: Plan | None = None
    candidate_status: Status | None = None
    running_since = None
    if candidate is not None and replacement.switched_at is None:
        view = _view(candidate, "running", candidate.status, seen, runtime_restarts)
        candidate_plan = plan.protons[candidate.id] = decide(view, now, policy)
        candidate_status = candidate_plan.status or candidate.status
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
    if step.candidate_status is not None and candidate_plan is not None:
        candidate_plan.status = step.candidate_status
    if step.remove_candidate and candidate is not None:
        plan.protons.pop(candidate.id, None)
        plan.retire.append(candidate.id)
    if step.remove_previous and replacement.previous_proton_id in {p.id for p in snapshot.protons}:
        assert replacement.previous_proton_id is not None
        plan.protons.pop(replacement.previous_proton_id, None)
        plan.retire.append(replacement.previous_proton_id)
    if step.switch and candidate is not None:
        # From here the candidate is the workload's active proton: its status is the workload's.
        plan.status, plan.reason = step.candidate_status or Status.RUNNING, None
        plan.failure = None
        active_plan = plan.protons.get(snapshot.proton_id or "")
        if active_plan is not None:
            active_plan.status = None  # the switch marks it draining
    plan.rollout = RolloutChange(
        status=step.status, message=step.message, switch=step.switch, finished=step.finish
    )


def _as_task(view: ProtonView, proton: ProtonSnapshot, policy: TaskPolicy, free: bool) -> None:
    view.task = proton.task
    # One replica and nothing that says how it is healthy: it may be a program that runs and
    # exits (what the hosted platform's sandbox client sends), see tasks.py.
    view.may_end_as_task = not proton.task and len(view.wanted) == 1 and not proton.probed()
    view.task_policy = policy
    view.task_slot_free = free


def _scale_active(
    snapshot: Snapshot,
    active: ProtonSnapshot,
    seen: dict[str, dict[ReplicaKey, ReplicaState]],
    now: datetime,
    scaling: ScalingInputs | None,
) -> ScalePlan | None:
    """The autoscaler's verdict on the active proton, while the workload should run."""
    if not active.scale or snapshot.desired_state != "running":
        return None
    if snapshot.status in (Status.ERRORED, Status.TERMINATED, Status.STOPPING, Status.STOPPED):
        return None
    scaling = scaling or ScalingInputs()
    measured = scaling.measured.get(active.id)
    if measured is None:
        # Nothing measured (a pass that did not look): the counts stay as they are.
        return ScalePlan(scale=dict(active.scale))
    replicas = seen.get(active.id, {})
    return plan_scaling(active, replicas, measured, scaling.history, now, scaling.policy)


def _view(
    proton: ProtonSnapshot,
    desired_state: str,
    status: Status,
    seen: dict[str, dict[ReplicaKey, ReplicaState]],
    runtime_restarts: bool,
) -> ProtonView:
    return ProtonView(
        desired_state=desired_state,
        status=status,
        wanted=proton.wanted(),
        replicas=tuple(seen.get(proton.id, {}).values()),
        runtime_restarts=runtime_restarts,
        scaled={group: state.desired for group, state in proton.scale.items()},
        proton_status=proton.status,
    )

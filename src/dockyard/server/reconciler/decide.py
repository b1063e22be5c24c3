"""Pure reconcile decisions: (desired, recorded, observed, now) → a plan. No I/O here.

The apply step (pipeline.py) carries a plan out: runtime calls first, outside any
transaction, then one transaction that records the outcome if the lease still holds.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from dockyard.server.workloads.statuses import ErrorReason, Failure, Status


class Phase(StrEnum):
    """What the runtime reports for one replica."""

    MISSING = "missing"  # nothing exists for it
    PENDING = "pending"  # being created
    RUNNING = "running"  # containers up (ready or not is the probes' business)
    FAILED = "failed"  # a container exited or could not start
    STOPPED = "stopped"


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


ReplicaKey = tuple[str, int]  # (container group name, replica index)


@dataclass(frozen=True)
class ReplicaView:
    key: ReplicaKey
    phase: Phase
    ready: bool = False
    started: bool = False  # startup probes passed
    wants_restart: bool = False  # a liveness or startup probe gave up on it
    # Which kind of give-up that was, for the errored reason if the budget runs out:
    # READY_TIMEOUT (never ready in time) or PROBE_FAILED (liveness or startup).
    gave_up: ErrorReason | None = None
    failures_in_a_row: int = 0
    backoff_step: int = 0
    next_restart_at: float | None = None
    ready_since: float | None = None
    message: str | None = None
    permanent_error: str | None = None  # the runtime said retrying cannot help


@dataclass(frozen=True)
class WorkloadView:
    desired_state: str  # running | stopped
    status: Status
    wanted: tuple[ReplicaKey, ...]  # every replica the runtime settings ask for
    replicas: tuple[ReplicaView, ...]
    expires_at: float | None = None


@dataclass
class ReplicaChange:
    key: ReplicaKey
    failures_in_a_row: int | None = None
    backoff_step: int | None = None
    next_restart_at: float | None = None
    clear_next_restart: bool = False
    restarted: bool = False
    message: str | None = None


@dataclass
class Plan:
    ensure: list[ReplicaKey] = field(default_factory=list)  # replicas to create or start
    restart: list[ReplicaKey] = field(default_factory=list)
    remove: list[ReplicaKey] = field(default_factory=list)
    stop_all: bool = False
    remove_all: bool = False
    status: Status | None = None
    reason: str | None = None
    failure: Failure | None = None  # with status ERRORED: why, for statusDetails
    expired: bool = False
    changes: list[ReplicaChange] = field(default_factory=list)

    @property
    def acts(self) -> bool:
        """Whether carrying the plan out calls the runtime (and so needs the lease)."""
        return bool(self.ensure or self.restart or self.remove or self.stop_all or self.remove_all)


def decide(view: WorkloadView, now: float, policy: RestartPolicy) -> Plan:
    if view.status == Status.TERMINATED:
        return Plan(remove_all=any(r.phase != Phase.MISSING for r in view.replicas))
    if view.expires_at is not None and now >= view.expires_at:
        return Plan(remove_all=True, status=Status.TERMINATED, reason="draft expired", expired=True)
    if view.desired_state == "stopped":
        return _decide_stopped(view)
    if view.status == Status.ERRORED:
        # Errored is sticky: keep what is there for inspection until the user acts.
        return Plan()
    return _decide_running(view, now, policy)


def _decide_stopped(view: WorkloadView) -> Plan:
    # Stopped containers are kept (their logs stay readable); a later start makes a new
    # proton and the old one is garbage-collected.
    present = [r for r in view.replicas if r.phase not in (Phase.MISSING, Phase.STOPPED)]
    if present:
        return Plan(stop_all=True, status=Status.STOPPING)
    return Plan(status=Status.STOPPED)


def _decide_running(view: WorkloadView, now: float, policy: RestartPolicy) -> Plan:
    plan = Plan()
    by_key = {replica.key: replica for replica in view.replicas}
    wanted = set(view.wanted)
    plan.remove = sorted(
        key for key, r in by_key.items() if key not in wanted and r.phase != Phase.MISSING
    )
    for key in view.wanted:
        replica = by_key.get(key) or ReplicaView(key=key, phase=Phase.MISSING)
        if replica.permanent_error:
            _give_up(plan, Failure(ErrorReason.START_FAILED, replica.permanent_error))
            return plan
        # Missing, stopped, or still pending (perhaps half-made by a server that died in the
        # middle): ensure is idempotent and builds or starts whatever is not there yet.
        if replica.phase in (Phase.MISSING, Phase.STOPPED, Phase.PENDING):
            plan.ensure.append(key)
            continue
        healthy_for = now - replica.ready_since if replica.ready_since is not None else 0.0
        if replica.ready and replica.backoff_step and healthy_for >= policy.healthy_reset_seconds:
            plan.changes.append(ReplicaChange(key, backoff_step=0))
        if replica.phase == Phase.FAILED or replica.wants_restart:
            failure = _plan_restart(plan, replica, now, policy)
            if failure:
                _give_up(plan, failure)
                return plan
    plan.status = _roll_up(view, by_key, plan)
    return plan


def _give_up(plan: Plan, failure: Failure) -> None:
    plan.status, plan.reason, plan.failure = Status.ERRORED, failure.message, failure


def _plan_restart(
    plan: Plan, replica: ReplicaView, now: float, policy: RestartPolicy
) -> Failure | None:
    """Restart now, wait for the back-off, or give up; returns why when giving up."""
    if replica.failures_in_a_row >= policy.limit:
        what = replica.message or "the container keeps failing"
        name = f"{replica.key[0]}-{replica.key[1]}"
        if replica.phase == Phase.FAILED:
            reason = ErrorReason.CRASH_LOOP
        else:
            reason = replica.gave_up or ErrorReason.PROBE_FAILED
        return Failure(
            reason, f"replica {name} restarted {policy.limit} times without becoming ready: {what}"
        )
    if replica.next_restart_at is not None and now < replica.next_restart_at:
        return None  # still backing off
    step = replica.backoff_step
    plan.restart.append(replica.key)
    plan.changes.append(
        ReplicaChange(
            replica.key,
            failures_in_a_row=replica.failures_in_a_row + 1,
            backoff_step=step + 1,
            next_restart_at=now + policy.delay(step + 1),
            restarted=True,
            message=replica.message,
        )
    )
    return None


def _roll_up(view: WorkloadView, by_key: dict[ReplicaKey, ReplicaView], plan: Plan) -> Status:
    """Running when every replica is ready; otherwise the earliest stage any replica is in."""
    wanted = [by_key.get(key) for key in view.wanted]
    if (
        all(r is not None and r.ready and r.phase == Phase.RUNNING for r in wanted)
        and not plan.restart
    ):
        return Status.RUNNING
    if any(r is None or r.phase in (Phase.MISSING, Phase.PENDING) for r in wanted):
        return (
            Status.PROVISIONING
            if view.status in (Status.SUBMITTED, Status.PROVISIONING)
            else Status.LAUNCHING
        )
    return Status.LAUNCHING

"""Pure decisions about tasks: workloads that run to completion. No I/O here.

A proton is a task when its primary container has no port (declared). A proton of one replica
whose containers declare no probes, and whose primary exits before it was ever ready, also ends
as a task instead of being restarted: running a program again on each restart would repeat its
effects. A service that should come back after an early crash declares a probe.

A task runs once. When its primary exits, the proton is stopped (sidecars too; the stopped
containers keep its logs) and the workload is `succeeded` (exit 0) or `failed` (any other
code). Past the run cap it is killed and `failed` with `deadline_exceeded`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from dockyard.server.reconciler.state import Phase, ReplicaState
from dockyard.server.workloads.statuses import ErrorReason, Failure, Status


@dataclass(frozen=True)
class TaskPolicy:
    max_seconds: float = 3600.0  # DOCKYARD_TASK_MAX_SECONDS: a run is killed past it
    max_running: int = 50  # DOCKYARD_MAX_RUNNING_TASKS: more wait in `submitted`


@dataclass(frozen=True)
class TaskEnd:
    """How a task's run ended: the status it takes, its exit code, and why when it failed."""

    status: Status
    exit_code: int | None = None
    failure: Failure | None = None


@dataclass(frozen=True)
class TaskVerdict:
    """What one look at a task's replica decides: it ended, or when to look again at most."""

    end: TaskEnd | None = None
    deadline: datetime | None = None  # while it runs: when the run cap kills it


def judge_task(
    replica: ReplicaState | None,
    *,
    declared: bool,
    now: datetime,
    policy: TaskPolicy,
) -> TaskVerdict:
    """Whether the task (or the service that may end as one) has ended, and how.

    `declared`: the proton is a declared task (no port); otherwise it is a service without
    probes that ends as a task only if its primary exits before it was ever ready."""
    if replica is None:
        return TaskVerdict()
    if not declared and replica.ever_ready:
        return TaskVerdict()  # it served: a crash now is a service's, and is restarted
    if replica.phase in (Phase.FAILED, Phase.STOPPED) and replica.primary_exited:
        return TaskVerdict(end=ended_with(replica.exit_code, replica.message))
    if not declared or replica.phase != Phase.RUNNING or replica.started_at is None:
        return TaskVerdict()
    deadline = replica.started_at + timedelta(seconds=policy.max_seconds)
    if now >= deadline:
        message = (
            f"the task ran longer than its limit of {policy.max_seconds:g} s "
            "(DOCKYARD_TASK_MAX_SECONDS) and was killed"
        )
        return TaskVerdict(
            end=TaskEnd(Status.FAILED, None, Failure(ErrorReason.DEADLINE_EXCEEDED, message))
        )
    return TaskVerdict(deadline=deadline)


def ended_with(exit_code: int | None, message: str | None) -> TaskEnd:
    """The end of a run whose primary exited with `exit_code` (None: unknown)."""
    if exit_code == 0:
        return TaskEnd(Status.SUCCEEDED, 0)
    # The runtime's own sentence names the container and, when the engine refused to start
    # it, the engine's reason.
    if message:
        why = message
    elif exit_code is None:
        why = "the program stopped and its exit code is unknown"
    else:
        why = f"the program exited with code {exit_code}"
    return TaskEnd(Status.FAILED, exit_code, Failure(ErrorReason.EXIT_NONZERO, why))


def may_start(running_tasks: int, policy: TaskPolicy) -> bool:
    """Whether one more task may start now, with `running_tasks` running on the installation."""
    return running_tasks < policy.max_running

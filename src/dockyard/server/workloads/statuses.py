"""Workload and proton statuses, and the one table of transitions between them.

Every status change goes through `check_transition`, called only by `set_status` and
`set_proton_status` in `lifecycle.py` — the single place that also stamps the time and writes
the event.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Status(StrEnum):
    UNKNOWN = "unknown"  # nothing observed yet
    SUBMITTED = "submitted"  # accepted; the reconciler has not acted yet
    INITIALIZING = "initializing"  # containers being recreated in place
    PROVISIONING = "provisioning"  # runtime resources being created (network, infra container)
    LAUNCHING = "launching"  # containers started, not all replicas ready yet
    RUNNING = "running"  # every replica passes its readiness check; receives traffic
    WARMING = "warming"  # a replacement candidate inside its warm-up window
    DRAINING = "draining"  # an old proton finishing in-flight requests after a switch
    STOPPING = "stopping"  # a stop was asked; containers are being stopped
    STOPPED = "stopped"  # no containers; can be started again
    ERRORED = "errored"  # a replica exhausted its restart budget or could not start
    TERMINATED = "terminated"  # expired or removed for good; cannot be started again
    # A task's run is over (the primary exited, or the run cap killed it); `start` runs it
    # again. Its containers stay, stopped, so its logs can be read until it is deleted.
    SUCCEEDED = "succeeded"  # the task's primary exited with code 0
    FAILED = "failed"  # it exited with another code, or was killed past the run cap


class ErrorReason(StrEnum):
    """Why a workload is errored: `statusDetails.reason`, stable for scripts to match on."""

    IMAGE_PULL_FAILED = "image_pull_failed"  # the image is not on the engine and pulling failed
    START_FAILED = "start_failed"  # the runtime refused to create or start the containers
    CRASH_LOOP = "crash_loop"  # a container kept exiting; the restart budget is spent
    PROBE_FAILED = "probe_failed"  # a liveness or startup probe kept failing after restarts
    READY_TIMEOUT = "ready_timeout"  # never ready within the time limit, restart after restart
    EXIT_NONZERO = "exit_nonzero"  # a task's primary exited with a code other than 0
    DEADLINE_EXCEEDED = "deadline_exceeded"  # a task ran past DOCKYARD_TASK_MAX_SECONDS, killed


# Where a workload says why it stopped on its own: only these statuses carry a reason.
EXPLAINED = frozenset({Status.ERRORED, Status.FAILED})
# A task's run has ended: these carry its exit code and are written as events of their own.
FINISHED = frozenset({Status.SUCCEEDED, Status.FAILED})


@dataclass(frozen=True)
class Failure:
    """Why a workload is errored (or a task failed): a reason code and the cause in the
    engine's own words."""

    reason: ErrorReason
    message: str


# Statuses the reference knows but Dockyard never sets; filtering by them matches nothing.
NEVER_SET = frozenset({"suspended", "interrupted", "restarting"})

INACTIVE = frozenset({Status.STOPPED, Status.ERRORED, Status.TERMINATED, *FINISHED})
STARTING = frozenset(
    {
        Status.SUBMITTED,
        Status.INITIALIZING,
        Status.PROVISIONING,
        Status.LAUNCHING,
    }
)

_UP = frozenset(
    {
        Status.INITIALIZING,
        Status.PROVISIONING,
        Status.LAUNCHING,
        Status.RUNNING,
        Status.WARMING,
        Status.DRAINING,
    }
)

# A task may end in any stage after it was handed to the runtime: a short program exits
# before its replica was ever seen running.
_ENDS = FINISHED | {Status.ERRORED, Status.TERMINATED}

TRANSITIONS: dict[Status, frozenset[Status]] = {
    Status.UNKNOWN: frozenset({Status.SUBMITTED, Status.TERMINATED}),
    Status.SUBMITTED: _UP | _ENDS | {Status.STOPPING, Status.STOPPED},
    Status.INITIALIZING: _UP | _ENDS | {Status.STOPPING},
    Status.PROVISIONING: _UP | _ENDS | {Status.STOPPING},
    Status.LAUNCHING: _UP | _ENDS | {Status.STOPPING},
    Status.RUNNING: _UP | _ENDS | {Status.STOPPING},
    Status.WARMING: _UP | {Status.STOPPING, Status.ERRORED, Status.TERMINATED},
    Status.DRAINING: _UP | {Status.STOPPING, Status.STOPPED, Status.ERRORED, Status.TERMINATED},
    Status.STOPPING: frozenset({Status.STOPPED, Status.ERRORED, Status.TERMINATED}),
    Status.STOPPED: frozenset({Status.SUBMITTED, Status.TERMINATED}),
    # Errored is sticky until a user acts: start resubmits, stop settles it as stopped.
    Status.ERRORED: frozenset(
        {Status.SUBMITTED, Status.STOPPING, Status.STOPPED, Status.TERMINATED}
    ),
    # So is a finished task: start runs it again; stop leaves it as it ended.
    Status.SUCCEEDED: frozenset({Status.SUBMITTED, Status.TERMINATED}),
    Status.FAILED: frozenset({Status.SUBMITTED, Status.TERMINATED}),
    Status.TERMINATED: frozenset(),
}


class InvalidTransition(ValueError):
    pass


def check_transition(current: Status, new: Status) -> None:
    if new != current and new not in TRANSITIONS[current]:
        raise InvalidTransition(f"cannot go from {current} to {new}")

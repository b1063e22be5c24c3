"""Pure decisions for a replacement in flight: start the candidate, switch, drain, finish."""

from __future__ import annotations

from dataclasses import dataclass

from dockyard.server.workloads.statuses import Status

# Even with keepOldVersionMinutes 0 the old proton lives this long after the switch, so
# requests already on their way to it finish and every server's routing table has moved on.
MIN_DRAIN_SECONDS = 5.0


@dataclass(frozen=True)
class RolloutView:
    status: str
    candidate_status: Status | None  # None: the candidate proton is gone
    candidate_running_since: float | None
    warmup_seconds: float
    keep_seconds: float
    switched_at: float | None
    workload_wants_running: bool


@dataclass(frozen=True)
class RolloutStep:
    status: str  # the replacement's status after this pass
    switch: bool = False
    finish: bool = False
    remove_candidate: bool = False
    remove_previous: bool = False
    candidate_status: Status | None = None  # WARMING while inside the warm-up window
    message: str | None = None


def decide_rollout(view: RolloutView, now: float) -> RolloutStep:
    if view.switched_at is not None:
        drained = now - view.switched_at >= max(view.keep_seconds, MIN_DRAIN_SECONDS)
        if drained:
            return RolloutStep("completed", finish=True, remove_previous=True)
        return RolloutStep("cleaning_up")
    if not view.workload_wants_running:
        return RolloutStep(
            "errored",
            finish=True,
            remove_candidate=True,
            message="the workload was stopped during the replacement",
        )
    if view.candidate_status is None or view.candidate_status == Status.ERRORED:
        return RolloutStep(
            "errored",
            finish=True,
            remove_candidate=True,
            message="the candidate failed to become ready; the active version keeps serving",
        )
    if view.candidate_status in (Status.RUNNING, Status.WARMING):
        since = view.candidate_running_since if view.candidate_running_since is not None else now
        if now - since < view.warmup_seconds:
            return RolloutStep("awaiting_promotion", candidate_status=Status.WARMING)
        return RolloutStep("switching", switch=True, candidate_status=Status.RUNNING)
    return RolloutStep("initializing")

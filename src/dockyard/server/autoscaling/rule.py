"""The autoscaler's arithmetic, as pure functions of what was measured and a clock.

Kubernetes' horizontal pod autoscaler rule, which users of the hosted platform know:

- each policy recommends `ceil(ready × value / target)` replicas, where `value` is its metric
  averaged over the ready replicas; a ratio `value / target` within 10 % of 1 recommends the
  current count (no flapping around the target);
- the group follows the policy recommending the most;
- up at once; down only to the highest recommendation of the stabilization window, so a lull
  shorter than the window removes nothing;
- always within `[max(min, 1), max]`, except that a group allowed to reach zero goes there
  after the idle window without requests, and a request waiting at zero makes it
  `max(1, min)` at once.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from dockyard.core.autoscaling import CPU_UTILIZATION, HTTP_CONCURRENCY, Autoscaling
from dockyard.core.workloads import GroupRuntime

TOLERANCE = 0.1


@dataclass(frozen=True)
class ScaleWindows:
    stabilization_seconds: float = 300.0
    idle_seconds: float = 300.0


@dataclass(frozen=True)
class GroupScale:
    """Where the autoscaler stands on one group; kept in the proton's `scale` column."""

    desired: int
    # Why the last wake from zero failed (the held requests were answered with it); cleared
    # when a replica of the group becomes ready.
    wake_error: str | None = None

    @classmethod
    def from_storage(cls, stored: dict[str, Any] | None, initial: int) -> GroupScale:
        if not stored:
            return cls(desired=initial)
        return cls(desired=int(stored.get("desired", initial)), wake_error=stored.get("wakeError"))

    def for_storage(self) -> dict[str, Any]:
        stored: dict[str, Any] = {"desired": self.desired}
        if self.wake_error:
            stored["wakeError"] = self.wake_error
        return stored


def initial_replicas(group: GroupRuntime) -> int:
    """What an autoscaled group starts with: its minimum, and one even when that is zero, so
    a start shows at once that the workload runs (it scales to zero once idle)."""
    return max(group.autoscaling.lowest, 1) if group.autoscaling is not None else 1


@dataclass(frozen=True)
class GroupLoad:
    """What was measured of one group in this pass."""

    ready: int  # ready replicas that take traffic (not draining)
    in_flight: float = 0.0  # invoke requests in flight on them, summed over every server
    cpu_cores: float | None = None  # cores they used together (None: not measured)
    cpu_limit: float | None = None  # each replica's CPU limit, in cores
    waiting: int = 0  # requests held for a replica while the group is at zero
    idle_seconds: float = 0.0  # since the last request (or since the group started)


@dataclass(frozen=True)
class Recommendation:
    replicas: int
    metric: str
    value: float  # the metric per ready replica (percent for CPU, requests for concurrency)


@dataclass(frozen=True)
class ScaleStep:
    """One evaluation: the count to ask for, and why it moved (when it did)."""

    desired: int
    metric: str | None = None
    value: float | None = None
    history: tuple[tuple[float, int], ...] = ()  # recommendations of the window, oldest first

    @property
    def event(self) -> dict[str, Any] | None:
        return None if self.metric is None else {"metric": self.metric, "value": self.value}


def recommend(scaling: Autoscaling, current: int, load: GroupLoad) -> Recommendation | None:
    """The most replicas any policy asks for; None when no policy can be read (no ready
    replica to average over, or no CPU measurement yet)."""
    if load.ready <= 0:
        return None
    best: Recommendation | None = None
    for policy in scaling.policies:
        value = _metric(policy.scaling_metric, load)
        if value is None:
            continue
        ratio = value / policy.target
        if abs(ratio - 1.0) <= TOLERANCE:
            wanted = current
        else:
            wanted = math.ceil(round(load.ready * ratio, 6))
        if best is None or wanted > best.replicas:
            best = Recommendation(wanted, policy.scaling_metric, round(value, 3))
    return best


def _metric(metric: str, load: GroupLoad) -> float | None:
    if metric == HTTP_CONCURRENCY:
        return load.in_flight / load.ready
    if metric == CPU_UTILIZATION:
        if load.cpu_cores is None or not load.cpu_limit:
            return None
        return 100.0 * load.cpu_cores / (load.ready * load.cpu_limit)
    return None


def step(
    scaling: Autoscaling,
    current: int,
    load: GroupLoad,
    now: float,
    windows: ScaleWindows,
    history: tuple[tuple[float, int], ...] = (),
    *,
    watched_since: float | None = None,
) -> ScaleStep:
    """Where the group goes from `current` replicas.

    `history`: this group's recommendations from earlier evaluations (what `ScaleStep.history`
    returned last time); `watched_since`: when they began, so a scale-down waits until a whole
    window has been watched (a server that just started knows nothing of the minutes before).
    """
    low, high = scaling.lowest, scaling.highest
    floor = max(low, 1)
    if current == 0:
        if load.waiting > 0:
            return ScaleStep(floor, HTTP_CONCURRENCY, float(load.waiting), ((now, floor),))
        return ScaleStep(0)
    found = recommend(scaling, current, load)
    wanted = current if found is None else min(max(found.replicas, floor), high)
    window = windows.stabilization_seconds
    kept = tuple((at, n) for at, n in history if now - at < window) + ((now, wanted),)
    idle = load.in_flight == 0 and load.waiting == 0 and load.idle_seconds >= windows.idle_seconds
    if low == 0 and idle:
        # The idle window is this step's own stabilization: nothing asked for a replica in it.
        return ScaleStep(0, HTTP_CONCURRENCY, 0.0, ())
    if current > high or current < floor:
        # The bounds changed under it (or a wake overshot): back inside them at once.
        target = min(max(current, floor), high)
        if found is None:
            return ScaleStep(target, history=kept)
        return ScaleStep(target, found.metric, found.value, kept)
    if wanted > current:
        assert found is not None
        return ScaleStep(wanted, found.metric, found.value, kept)
    if wanted == current:
        return ScaleStep(current, history=kept)
    began = watched_since if watched_since is not None else (history[0][0] if history else now)
    if now - began < window:
        return ScaleStep(current, history=kept)  # not watched a whole window yet
    stable = max(n for _, n in kept)
    if stable >= current:
        return ScaleStep(current, history=kept)
    assert found is not None  # a recommendation below the current count came from a policy
    return ScaleStep(stable, found.metric, found.value, kept)


def scale_up_above(scaling: Autoscaling, desired: int) -> float | None:
    """Requests in flight beyond which the concurrency policy surely asks for more than
    `desired` replicas (None: the group has no such policy, is at zero, or at its most).

    The invoke proxy compares its own count with it on every request, so a load step is acted
    on at once instead of at the next load report and evaluation. Past it, `recommend` asks for
    at least `ceil(in_flight / target)` replicas, above `desired`, whatever number of them is
    ready yet, and outside the tolerance."""
    if desired <= 0 or desired >= scaling.highest:
        return None
    targets = [p.target for p in scaling.policies if p.scaling_metric == HTTP_CONCURRENCY]
    if not targets:
        return None
    return min(targets) * desired * (1.0 + TOLERANCE)

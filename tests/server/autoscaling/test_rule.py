"""The autoscaler's arithmetic on a virtual clock: no database, no runtime, no sleeping."""

from __future__ import annotations

from dataclasses import dataclass, field

from dockyard.core.autoscaling import Autoscaling
from dockyard.server.autoscaling.rule import (
    GroupLoad,
    ScaleWindows,
    recommend,
    scale_up_above,
    step,
)

WINDOWS = ScaleWindows(stabilization_seconds=60.0, idle_seconds=120.0)


def concurrency(target: float = 2.0, low: int = 1, high: int = 10) -> Autoscaling:
    return Autoscaling.model_validate(
        {
            "minReplicaCount": low,
            "maxReplicaCount": high,
            "policies": [{"scalingMetric": "httpRequestsConcurrency", "target": target}],
        }
    )


@dataclass
class Scaler:
    """Evaluates the rule every `tick` seconds of virtual time, as the reconciler would."""

    scaling: Autoscaling
    current: int
    now: float = 1000.0
    history: tuple[tuple[float, int], ...] = ()
    watched_since: float | None = None
    moves: list[tuple[float, int, int]] = field(default_factory=list)

    def run(self, seconds: float, load: GroupLoad, tick: float = 1.0) -> int:
        end = self.now + seconds
        while self.now < end:
            if self.watched_since is None:
                self.watched_since = self.now
            ready = min(load.ready, self.current) if load.ready else self.current
            seen = GroupLoad(
                ready=ready,
                in_flight=load.in_flight,
                cpu_cores=load.cpu_cores,
                cpu_limit=load.cpu_limit,
                waiting=load.waiting,
                idle_seconds=load.idle_seconds,
            )
            moved = step(
                self.scaling, self.current, seen, self.now, WINDOWS, self.history,
                watched_since=self.watched_since,
            )  # fmt: skip
            self.history = moved.history
            if moved.desired != self.current:
                self.moves.append((self.now, self.current, moved.desired))
            self.current = moved.desired
            self.now += tick
        return self.current


def test_the_recommendation_is_the_hpa_formula() -> None:
    scaling = concurrency(target=2.0)
    # 3 ready replicas with 12 requests in flight: 4 each, twice the target → ceil(3 × 2) = 6.
    found = recommend(scaling, 3, GroupLoad(ready=3, in_flight=12.0))
    assert found is not None
    assert (found.replicas, found.metric, found.value) == (6, "httpRequestsConcurrency", 4.0)
    # 7 in flight on 3: 2.33 per replica → ceil(3 × 1.1667) = 4.
    assert recommend(scaling, 3, GroupLoad(ready=3, in_flight=7.0)).replicas == 4  # type: ignore[union-attr]


def test_within_the_tolerance_the_count_stays() -> None:
    scaling = concurrency(target=10.0)
    # 10.9 per replica is within 10 % of 10: no change, even though ceil(2 × 1.09) = 3.
    assert recommend(scaling, 2, GroupLoad(ready=2, in_flight=21.8)).replicas == 2  # type: ignore[union-attr]
    assert recommend(scaling, 2, GroupLoad(ready=2, in_flight=22.4)).replicas == 3  # type: ignore[union-attr]


def test_cpu_is_a_percentage_of_the_limit() -> None:
    scaling = Autoscaling.model_validate(
        {
            "maxReplicaCount": 5,
            "policies": [{"scalingMetric": "cpuAverageUtilization", "target": 50}],
        }
    )
    # Two replicas limited to 0.5 core using 0.9 core together: 90 % against a 50 % target.
    found = recommend(scaling, 2, GroupLoad(ready=2, cpu_cores=0.9, cpu_limit=0.5))
    assert found is not None and found.replicas == 4 and found.value == 90.0
    # Not measured yet: nothing to recommend, so nothing moves.
    assert recommend(scaling, 2, GroupLoad(ready=2, cpu_limit=0.5)) is None


def test_the_policy_asking_for_most_wins() -> None:
    scaling = Autoscaling.model_validate(
        {
            "maxReplicaCount": 10,
            "policies": [
                {"scalingMetric": "cpuAverageUtilization", "target": 50},
                {"scalingMetric": "httpRequestsConcurrency", "target": 1},
            ],
        }
    )
    found = recommend(scaling, 2, GroupLoad(ready=2, in_flight=6.0, cpu_cores=0.5, cpu_limit=1))
    assert found is not None and found.metric == "httpRequestsConcurrency" and found.replicas == 6


def test_up_at_once_and_clamped_to_the_maximum() -> None:
    scaler = Scaler(concurrency(target=1.0, high=4), current=1)
    assert scaler.run(1, GroupLoad(ready=1, in_flight=20.0)) == 4
    assert scaler.moves == [(1000.0, 1, 4)]


def test_down_only_after_the_stabilization_window() -> None:
    scaler = Scaler(concurrency(target=1.0), current=1)
    scaler.run(30, GroupLoad(ready=5, in_flight=5.0))
    assert scaler.current == 5
    calm = GroupLoad(ready=5, in_flight=1.0)
    scaler.run(WINDOWS.stabilization_seconds - 1, calm)
    assert scaler.current == 5  # a lull shorter than the window removes nothing
    scaler.run(2, calm)
    assert scaler.current == 1
    assert scaler.moves[-1][1:] == (5, 1)


def test_a_burst_inside_the_window_holds_the_count_up() -> None:
    scaler = Scaler(concurrency(target=1.0), current=4)
    scaler.run(90, GroupLoad(ready=4, in_flight=4.0))
    scaler.run(40, GroupLoad(ready=4, in_flight=1.0))
    scaler.run(1, GroupLoad(ready=4, in_flight=3.0))  # a burst asks for 3
    scaler.run(25, GroupLoad(ready=4, in_flight=1.0))
    # 65 s after the load fell, the burst 25 s ago is the highest of the window: 3, not 1.
    assert scaler.current == 3
    scaler.run(WINDOWS.stabilization_seconds, GroupLoad(ready=3, in_flight=1.0))
    assert scaler.current == 1


def test_a_fresh_watcher_waits_a_whole_window_before_scaling_down() -> None:
    # A server that just took over knows nothing of the minutes before: it holds the count.
    scaler = Scaler(concurrency(target=1.0), current=3)
    scaler.run(WINDOWS.stabilization_seconds - 1, GroupLoad(ready=3, in_flight=0.5))
    assert scaler.current == 3
    scaler.run(2, GroupLoad(ready=3, in_flight=0.5))
    assert scaler.current == 1


def test_the_minimum_holds_without_load() -> None:
    scaler = Scaler(concurrency(target=1.0, low=2), current=2)
    assert scaler.run(600, GroupLoad(ready=2, in_flight=0.0, idle_seconds=600.0)) == 2


def test_to_zero_after_the_idle_window_and_back_on_a_waiting_request() -> None:
    scaler = Scaler(concurrency(target=1.0, low=0), current=1)
    assert scaler.run(5, GroupLoad(ready=1, in_flight=0.0, idle_seconds=119.0)) == 1
    assert scaler.run(1, GroupLoad(ready=1, in_flight=0.0, idle_seconds=120.0)) == 0
    # At zero nothing moves without a request, however long.
    assert scaler.run(600, GroupLoad(ready=0, idle_seconds=900.0)) == 0
    # A request held at zero asks for max(1, min) at once.
    assert scaler.run(1, GroupLoad(ready=0, waiting=3)) == 1
    assert scaler.moves[-1][1:] == (0, 1)


def test_a_request_in_flight_is_not_idle() -> None:
    scaler = Scaler(concurrency(target=4.0, low=0), current=1)
    assert scaler.run(10, GroupLoad(ready=1, in_flight=1.0, idle_seconds=500.0)) == 1


def test_no_ready_replica_holds_the_count() -> None:
    # Replicas starting (none ready to average over): the count stays as asked.
    scaler = Scaler(concurrency(target=1.0), current=3)
    moved = step(scaler.scaling, 3, GroupLoad(ready=0), 0.0, WINDOWS, watched_since=-1000.0)
    assert moved.desired == 3 and moved.event is None


def test_past_the_scale_up_threshold_the_rule_always_adds_a_replica() -> None:
    scaling = concurrency(target=2.0, high=4)
    for desired in (1, 2, 3):
        above = scale_up_above(scaling, desired)
        assert above == 2.0 * desired * 1.1
        # However many of the desired replicas are ready yet, a count just past it asks for more.
        for ready in range(1, desired + 1):
            load = GroupLoad(ready=ready, in_flight=above + 0.01)
            found = step(scaling, desired, load, 1000.0, WINDOWS)
            assert found.desired > desired, (desired, ready)
        # Well below it (on target), nothing moves: the proxy has no reason to ask.
        on_target = GroupLoad(desired, 2.0 * desired)
        assert step(scaling, desired, on_target, 1000.0, WINDOWS).desired == desired


def test_no_scale_up_threshold_where_no_request_can_add_a_replica() -> None:
    assert scale_up_above(concurrency(high=3), 3) is None  # at the most already
    assert scale_up_above(concurrency(low=0), 0) is None  # at zero a held request wakes it
    on_cpu = Autoscaling.model_validate(
        {
            "minReplicaCount": 1,
            "maxReplicaCount": 3,
            "policies": [{"scalingMetric": "cpuAverageUtilization", "target": 50}],
        }
    )
    assert scale_up_above(on_cpu, 1) is None
    both = Autoscaling.model_validate(
        {
            "minReplicaCount": 1,
            "maxReplicaCount": 3,
            "policies": [
                {"scalingMetric": "cpuAverageUtilization", "target": 50},
                {"scalingMetric": "httpRequestsConcurrency", "target": 4},
            ],
        }
    )
    assert scale_up_above(both, 2) == 4 * 2 * 1.1

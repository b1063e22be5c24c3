"""The invoke proxy's load meter on a virtual clock: what its reports say of each replica."""

from __future__ import annotations

from dockyard.server.proxy.load import LoadMeter


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_a_report_carries_the_count_now_and_the_mean_since_the_last_one() -> None:
    clock = Clock()
    meter = LoadMeter("server-a", 0.5, clock=clock)
    meter.take()
    first = meter.begin("w", "default-0")
    clock.now += 0.25
    meter.begin("w", "default-0")
    meter.end(first)
    clock.now += 0.25
    [report] = meter.take()
    assert report.replicas == {"default-0": (1, 1.0)}  # one in flight all along
    clock.now += 0.5
    [report] = meter.take()
    assert report.replicas == {"default-0": (1, 1.0)}


def test_a_load_step_reported_at_once_is_not_averaged_with_the_quiet_before_it() -> None:
    clock = Clock()
    meter = LoadMeter("server-a", 0.5, clock=clock)
    meter.begin("w", "default-0")
    clock.now += 0.5
    assert meter.take()[0].replicas == {"default-0": (1, 1.0)}
    clock.now += 0.4  # quiet but for the one request, then three more arrive at once
    for _ in range(3):
        meter.begin("w", "default-0")
    [at_once] = meter.take(only="w")
    assert at_once.replicas == {"default-0": (4, 4)}  # the count now
    clock.now += 0.1
    [periodic] = meter.take()
    # Averaged from the report written at once, not over the whole interval (which would say
    # (1 × 0.4 + 4 × 0.1) / 0.5 = 1.6 and undo the step the autoscaler was just told of).
    assert periodic.replicas == {"default-0": (4, 4.0)}

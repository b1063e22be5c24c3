"""When the reconciler's loop schedules a workload's next pass."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from dockyard.server.reconciler.loop import Reconciler
from dockyard.server.reconciler.prober import Prober


class _Context:
    def __init__(self, grid: float) -> None:
        self.pass_grid = grid


def _loop(grid: float) -> Any:
    return Reconciler(_Context(grid))  # type: ignore[arg-type]


@pytest.mark.parametrize(("now", "delay"), [(100.03, 5.0), (7.91, 1.0), (0.0, 0.5), (3.3, 0.37)])
def test_a_pass_is_never_later_than_asked_and_lands_on_the_grid(now: float, delay: float) -> None:
    when = _loop(0.2)._on_grid(now, delay)
    assert now + delay - 0.2 < when <= now + delay
    assert abs(when / 0.2 - round(when / 0.2)) < 1e-6


def test_a_pass_wanted_at_once_is_not_moved() -> None:
    # The pass after a start probes the new replica right away: no rounding to the grid.
    assert _loop(0.2)._on_grid(10.01, 0.05) == pytest.approx(10.06)
    assert _loop(0.2)._on_grid(10.19, 0.05) == pytest.approx(10.24)


def test_without_a_grid_every_pass_is_timed_exactly() -> None:
    assert _loop(0.0)._on_grid(10.03, 4.0) == pytest.approx(14.03)


class _Busy:
    pass_grid = 0.0
    workers = 2
    snapshots: dict[str, Any] = {}
    prober = Prober()


class _AlwaysDue(Reconciler):
    """Every pass asks for the next one at once, as a workload with work left might."""

    def __init__(self) -> None:
        super().__init__(_Busy())  # type: ignore[arg-type]
        self._sweep_requested = False
        self.passes: list[str] = []

    def _pass(self, workload_id: str, fresh: bool) -> float:
        self.passes.append(workload_id)
        return 0.0


def test_a_round_ends_though_its_passes_keep_falling_due() -> None:
    loop = _AlwaysDue()
    for workload_id in ("a", "b", "c", "d", "e"):
        loop._schedule(workload_id, 0.0)
    finished = threading.Event()
    runner = threading.Thread(target=lambda: (loop.run_pending(), finished.set()), daemon=True)
    runner.start()
    # Only a round that never ends would take this long.
    assert finished.wait(20), "the round never ended"
    assert set(loop.passes) == {"a", "b", "c", "d", "e"}
    loop.stop(timeout=1)

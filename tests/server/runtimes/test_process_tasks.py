"""Tasks on the process runtime: the primary's exit, whole lines, and the log size cap."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from dockyard.server.runtimes.base import ContainerSpec, ObservedReplica, ReplicaPhase
from dockyard.server.runtimes.process import ProcessRuntime
from tests.server.runtimes.helpers import new_instance, proton, wait_for

CAP = 8192


@pytest.fixture
def runtime(tmp_path: Path) -> Iterator[ProcessRuntime]:
    runtime = ProcessRuntime(tmp_path / "rt", stop_timeout=1, log_max_bytes=CAP)
    instance = new_instance()
    runtime.test_instance = instance  # type: ignore[attr-defined]
    yield runtime
    runtime.garbage_collect(instance, set())


def run(runtime: ProcessRuntime, program: str) -> tuple[ObservedReplica, list[tuple[str, str]]]:
    task = ContainerSpec("main", "unused", (sys.executable, "-c", program), primary=True)
    spec = proton(runtime.test_instance, task)  # type: ignore[attr-defined]
    runtime.ensure_proton(spec)

    def ended() -> ObservedReplica | None:
        states = runtime.observe(spec.proton_id)
        return states[0] if states and states[0].phase == ReplicaPhase.FAILED else None

    state = wait_for(ended, 30, "the task to end")
    return state, [(line.stream, line.message) for line in runtime.logs(spec.proton_id)]


def test_the_primarys_exit_and_every_line_whole(runtime):
    program = (
        "import sys, time; sys.stdout.write('tick'); sys.stdout.flush(); time.sleep(0.3); "
        "print(' 4'); print('oops', file=sys.stderr); sys.stdout.write('result=1'); sys.exit(5)"
    )
    state, lines = run(runtime, program)
    assert state.primary_exited and state.exit_code == 5
    assert [m for s, m in lines if s == "stdout"] == ["tick 4", "result=1"]
    assert ("stderr", "oops") in lines


def test_the_log_keeps_at_most_its_cap_and_the_newest_lines(runtime):
    program = "for i in range(2000): print(f'line {i:05d} ' + 'x' * 40)"
    state, lines = run(runtime, program)
    assert state.exit_code == 0
    messages = [m for _, m in lines]
    assert messages[-1].startswith("line 01999")
    assert messages[0] != "line 00000 " + "x" * 40  # the oldest went
    numbers = [int(m.split()[1]) for m in messages]
    assert numbers == sorted(numbers)  # what is kept is whole and in order
    directory = next((runtime.root).glob("*/*/main.log"))
    assert directory.stat().st_size <= CAP

"""The fake runtime: scripted behaviour on a virtual clock, for reconciler tests."""

from __future__ import annotations

import pytest

from dockyard.server.runtimes.base import (
    ContainerSpec,
    ReplicaPhase,
    RuntimeAnswersProbes,
    RuntimeManagesHealth,
    RuntimePermanentError,
    RuntimeTemporaryError,
)
from dockyard.server.runtimes.fake import (
    FakeBehavior,
    FakeClock,
    FakeRuntime,
    SelfHealingFakeRuntime,
)
from tests.server.runtimes.helpers import new_instance, proton

IMAGE = "example/app:1"


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def runtime(clock: FakeClock) -> FakeRuntime:
    return FakeRuntime(clock)


def spec(replicas: int = 1, instance: str = "i1"):
    return proton(
        instance, ContainerSpec("primary", IMAGE, port=8080, primary=True), replicas=replicas
    )


def test_replicas_run_with_distinct_ports(runtime):
    first, second = runtime.ensure_proton(spec(replicas=2))

    assert first.phase == second.phase == ReplicaPhase.RUNNING
    assert first.port != second.port and first.probe_ports == {8080: first.port}


def test_exit_after_happens_on_the_virtual_clock(runtime, clock):
    runtime.script(IMAGE, FakeBehavior(exit_after=30, exit_code=2, output=("booting",)))
    s = spec()
    runtime.ensure_proton(s)

    clock.advance(29)
    assert runtime.observe(s.proton_id)[0].phase == ReplicaPhase.RUNNING
    clock.advance(1)
    (failed,) = runtime.observe(s.proton_id)
    assert failed.phase == ReplicaPhase.FAILED and failed.exit_code == 2
    assert failed.last_output == ["booting"]


def test_behaviours_are_consumed_in_order_and_the_last_repeats(runtime):
    runtime.script(IMAGE, FakeBehavior(fail_to_start=True), FakeBehavior())
    s = spec()

    assert runtime.ensure_proton(s)[0].phase == ReplicaPhase.FAILED
    restarted = runtime.restart_replica(s.proton_id, "default", 0)
    assert restarted.phase == ReplicaPhase.RUNNING and restarted.restart_count == 1
    assert runtime.restart_replica(s.proton_id, "default", 0).phase == ReplicaPhase.RUNNING


def test_probes_follow_readiness_and_liveness_scripts(runtime, clock):
    runtime.script(IMAGE, FakeBehavior(ready_after=5, live=False))
    s = spec()
    runtime.ensure_proton(s)

    assert not runtime.answer_probe(s.proton_id, "default", 0, "readiness")
    clock.advance(5)
    assert runtime.answer_probe(s.proton_id, "default", 0, "readiness")
    assert not runtime.answer_probe(s.proton_id, "default", 0, "liveness")
    assert not runtime.answer_probe(s.proton_id, "default", 9, "readiness")


def test_engine_errors_are_raised_as_scripted(runtime):
    runtime.script(IMAGE, FakeBehavior(error=RuntimeTemporaryError("busy", delay=3)))
    with pytest.raises(RuntimeTemporaryError) as busy:
        runtime.ensure_proton(spec())
    assert busy.value.delay == 3


def test_crash_stop_start_remove(runtime, clock):
    s = spec()
    runtime.ensure_proton(s)
    clock.advance(1)
    runtime.crash(s.proton_id, "default", 0, exit_code=137, line="killed")

    (crashed,) = runtime.observe(s.proton_id)
    assert crashed.phase == ReplicaPhase.FAILED and crashed.exit_code == 137
    assert [line.message for line in runtime.logs(s.proton_id)] == ["killed"]

    runtime.stop_proton(s.proton_id)
    assert runtime.observe(s.proton_id)[0].phase == ReplicaPhase.STOPPED
    assert runtime.ensure_proton(s)[0].phase == ReplicaPhase.RUNNING
    runtime.remove_proton(s.proton_id)
    runtime.remove_proton(s.proton_id)
    assert runtime.observe(s.proton_id) == []
    assert ("remove_proton", s.proton_id) in runtime.calls
    with pytest.raises(RuntimePermanentError):
        runtime.restart_replica(s.proton_id, "default", 0)


def test_adopt_and_garbage_collect_by_instance(runtime):
    mine, theirs = new_instance(), new_instance()
    keep, drop, other = spec(instance=mine), spec(instance=mine), spec(instance=theirs)
    for s in (keep, drop, other):
        runtime.ensure_proton(s)

    assert runtime.garbage_collect(mine, {keep.proton_id}) == [drop.proton_id]
    assert runtime.adopt(mine) == [keep.proton_id]
    assert runtime.adopt(theirs) == [other.proton_id]


def test_the_two_fakes_have_the_two_health_capabilities(clock):
    assert isinstance(FakeRuntime(clock), RuntimeAnswersProbes)
    assert not isinstance(FakeRuntime(clock), RuntimeManagesHealth)
    assert isinstance(SelfHealingFakeRuntime(clock), RuntimeManagesHealth)


def test_the_self_healing_fake_reports_readiness_and_restarts_with_back_off(clock):
    runtime = SelfHealingFakeRuntime(clock)
    runtime.script(IMAGE, FakeBehavior(ready_after=2), FakeBehavior(fail_to_start=True))
    s = spec()
    (state,) = runtime.ensure_proton(s)
    assert state.ready is False
    clock.advance(2)
    assert runtime.observe(s.proton_id)[0].ready is True

    runtime.crash(s.proton_id, "default", 0, exit_code=3)
    (restarted,) = runtime.observe(s.proton_id)  # restarted at once, and failing again
    assert restarted.restart_count == 1 and restarted.phase == ReplicaPhase.FAILED
    assert restarted.waiting_reason and restarted.ready is False
    clock.advance(9)
    assert runtime.observe(s.proton_id)[0].restart_count == 1  # backing off for 10 s
    clock.advance(1)
    assert runtime.observe(s.proton_id)[0].restart_count == 2
    assert runtime.restarts() == 2

    runtime.stop_proton(s.proton_id)
    clock.advance(600)
    assert runtime.observe(s.proton_id)[0].restart_count == 2  # a stopped replica stays so

"""Probe logic on a virtual clock: thresholds, delays and gating as the spec's fields say."""

from dockyard.core.spec import Container
from dockyard.server.reconciler.probes import (
    HealthEvent,
    ProbeKind,
    ProbeSpec,
    ReplicaHealth,
    probes_for_container,
)


def _spec(kind: ProbeKind, **kw) -> ProbeSpec:
    base = dict(
        port=8080, path="/health", initial_delay=5, period=2, timeout=1, failure_threshold=3
    )
    base.update(kw)
    return ProbeSpec(kind=kind, **base)


def test_nothing_runs_before_the_initial_delay() -> None:
    health = ReplicaHealth(started_at=100.0, specs=[_spec(ProbeKind.READINESS)])
    assert health.due(104.9) == []
    assert [s.kind for s in health.due(105.0)] == [ProbeKind.READINESS]


def test_readiness_then_period_between_runs() -> None:
    spec = _spec(ProbeKind.READINESS)
    health = ReplicaHealth(started_at=0.0, specs=[spec])
    assert health.record(spec, True, 5.0) == [HealthEvent.READY]
    assert health.ready
    assert health.due(6.9) == []
    assert health.due(7.0) == [spec]


def test_readiness_needs_failure_threshold_failures_to_go_unready() -> None:
    spec = _spec(ProbeKind.READINESS)
    health = ReplicaHealth(started_at=0.0, specs=[spec])
    health.record(spec, True, 5.0)
    assert health.record(spec, False, 7.0) == []
    assert health.record(spec, False, 9.0) == []
    assert health.record(spec, False, 11.0) == [HealthEvent.UNREADY]
    assert not health.ready
    assert health.record(spec, True, 13.0) == [HealthEvent.READY]


def test_startup_gates_liveness_and_readiness() -> None:
    startup = _spec(ProbeKind.STARTUP, initial_delay=0, period=1)
    ready = _spec(ProbeKind.READINESS, initial_delay=0)
    live = _spec(ProbeKind.LIVENESS, initial_delay=0)
    health = ReplicaHealth(started_at=0.0, specs=[startup, ready, live])
    assert health.due(0.0) == [startup]
    assert health.record(startup, False, 0.0) == []
    assert health.due(1.0) == [startup]
    assert health.record(startup, True, 1.0) == [HealthEvent.STARTED]
    assert set(s.kind for s in health.due(1.0)) == {ProbeKind.READINESS, ProbeKind.LIVENESS}


def test_startup_failing_past_threshold_asks_for_restart() -> None:
    startup = _spec(ProbeKind.STARTUP, initial_delay=0, period=1, failure_threshold=2)
    health = ReplicaHealth(started_at=0.0, specs=[startup])
    assert health.record(startup, False, 0.0) == []
    assert health.record(startup, False, 1.0) == [HealthEvent.RESTART]


def test_liveness_failures_ask_for_restart_at_threshold() -> None:
    live = _spec(ProbeKind.LIVENESS, initial_delay=0, failure_threshold=2)
    health = ReplicaHealth(started_at=0.0, specs=[live])
    assert health.ready  # no readiness probe given to this bookkeeping: ready once started
    assert health.record(live, False, 0.0) == []
    assert health.record(live, True, 2.0) == []
    assert health.record(live, False, 4.0) == []
    assert health.record(live, False, 6.0) == [HealthEvent.RESTART]


def test_every_container_must_be_ready() -> None:
    a = _spec(ProbeKind.READINESS, container="primary", initial_delay=0)
    b = _spec(ProbeKind.READINESS, container="sidecar-1", initial_delay=0, port=9000)
    health = ReplicaHealth(started_at=0.0, specs=[a, b])
    assert health.record(a, True, 0.0) == []
    assert health.record(b, True, 0.0) == [HealthEvent.READY]


def test_primary_without_readiness_probe_gets_tcp_check_on_mapped_port() -> None:
    container = Container(name="primary", primary=True, port=8080)
    specs = probes_for_container(container, lambda port: port + 1000)
    assert len(specs) == 1
    assert specs[0].kind == ProbeKind.READINESS and specs[0].path is None
    assert specs[0].port == 9080


def test_probe_defaults_follow_the_spec() -> None:
    container = Container.model_validate(
        {
            "name": "primary",
            "primary": True,
            "port": 8000,
            "livenessProbe": {"path": "/live"},
            "readinessProbe": {"path": "/ready"},
        }
    )
    specs = {s.kind: s for s in probes_for_container(container, lambda port: port)}
    live = specs[ProbeKind.LIVENESS]
    assert (live.port, live.initial_delay, live.period, live.timeout, live.failure_threshold) == (
        8000,
        30.0,
        30.0,
        30.0,
        3,
    )


def test_never_ready_past_the_timeout_asks_for_restart() -> None:
    ready = _spec(ProbeKind.READINESS, initial_delay=0, period=1)
    health = ReplicaHealth(started_at=0.0, specs=[ready], ready_timeout=10)
    assert health.record(ready, False, 5.0) == []
    assert health.record(ready, False, 10.0) == [HealthEvent.RESTART]


def test_a_replica_once_ready_is_never_restarted_by_readiness() -> None:
    ready = _spec(ProbeKind.READINESS, initial_delay=0, period=1)
    health = ReplicaHealth(started_at=0.0, specs=[ready], ready_timeout=10)
    health.record(ready, True, 1.0)
    for moment in (20.0, 21.0, 22.0, 23.0):
        assert HealthEvent.RESTART not in health.record(ready, False, moment)


def test_with_a_startup_probe_the_startup_threshold_decides() -> None:
    startup = _spec(ProbeKind.STARTUP, initial_delay=0, period=1, failure_threshold=100)
    ready = _spec(ProbeKind.READINESS, initial_delay=0, period=1)
    health = ReplicaHealth(started_at=0.0, specs=[startup, ready], ready_timeout=10)
    health.record(startup, True, 1.0)
    assert health.record(ready, False, 50.0) == []


def test_a_replica_never_ready_says_so_once_per_streak_of_failures() -> None:
    ready = _spec(ProbeKind.READINESS, initial_delay=0, period=1)
    health = ReplicaHealth(started_at=0.0, specs=[ready], ready_timeout=100)
    assert health.record(ready, False, 1.0) == []
    assert health.record(ready, False, 2.0) == []
    assert health.record(ready, False, 3.0) == [HealthEvent.FAILING]
    assert health.record(ready, False, 4.0) == []  # told once, not every period
    assert not health.ready
    assert health.record(ready, True, 5.0) == [HealthEvent.READY]


def test_a_pass_a_little_early_runs_the_probes_due_within_its_grid_step() -> None:
    spec = _spec(ProbeKind.READINESS)
    health = ReplicaHealth(started_at=0.0, specs=[spec])
    health.record(spec, True, 5.0)  # next due at 7.0
    assert health.due(6.7, early=0.2) == []
    assert health.due(6.85, early=0.2) == [spec]
    health.record(spec, True, 6.85)
    assert health.due(8.6, early=0.2) == []  # the period counts from the run that happened
    assert health.due(8.7, early=0.2) == [spec]

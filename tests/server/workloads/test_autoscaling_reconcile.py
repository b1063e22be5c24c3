"""The autoscaler inside the reconciler, on the fake runtime and a virtual clock: load reports
(as every server's invoke proxy writes them) move the count, scaled-away replicas drain, an
idle group goes to zero and a waiting request wakes it. Nothing sleeps."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from dockyard.server.autoscaling import repository as load_reports
from dockyard.server.autoscaling.repository import LoadReport
from dockyard.server.autoscaling.rule import ScaleWindows
from dockyard.server.reconciler.scaling import ScalingPolicy
from dockyard.server.runtimes.fake import FakeBehavior
from tests.server.workloads.conftest import EITHER_HEALTH, Fake, create_workload, events_of

API = "/api/v2"
POLICY = ScalingPolicy(
    windows=ScaleWindows(stabilization_seconds=30.0, idle_seconds=60.0),
    interval_seconds=1.0,
    drain_seconds=20.0,
    settle_seconds=2.0,
    load_fresh_seconds=3.0,
)


@pytest.fixture
def scaled(fake: Fake) -> Fake:
    fake.app.state.reconciler.ctx.scaling = POLICY
    return fake


def _runtime(low: int = 1, high: int = 3, **policy: Any) -> dict[str, Any]:
    policies = [{"scalingMetric": "httpRequestsConcurrency", "target": 2, **policy}]
    scaling = {"minReplicaCount": low, "maxReplicaCount": high, "policies": policies}
    return {"containerGroups": [{"name": "default", "autoscaling": scaling}]}


def _report(fake: Fake, workload_id: str, server: str = "server-a", **replicas: Any) -> None:
    """What one server's proxy says it has in flight: `default_0=(now, mean)`, `waiting=n`."""
    waiting = replicas.pop("waiting", 0)
    counts = {name.replace("_", "-"): value for name, value in replicas.items()}
    report = LoadReport(workload_id, counts, waiting, fake.clock() if counts or waiting else None)
    load_reports.report(fake.app.state.db, server, [report], fake.clock())


def _group(client: TestClient, workload_id: str) -> dict[str, Any]:
    body = client.get(f"{API}/workloads/{workload_id}").json()
    return {"status": body["status"], **body["runtime"]["containerGroups"][0]}


def _scaled_events(client: TestClient, workload_id: str) -> list[dict[str, Any]]:
    found = [e["details"] for e in events_of(client, workload_id) if e["eventType"] == "scaled"]
    return list(reversed(found))  # oldest first


def _replicas(fake: Fake, proton_id: str) -> list[str]:
    return [f"{s.group}-{s.index}" for s in fake.runtime.observe(proton_id)]


def _running(fake: Fake, proton_id: str) -> list[str]:
    return [f"{s.group}-{s.index}" for s in fake.runtime.observe(proton_id) if s.phase == "running"]


def _statuses(client: TestClient, workload_id: str) -> list[str]:
    changes = [e for e in events_of(client, workload_id) if e["eventType"] == "status_changed"]
    return [e["details"].get("to") for e in reversed(changes)]


@EITHER_HEALTH
def test_load_adds_replicas_and_the_workload_stays_running(
    client: TestClient, scaled: Fake
) -> None:
    body = create_workload(client, runtime=_runtime())
    scaled.advance(3)
    assert _group(client, body["id"])["status"] == "running"
    # Two servers each report 3 requests in flight on the one replica: 6 against a target of 2.
    _report(scaled, body["id"], "server-a", default_0=(3, 3.0))
    _report(scaled, body["id"], "server-b", default_0=(3, 3.0))
    scaled.passes()
    group = _group(client, body["id"])
    assert group["desiredReplicaCount"] == 3
    assert _scaled_events(client, body["id"]) == [
        {"group": "default", "from": 1, "to": 3, "metric": "httpRequestsConcurrency", "value": 6.0}
    ]
    assert group["status"] == "running"  # never back to launching while the new ones start
    scaled.advance(3)
    group = _group(client, body["id"])
    assert group["currentReplicaCount"] == 3 and group["status"] == "running"
    assert _replicas(scaled, body["protonId"]) == ["default-0", "default-1", "default-2"]
    assert _statuses(client, body["id"])[-1] == "running"
    assert _statuses(client, body["id"]).count("running") == 1  # it never left running


def test_a_replica_that_becomes_ready_serves_before_more_are_started(
    client: TestClient, scaled: Fake
) -> None:
    body = create_workload(client, runtime=_runtime())
    scaled.advance(3)
    _report(scaled, body["id"], default_0=(3, 3.0))
    scaled.passes()
    assert _replicas(scaled, body["protonId"]) == ["default-0", "default-1"]
    # The load grows while default-1 starts: the pass that finds it ready would also start a
    # third. It records default-1 ready first (so traffic reaches it now), and the third
    # starts in the pass right after, instead of default-1 waiting out that start.
    _report(scaled, body["id"], default_0=(6, 6.0))
    scaled.clock.advance(0.5)
    scaled.passes()
    group = _group(client, body["id"])
    assert group["currentReplicaCount"] == 2
    assert group["desiredReplicaCount"] == 3
    assert _replicas(scaled, body["protonId"]) == ["default-0", "default-1"]
    scaled.passes()
    assert _replicas(scaled, body["protonId"]) == ["default-0", "default-1", "default-2"]


def test_a_stopped_server_reports_count_for_nothing(client: TestClient, scaled: Fake) -> None:
    body = create_workload(client, runtime=_runtime())
    scaled.advance(3)
    _report(scaled, body["id"], "gone", default_0=(10, 10.0))
    scaled.clock.advance(POLICY.load_fresh_seconds + 1)  # it never wrote again
    scaled.passes()
    assert _group(client, body["id"])["desiredReplicaCount"] == 1


def test_scaling_down_waits_for_the_window_and_drains_first(
    client: TestClient, scaled: Fake
) -> None:
    body = create_workload(client, runtime=_runtime())
    scaled.advance(3)
    _report(scaled, body["id"], default_0=(6, 6.0))
    scaled.advance(3)
    assert _group(client, body["id"])["currentReplicaCount"] == 3
    # The load falls to what one replica handles; a request is still in flight on default-2.
    for _ in range(int(POLICY.windows.stabilization_seconds) - 5):
        _report(scaled, body["id"], default_0=(1, 1.0), default_2=(1, 0.2))
        scaled.advance(1)
    assert _group(client, body["id"])["desiredReplicaCount"] == 3  # inside the window
    for _ in range(10):
        _report(scaled, body["id"], default_0=(1, 1.0), default_2=(1, 0.2))
        scaled.advance(1)
    group = _group(client, body["id"])
    assert group["desiredReplicaCount"] == 1
    # Scaled away but still running while they drain: no new request reaches either
    # (`currentReplicaCount` no longer counts them). default-1 has nothing in flight, but a
    # group's replicas go from the top, so it waits for default-2, whose request runs on.
    assert _replicas(scaled, body["protonId"]) == ["default-0", "default-1", "default-2"]
    assert group["currentReplicaCount"] == 1
    # Its request ends: it goes after the settle time.
    _report(scaled, body["id"], default_0=(1, 1.0), default_2=(0, 0.0))
    scaled.advance(POLICY.settle_seconds + 1)
    assert _replicas(scaled, body["protonId"]) == ["default-0"]
    assert _group(client, body["id"])["status"] == "running"
    assert _scaled_events(client, body["id"])[-1]["to"] == 1


def test_a_drain_ends_at_the_drain_limit(client: TestClient, scaled: Fake) -> None:
    body = create_workload(client, runtime=_runtime(high=2))
    scaled.advance(3)
    _report(scaled, body["id"], default_0=(4, 4.0))
    scaled.advance(3)
    assert _replicas(scaled, body["protonId"]) == ["default-0", "default-1"]
    # A request that never ends on default-1 holds it only up to the drain limit.
    waited = 0
    while "default-1" in _replicas(scaled, body["protonId"]):
        _report(scaled, body["id"], default_0=(0, 0.0), default_1=(1, 1.0))
        scaled.advance(1)
        waited += 1
        assert waited < POLICY.windows.stabilization_seconds + POLICY.drain_seconds + 5
    assert waited >= POLICY.windows.stabilization_seconds + POLICY.drain_seconds - 2


@EITHER_HEALTH
def test_idle_goes_to_zero_and_a_waiting_request_wakes_it(client: TestClient, scaled: Fake) -> None:
    body = create_workload(client, runtime=_runtime(low=0))
    scaled.advance(3)
    assert _group(client, body["id"])["currentReplicaCount"] == 1  # a start runs one
    scaled.advance(POLICY.windows.idle_seconds + 2)
    group = _group(client, body["id"])
    assert group["desiredReplicaCount"] == 0 and group["currentReplicaCount"] == 0
    assert _running(scaled, body["protonId"]) == []
    assert group["status"] == "running"  # held at zero by the autoscaler
    # Its replica is stopped, not removed: a wake starts it again, quicker than creating it.
    assert [s.phase for s in scaled.runtime.observe(body["protonId"])] == ["stopped"]
    scaled.advance(30)
    assert _running(scaled, body["protonId"]) == []
    # A request waits on some server: one replica starts at once, then serves.
    _report(scaled, body["id"], waiting=1)
    scaled.passes()
    assert _group(client, body["id"])["desiredReplicaCount"] == 1
    assert _running(scaled, body["protonId"]) == ["default-0"]
    scaled.advance(2)
    group = _group(client, body["id"])
    assert group["currentReplicaCount"] == 1 and group["status"] == "running"
    assert [(e["from"], e["to"]) for e in _scaled_events(client, body["id"])] == [(1, 0), (0, 1)]
    assert _statuses(client, body["id"]).count("running") == 1  # it never left running


def test_idle_is_timed_by_the_reconcilers_clock(client: TestClient, scaled: Fake) -> None:
    # The idle time runs from the replica's start as the reconciler's clock saw it: here the
    # wall clock runs an hour ahead, as it does by the length of any pass on a busy machine.
    scaled.clock.now -= timedelta(hours=1)
    body = create_workload(client, runtime=_runtime(low=0))
    scaled.advance(3)
    assert _group(client, body["id"])["currentReplicaCount"] == 1
    scaled.advance(POLICY.windows.idle_seconds + 2)
    assert _group(client, body["id"])["desiredReplicaCount"] == 0


def test_at_zero_the_passes_leave_the_runtime_alone(client: TestClient, scaled: Fake) -> None:
    body = create_workload(client, runtime=_runtime(low=0))
    scaled.advance(3)
    scaled.advance(POLICY.windows.idle_seconds + 2)
    assert _group(client, body["id"])["desiredReplicaCount"] == 0
    # Parked and recorded stopped: the passes that watch for a request read the database
    # only, so an engine that cannot be reached now goes unnoticed (nothing of it runs).
    scaled.runtime.unreachable = "the engine is away"
    scaled.advance(10)
    types = [e["eventType"] for e in events_of(client, body["id"])]
    assert "runtime_error" not in types
    scaled.runtime.unreachable = None
    _report(scaled, body["id"], waiting=1)
    scaled.passes()
    assert _running(scaled, body["protonId"]) == ["default-0"]
    scaled.advance(2)
    assert _group(client, body["id"])["currentReplicaCount"] == 1


def test_a_stop_at_zero_stops_the_parked_replicas_too(client: TestClient, scaled: Fake) -> None:
    body = create_workload(client, runtime=_runtime(low=0))
    scaled.advance(3)
    scaled.advance(POLICY.windows.idle_seconds + 2)
    assert _group(client, body["id"])["desiredReplicaCount"] == 0
    stops = scaled.runtime.calls.count(("stop_proton", body["protonId"]))
    assert client.post(f"{API}/workloads/{body['id']}/stop").status_code == 202
    scaled.advance(3)
    assert _group(client, body["id"])["status"] == "stopped"
    # Parked replicas may keep part of themselves up (the docker runtime: their infra
    # containers); a stop takes that down as well.
    assert scaled.runtime.calls.count(("stop_proton", body["protonId"])) == stops + 1


def test_a_wake_that_crashes_says_why(client: TestClient, scaled: Fake) -> None:
    body = create_workload(client, runtime=_runtime(low=0))
    scaled.advance(3)
    scaled.advance(POLICY.windows.idle_seconds + 2)
    assert _running(scaled, body["protonId"]) == []
    image = "docker.io/library/python:3.12-slim"
    scaled.runtime.script(image, FakeBehavior(fail_to_start=True))
    _report(scaled, body["id"], waiting=1)
    scaled.passes(2)
    db = scaled.app.state.db
    from dockyard.server.workloads.models import Proton

    with db.unit_of_work(write=False) as session:
        proton = session.get(Proton, body["protonId"])
        assert proton is not None and proton.scale is not None
        assert proton.scale["default"].get("wakeError")


def test_a_deleted_workloads_reports_are_collected(client: TestClient, scaled: Fake) -> None:
    body = create_workload(client, runtime=_runtime())
    _report(scaled, body["id"], default_0=(1, 1.0))
    kept = create_workload(client, runtime=_runtime())
    _report(scaled, kept["id"], default_0=(1, 1.0))
    assert client.delete(f"{API}/workloads/{body['id']}").status_code == 204
    scaled.app.state.reconciler.collect_garbage()
    db = scaled.app.state.db
    gone = load_reports.load_of(db, body["id"], scaled.clock())
    assert gone.last_request_at is None and not gone.in_flight
    assert load_reports.load_of(db, kept["id"], scaled.clock()).in_flight == {"default-0": 1}

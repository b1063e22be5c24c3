"""The reconciler on the fake runtime and a virtual clock: replicas, restarts, probes, expiry,
adoption. Every timing here is virtual; nothing sleeps."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from dockyard.server.app import create_app
from dockyard.server.runtimes.fake import FakeBehavior
from tests.conftest import ADMIN_TOKEN
from tests.server.workloads.conftest import (
    EITHER_HEALTH,
    Fake,
    create_workload,
    events_of,
    fast_spec,
    spec_with,
    status_of,
)

API = "/api/v2"


def _proton(client: TestClient, workload_id: str) -> dict[str, Any]:
    body = client.get(f"{API}/workloads/{workload_id}").json()
    return client.get(f"{API}/workloads/{workload_id}/protons/{body['protonId']}").json()


@EITHER_HEALTH
def test_replica_count_runs_that_many_replicas(client: TestClient, fake: Fake) -> None:
    runtime = {"containerGroups": [{"name": "default", "replicaCount": 3}]}
    body = create_workload(client, runtime=runtime)
    fake.advance(3)
    assert status_of(client, body["id"]) == "running"
    states = fake.runtime.observe(body["protonId"])
    assert [(s.group, s.index) for s in states] == [("default", i) for i in range(3)]
    details = client.get(
        f"{API}/workloads/{body['id']}/protons/{body['protonId']}/statusDetails"
    ).json()
    assert details["overallStatus"]["summary"] == "3/3 replicas ready"
    fake.advance(5)
    assert fake.runtime.started() == 3  # steady state: nothing more is created


@EITHER_HEALTH
def test_a_crash_restarts_at_once_then_with_back_off(
    client: TestClient, fake: Fake, runtime_mode: str
) -> None:
    body = create_workload(client)
    fake.advance(3)
    proton = body["protonId"]
    fake.runtime.crash(proton, "default", 0, exit_code=3, line="segfault")
    fake.passes()
    assert fake.runtime.restarts() == 1  # the first restart is immediate
    events = events_of(client, body["id"])
    restarted = [e for e in events if e["eventType"] == "replica_restarted"]
    assert restarted and "exited with code 3" in restarted[0]["details"]["reason"]
    # A second crash before it was ready again waits for the back-off (10 s by default).
    fake.runtime.crash(proton, "default", 0)
    fake.advance(8)
    assert fake.runtime.restarts() == 1
    assert status_of(client, body["id"]) == "launching"
    fake.advance(4)
    assert fake.runtime.restarts() == 2
    fake.advance(3)
    assert status_of(client, body["id"]) == "running"
    # Whoever restarted it: the reconciler asks only a runtime that leaves health to it.
    asked = [call for call in fake.runtime.calls if call[0] == "restart_replica"]
    assert len(asked) == (2 if runtime_mode == "probed" else 0)


@EITHER_HEALTH
def test_past_the_restart_limit_the_workload_is_errored(client: TestClient, fake: Fake) -> None:
    fake.runtime.script(
        "crashy:1", FakeBehavior(fail_to_start=True, output=("cannot open config",))
    )
    body = create_workload(
        client, artifact={"name": "crashy", "spec": fast_spec(imageUri="crashy:1")}
    )
    fake.advance(30)
    assert status_of(client, body["id"]) != "errored"  # still inside its back-off budget
    fake.advance(600, step=10)
    assert status_of(client, body["id"]) == "errored"
    assert fake.runtime.restarts() == 5  # DOCKYARD_RESTART_LIMIT
    events = events_of(client, body["id"])
    failed = [e for e in events if e["eventType"] == "replica_failed"]
    assert failed and "restarted 5 times" in failed[0]["details"]["reason"]
    errored = [e for e in events if e["details"].get("to") == "errored"]
    assert errored and "container could not start" in errored[0]["details"]["reason"]
    proton = _proton(client, body["id"])
    assert "cannot open config" in proton["statusDetails"]["logTail"]
    assert proton["status"] == "errored"
    snapshot = client.get(
        f"{API}/workloads/{body['id']}/protons/{proton['id']}/statusDetails"
    ).json()
    assert "cannot open config" in snapshot["logTail"]
    # Errored is sticky: more time changes nothing.
    fake.advance(60, step=10)
    assert fake.runtime.restarts() == 5


def test_a_failing_liveness_probe_restarts_the_replica(client: TestClient, fake: Fake) -> None:
    fake.runtime.script("sick:1", FakeBehavior(live=False), FakeBehavior(live=True))
    liveness = {
        "path": "/live",
        "initialDelaySeconds": 0,
        "periodSeconds": 1,
        "failureThreshold": 3,
    }
    spec = fast_spec(imageUri="sick:1", livenessProbe=liveness)
    body = create_workload(client, artifact={"name": "sick", "spec": spec})
    fake.advance(2)
    assert fake.runtime.restarts() == 0
    fake.advance(2)
    assert fake.runtime.restarts() == 1  # three failures one second apart
    events = events_of(client, body["id"])
    assert "probe_failed" in [e["eventType"] for e in events]
    restarted = [e for e in events if e["eventType"] == "replica_restarted"]
    assert "liveness" in restarted[0]["details"]["reason"]  # says which probe gave up
    fake.advance(10)
    assert fake.runtime.restarts() == 1  # healthy after the restart
    assert status_of(client, body["id"]) == "running"


def test_startup_probe_gates_readiness_and_liveness(client: TestClient, fake: Fake) -> None:
    fake.runtime.script("slow:1", FakeBehavior(ready_after=6, live=False))
    spec = fast_spec(
        imageUri="slow:1",
        startupProbe={
            "path": "/s",
            "initialDelaySeconds": 0,
            "periodSeconds": 1,
            "failureThreshold": 30,
        },
        livenessProbe={
            "path": "/l",
            "initialDelaySeconds": 0,
            "periodSeconds": 1,
            "failureThreshold": 2,
        },
    )
    body = create_workload(client, artifact={"name": "slow", "spec": spec})
    fake.advance(5)
    # Liveness fails all along, but does not count before the startup probe passes.
    assert fake.runtime.restarts() == 0
    assert status_of(client, body["id"]) == "launching"
    fake.advance(4)
    assert fake.runtime.restarts() >= 1  # now liveness counts


def test_a_replica_without_readiness_probe_is_ready_when_its_port_answers(
    client: TestClient, fake: Fake
) -> None:
    spec = spec_with()
    del spec["containerGroups"][0]["containers"][0]["readinessProbe"]
    body = create_workload(client, artifact={"name": "tcp", "spec": spec})
    fake.advance(2)
    assert status_of(client, body["id"]) == "running"


def test_a_runtime_refusal_errors_the_workload_with_its_reason(
    client: TestClient, fake: Fake
) -> None:
    from dockyard.server.runtimes.base import RuntimePermanentError

    fake.runtime.script(
        "ghost:1",
        FakeBehavior(
            error=RuntimePermanentError("image ghost:1 not found", code="image_not_found")
        ),
    )
    body = create_workload(client, artifact={"name": "g", "spec": fast_spec(imageUri="ghost:1")})
    fake.passes(2)
    assert status_of(client, body["id"]) == "errored"
    assert _proton(client, body["id"])["statusDetails"]["logTail"] == ["image ghost:1 not found"]


# --- draft expiry ----------------------------------------------------------------------------


@pytest.fixture
def service_clock(fake: Fake, monkeypatch: pytest.MonkeyPatch) -> None:
    """The API stamps starts on the same virtual clock the reconciler uses."""
    monkeypatch.setattr("dockyard.server.workloads.service.utcnow", fake.clock)


def test_a_draft_workload_expires_after_the_ttl_from_its_last_start(
    client: TestClient, fake: Fake, service_clock: None
) -> None:
    ttl = fake.app.state.settings.draft_ttl_seconds
    assert ttl == 8 * 3600
    body = create_workload(client)
    fake.advance(3)
    # Stop and start five hours in: the clock restarts from there.
    fake.clock.advance(5 * 3600)
    client.post(f"{API}/workloads/{body['id']}/stop")
    fake.passes(2)
    client.post(f"{API}/workloads/{body['id']}/start")
    fake.advance(3)
    assert status_of(client, body["id"]) == "running"
    fake.advance(ttl - 60, step=ttl)
    assert status_of(client, body["id"]) == "running"
    proton_id = client.get(f"{API}/workloads/{body['id']}").json()["protonId"]
    fake.advance(120, step=60)
    assert status_of(client, body["id"]) == "terminated"
    assert fake.runtime.observe(proton_id) == []
    assert "expired" in [e["eventType"] for e in events_of(client, body["id"])]
    for action in ("start", "stop"):
        response = client.post(f"{API}/workloads/{body['id']}/{action}")
        assert response.status_code == 409
        assert response.json()["code"] == "workload_terminated"
    # A terminated workload no longer holds its artifact.
    assert client.delete(f"{API}/artifacts/{body['artifactId']}").status_code == 204


def test_the_ttl_setting_is_honoured(client: TestClient, fake: Fake, service_clock: None) -> None:
    app = fake.app
    app.state.settings = app.state.settings.model_copy(update={"draft_ttl_seconds": 60})
    body = create_workload(client)
    fake.advance(59, step=10)
    assert status_of(client, body["id"]) == "running"
    fake.advance(2)
    assert status_of(client, body["id"]) == "terminated"


def test_locking_the_artifact_clears_the_expiry(
    client: TestClient, fake: Fake, service_clock: None
) -> None:
    body = create_workload(client)
    assert body["expiresAt"] is not None
    response = client.patch(f"{API}/artifacts/{body['artifactId']}", json={"status": "locked"})
    assert response.status_code == 200
    assert client.get(f"{API}/workloads/{body['id']}").json()["expiresAt"] is None
    fake.advance(9 * 3600, step=3600)
    assert status_of(client, body["id"]) == "running"


# --- adoption --------------------------------------------------------------------------------


def test_a_new_server_adopts_the_running_replicas(
    client: TestClient, fake: Fake, settings: Any
) -> None:
    runtime = {"containerGroups": [{"name": "default", "replicaCount": 2}]}
    body = create_workload(client, runtime=runtime)
    fake.advance(3)
    assert status_of(client, body["id"]) == "running"
    before = fake.runtime.observe(body["protonId"])
    ensured = fake.runtime.started()

    # A second server process on the same database and the same engine (the first one died).
    second = create_app(settings, runtime=fake.runtime, run_reconciler=False)
    try:
        ctx = second.state.reconciler.ctx
        ctx.clock = fake.clock
        assert ctx.instance_id == fake.app.state.reconciler.ctx.instance_id
        adopted = Fake(app=second, runtime=fake.runtime, clock=fake.clock)
        with TestClient(second, headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}) as other:
            adopted.advance(5)
            second.state.reconciler.collect_garbage()
            assert status_of(other, body["id"]) == "running"
            after = fake.runtime.observe(body["protonId"])
            assert [(s.group, s.index, s.started_at) for s in after] == [
                (s.group, s.index, s.started_at) for s in before
            ]
            assert fake.runtime.started() == ensured
            assert fake.runtime.restarts() == 0
            assert fake.runtime.adopt(ctx.instance_id) == [body["protonId"]]
    finally:
        second.state.db.dispose()


def test_an_app_that_never_gets_ready_ends_errored_not_launching(
    client: TestClient, fake: Fake
) -> None:
    from dataclasses import replace

    ctx = client.app.state.reconciler.ctx
    ctx.policy = replace(ctx.policy, ready_timeout_seconds=5, backoff_seconds=1, limit=2)
    fake.runtime.script("img:never", FakeBehavior(ready=False))
    body = {"artifact": {"name": "never", "spec": fast_spec(imageUri="img:never")}}
    workload = client.post(f"{API}/workloads", json=body).json()
    fake.advance(60)
    assert status_of(client, workload["id"]) == "errored"
    reasons = [e["details"].get("reason", "") for e in events_of(client, workload["id"])]
    assert any("not ready 5 s after starting" in reason for reason in reasons)


def test_an_unreachable_engine_is_reported_once_and_the_pass_catches_up(
    client: TestClient, fake: Fake
) -> None:
    body = create_workload(client)
    fake.advance(3)
    assert status_of(client, body["id"]) == "running"
    fake.runtime.unreachable = "container engine unreachable: connection refused"
    fake.advance(5)
    # The API still answers, the workload keeps its last known status, and its events say why
    # nothing moves — once, not at every retry.
    assert status_of(client, body["id"]) == "running"
    trouble = [e for e in events_of(client, body["id"]) if e["eventType"] == "runtime_error"]
    assert len(trouble) == 1 and "connection refused" in trouble[0]["details"]["reason"]
    # Meanwhile the replica died; once the engine answers again the reconciler notices and heals.
    fake.runtime.crash(body["protonId"], "default", 0)
    fake.runtime.unreachable = None
    fake.passes()
    kinds = [e["eventType"] for e in events_of(client, body["id"])]
    assert "runtime_recovered" in kinds and "replica_restarted" in kinds
    fake.advance(3)
    assert status_of(client, body["id"]) == "running"


# --- specs stored before today's input rules ---------------------------------------------------


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"environmentVars": [{"name": "GREETING", "value": "a\x00b"}]}, "NUL byte"),
        ({"environmentVars": [{"name": "AB\n", "value": "x"}]}, "not a valid variable name"),
        ({"readinessProbe": {"path": "/ HTTP/1.1\r\nX: y", "port": 8080}}, "line break"),
    ],
)
def test_a_stored_spec_no_runtime_can_run_errors_the_workload_once(
    client: TestClient,
    fake: Fake,
    caplog: pytest.LogCaptureFixture,
    change: dict[str, Any],
    reason: str,
) -> None:
    # Written before the API refused such input: the pass must not traceback forever.
    from sqlalchemy import update

    from dockyard.server.workloads.models import Proton

    body = create_workload(client)
    spec = fast_spec()
    spec["containerGroups"][0]["containers"][0].update(change)
    with client.app.state.db.unit_of_work() as session:
        session.execute(update(Proton).where(Proton.workload_id == body["id"]).values(spec=spec))
    with caplog.at_level("ERROR"):
        fake.passes(3)
    assert status_of(client, body["id"]) == "errored"
    assert reason in _proton(client, body["id"])["statusDetails"]["logTail"][0]
    assert not [r for r in caplog.records if r.levelname == "ERROR"], caplog.text

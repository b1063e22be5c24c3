"""Tasks through the API, on the fake runtime and a virtual clock: statuses, exit codes, the
run cap, re-runs, the running-task cap, and what a task refuses."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from dockyard.server.app import create_app
from dockyard.server.runtimes.fake import FakeBehavior
from dockyard.server.settings import Settings
from tests.conftest import ADMIN_TOKEN
from tests.server.workloads.conftest import EITHER_HEALTH, Fake, events_of, status_of

API = "/api/v2"
IMAGE = "tasks:1"


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"task_max_seconds": 30.0, "max_running_tasks": 2})


def task_spec(image: str = IMAGE, **primary: Any) -> dict[str, Any]:
    container = {"name": "main", "primary": True, "imageUri": image, **primary}
    return {"containerGroups": [{"name": "default", "containers": [container]}]}


def create(client: TestClient, spec: dict[str, Any], **body: Any) -> dict[str, Any]:
    response = client.post(
        f"{API}/workloads", json={"artifact": {"name": "t", "spec": spec}, **body}
    )
    assert response.status_code == 201, response.text
    return response.json()


def get(client: TestClient, workload_id: str) -> dict[str, Any]:
    response = client.get(f"{API}/workloads/{workload_id}")
    assert response.status_code == 200, response.text
    return response.json()


@EITHER_HEALTH
def test_a_task_that_exits_zero_succeeds_with_its_output(client: TestClient, fake: Fake) -> None:
    fake.runtime.script(
        IMAGE, FakeBehavior(exit_after=3, exit_code=0, output=("ERROR is just text", "42"))
    )
    body = create(client, task_spec())
    assert body["endpoint"] is None and body["exitCode"] is None
    fake.advance(2)
    assert status_of(client, body["id"]) == "running"
    fake.advance(2)
    done = get(client, body["id"])
    assert done["status"] == "succeeded"
    assert done["exitCode"] == 0
    assert done["statusDetails"]["reason"] is None
    assert done["statusDetails"]["logTail"][-1] == "42"
    assert fake.runtime.restarts() == 0
    kinds = [e["eventType"] for e in events_of(client, body["id"])]
    assert "succeeded" in kinds
    # Levels from the stream: stdout is INFO whatever the line says.
    logs = client.get(f"{API}/otel/workload/{body['id']}/logs/").json()
    assert [(e["message"], e["level"]) for e in reversed(logs["data"])] == [
        ("ERROR is just text", "INFO"),
        ("42", "INFO"),
    ]
    fake.advance(10)
    assert status_of(client, body["id"]) == "succeeded"  # sticky; never started again


@EITHER_HEALTH
def test_a_nonzero_exit_fails_once_and_says_why(client: TestClient, fake: Fake) -> None:
    fake.runtime.script(IMAGE, FakeBehavior(exit_after=1, exit_code=3))
    body = create(client, task_spec())
    fake.advance(4)
    done = get(client, body["id"])
    assert done["status"] == "failed"
    assert done["exitCode"] == 3
    assert done["statusDetails"]["reason"] == "exit_nonzero"
    assert "3" in done["statusDetails"]["message"]
    assert fake.runtime.restarts() == 0
    failed = [e for e in events_of(client, body["id"]) if e["eventType"] == "failed"]
    assert failed and failed[0]["details"]["exitCode"] == 3
    assert client.get(f"{API}/workloads", params={"status": "failed"}).json()["count"] == 1


def test_past_the_run_cap_a_task_is_killed_and_failed(client: TestClient, fake: Fake) -> None:
    body = create(client, task_spec())
    fake.advance(29)
    assert status_of(client, body["id"]) == "running"
    fake.advance(2)
    done = get(client, body["id"])
    assert done["status"] == "failed"
    assert done["exitCode"] is None
    assert done["statusDetails"]["reason"] == "deadline_exceeded"
    assert ("stop_proton", body["protonId"]) in fake.runtime.calls


def test_start_runs_a_finished_task_again_and_stop_leaves_it_as_it_ended(
    client: TestClient, fake: Fake
) -> None:
    fake.runtime.script(IMAGE, FakeBehavior(exit_after=1, exit_code=0))
    body = create(client, task_spec())
    fake.advance(3)
    assert status_of(client, body["id"]) == "succeeded"
    stop = client.post(f"{API}/workloads/{body['id']}/stop")
    assert stop.status_code == 202 and "already finished" in stop.json()["status"]
    assert get(client, body["id"])["status"] == "succeeded"
    assert client.post(f"{API}/workloads/{body['id']}/start").status_code == 202
    again = get(client, body["id"])
    assert again["status"] == "submitted" and again["exitCode"] is None
    assert again["protonId"] != body["protonId"]
    fake.advance(3)
    assert status_of(client, body["id"]) == "succeeded"


def test_stop_kills_a_running_task(client: TestClient, fake: Fake) -> None:
    body = create(client, task_spec())
    fake.advance(2)
    assert client.post(f"{API}/workloads/{body['id']}/stop").status_code == 202
    fake.advance(2)
    done = get(client, body["id"])
    assert done["status"] == "stopped" and done["exitCode"] is None
    assert client.delete(f"{API}/workloads/{body['id']}").status_code == 204


def test_more_tasks_than_the_cap_wait_in_submitted(client: TestClient, fake: Fake) -> None:
    fake.runtime.script(IMAGE, FakeBehavior(exit_after=10, exit_code=0))
    ids = [create(client, task_spec())["id"] for _ in range(3)]
    fake.advance(2)
    statuses = sorted(status_of(client, workload_id) for workload_id in ids)
    assert statuses == ["running", "running", "submitted"]
    fake.advance(12)
    statuses = sorted(status_of(client, workload_id) for workload_id in ids)
    assert statuses == ["running", "succeeded", "succeeded"]
    fake.advance(12)
    assert {status_of(client, workload_id) for workload_id in ids} == {"succeeded"}


def test_a_service_without_probes_that_exits_before_ready_ends_as_a_task(
    client: TestClient, fake: Fake
) -> None:
    # The hosted platform's current sandbox client: a service on port 8080, no probes, a
    # program that runs and exits.
    fake.runtime.script(IMAGE, FakeBehavior(exit_after=2, exit_code=124, ready=False))
    body = create(client, task_spec(port=8080), runtime={"replicaCount": 1})
    assert body["endpoint"] is not None
    fake.advance(4)
    done = get(client, body["id"])
    assert done["status"] == "failed" and done["exitCode"] == 124
    assert fake.runtime.restarts() == 0


@EITHER_HEALTH
def test_a_service_that_served_is_restarted_after_it_exits(client: TestClient, fake: Fake) -> None:
    fake.runtime.script(IMAGE, FakeBehavior(exit_after=5, exit_code=1))
    body = create(client, task_spec(port=8080))
    fake.advance(3)
    assert status_of(client, body["id"]) == "running"
    fake.advance(3)
    assert fake.runtime.restarts() >= 1
    assert status_of(client, body["id"]) not in ("failed", "succeeded")


def test_what_a_task_refuses(client: TestClient, fake: Fake) -> None:
    probed = task_spec(readinessProbe={"path": "/", "port": 8080})
    response = client.post(f"{API}/artifacts", json={"name": "p", "spec": probed})
    assert response.status_code == 422 and response.json()["code"] == "probe_on_task"

    two = task_spec()
    two["containerGroups"].append(
        {"name": "web", "containers": [{"primary": True, "imageUri": IMAGE, "port": 8080}]}
    )
    response = client.post(f"{API}/artifacts", json={"name": "g", "spec": two})
    assert response.status_code == 422 and response.json()["code"] == "task_groups"

    body = {"artifact": {"name": "r", "spec": task_spec()}, "runtime": {"replicaCount": 2}}
    response = client.post(f"{API}/workloads", json=body)
    assert response.status_code == 422 and response.json()["code"] == "not_for_tasks"

    task = create(client, task_spec())
    fake.advance(2)
    invoked = client.get(f"{API}/endpoints/workloads/{task['id']}/")
    assert invoked.status_code == 409 and invoked.json()["code"] == "workload_not_invokable"
    artifact_id = task["artifactId"]
    locked = client.patch(f"{API}/artifacts/{artifact_id}", json={"status": "locked"})
    assert locked.status_code == 200, locked.text
    deployment = client.post(f"{API}/console/deployments", json={"workloadId": task["id"]})
    assert deployment.status_code == 409
    assert deployment.json()["code"] == "workload_not_invokable"
    other = client.post(f"{API}/artifacts", json={"name": "o", "spec": task_spec("other:1")})
    replace = client.post(
        f"{API}/workloads/{task['id']}/replacement",
        json={"artifactId": other.json()["id"]},
    )
    assert replace.status_code == 422 and replace.json()["code"] == "not_for_tasks"


def test_a_tasks_settings_apply_to_its_next_run(client: TestClient, fake: Fake) -> None:
    fake.runtime.script(IMAGE, FakeBehavior(exit_after=1, exit_code=0))
    body = create(client, task_spec())
    fake.advance(3)
    runtime = {"containerGroups": [{"name": "default", "containers": [
        {"name": "main", "resourceAllocation": {"cpu": 0.5, "memory": "64MB"}}
    ]}]}  # fmt: skip
    response = client.patch(f"{API}/workloads/{body['id']}/settings", json={"runtime": runtime})
    assert response.status_code in (200, 202), response.text
    assert response.json()["status"] == "completed"
    assert status_of(client, body["id"]) == "succeeded"  # nothing ran because of it
    client.post(f"{API}/workloads/{body['id']}/start")
    fake.advance(1)
    spec = fake.runtime.spec_of(get(client, body["id"])["protonId"])
    assert spec is not None and spec.groups[0].primary.cpu == 0.5


def test_the_process_runtime_refuses_a_task_it_cannot_harden(settings: Settings) -> None:
    app = create_app(settings.model_copy(update={"runtime": "process"}), run_reconciler=False)
    try:
        with TestClient(app, headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}) as admin:
            hardened = task_spec(
                entrypoint=["true"], securityContext={"readOnlyRootFilesystem": True}
            )
            body = {"artifact": {"name": "h", "spec": hardened}}
            response = admin.post(f"{API}/workloads", json=body)
            assert response.status_code == 422, response.text
            assert response.json()["code"] == "security_context_not_enforceable"
            plain = {"artifact": {"name": "p", "spec": task_spec(entrypoint=["true"])}}
            assert admin.post(f"{API}/workloads", json=plain).status_code == 201
            bare = {"artifact": {"name": "b", "spec": task_spec()}}
            response = admin.post(f"{API}/workloads", json=bare)
            assert response.json()["code"] == "entrypoint_required"
    finally:
        app.state.db.dispose()

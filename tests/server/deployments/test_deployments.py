"""Deployments: the governed endpoint, its status, switching, and the hash-chained audit log."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import text

from dockyard.server.kit.clock import utcnow
from dockyard.server.reconciler import repository
from dockyard.server.runtimes.fake import FakeBehavior, FakeClock
from tests.factories import create_user, service_spec

API = "/api/v2/console/deployments"


def _running_workload(
    client: TestClient, *, lock: bool = True, name: str = "svc"
) -> dict[str, Any]:
    body = {"name": name, "spec": service_spec(), "status": "locked" if lock else "draft"}
    artifact = client.post("/api/v2/artifacts", json=body).json()
    workload = client.post("/api/v2/workloads", json={"artifactId": artifact["id"]}).json()
    _reconcile(client)
    return client.get(f"/api/v2/workloads/{workload['id']}").json()


def _reconcile(client: TestClient, rounds: int = 4) -> None:
    """Reconcile passes on virtual time: the readiness probes' delays pass at once."""
    reconciler = client.app.state.reconciler
    clock = FakeClock(utcnow())
    reconciler.ctx.clock = clock
    client.app.state.runtime.clock = clock
    for _ in range(rounds):
        clock.advance(60)
        for workload_id in repository.workload_versions(reconciler.ctx.db):
            reconciler.nudge(workload_id)
        reconciler.run_pending()


def test_create_needs_a_locked_artifact(client: TestClient) -> None:
    draft = _running_workload(client, lock=False)
    response = client.post(API, json={"workloadId": draft["id"]})
    assert response.status_code == 409
    assert response.json()["code"] == "artifact_not_locked"


def test_create_get_list_and_status_from_the_workload(client: TestClient) -> None:
    workload = _running_workload(client)
    assert workload["status"] == "running"
    created = client.post(API, json={"workloadId": workload["id"]})
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["name"] == workload["name"]  # defaults to the workload's name
    assert body["deploymentId"] == body["id"]
    assert body["status"] == "active"
    assert body["endpoint"].endswith(f"/api/v2/endpoints/deployments/{body['id']}/")
    assert "CAN_SHARE" in body["permissions"]
    assert client.get(f"{API}/{body['id']}/").json()["id"] == body["id"]
    listed = client.get(API, params={"status": "active"}).json()
    assert [d["id"] for d in listed["data"]] == [body["id"]]
    assert client.get(API, params={"status": "inactive"}).json()["totalCount"] == 0
    assert client.get(API, params={"status": "bogus"}).status_code == 422


def test_unknown_and_malformed_ids_are_404(client: TestClient) -> None:
    for deployment_id in ("0" * 24, "nope"):
        response = client.get(f"{API}/{deployment_id}")
        assert response.status_code == 404
        assert response.json()["code"] == "deployment_not_found"
    response = client.post(API, json={"workloadId": "0" * 24})
    assert response.status_code == 404 and response.json()["code"] == "workload_not_found"


def test_switch_waits_for_the_new_workload_to_run(client: TestClient) -> None:
    first = _running_workload(client, name="v1")
    deployment = client.post(API, json={"workloadId": first["id"]}).json()
    artifact = client.post(
        "/api/v2/artifacts", json={"name": "v2", "spec": service_spec(), "status": "locked"}
    ).json()
    second = client.post("/api/v2/workloads", json={"artifactId": artifact["id"]}).json()
    patched = client.patch(f"{API}/{deployment['id']}", json={"workloadId": second["id"]}).json()
    assert patched["workloadId"] == first["id"]  # still served by the old one
    assert patched["pendingWorkloadId"] == second["id"]
    _reconcile(client)
    switched = client.get(f"{API}/{deployment['id']}").json()
    assert switched["workloadId"] == second["id"] and switched["pendingWorkloadId"] is None
    actions = [e["action"] for e in client.get(f"{API}/{deployment['id']}/auditLog").json()["data"]]
    assert actions == ["create", "switch_requested", "switch_done"]


def test_a_pending_workload_that_errors_is_dropped_and_the_old_one_keeps_serving(
    client: TestClient,
) -> None:
    first = _running_workload(client, name="v1")
    deployment = client.post(API, json={"workloadId": first["id"]}).json()
    client.app.state.runtime.script("broken:1", FakeBehavior(fail_to_start=True))
    artifact = client.post(
        "/api/v2/artifacts",
        json={"name": "v2", "spec": service_spec(image="broken:1"), "status": "locked"},
    ).json()
    broken = client.post("/api/v2/workloads", json={"artifactId": artifact["id"]}).json()
    client.patch(f"{API}/{deployment['id']}", json={"workloadId": broken["id"]})
    _reconcile(client, rounds=12)

    assert client.get(f"/api/v2/workloads/{broken['id']}").json()["status"] == "errored"
    after = client.get(f"{API}/{deployment['id']}").json()
    assert after["workloadId"] == first["id"] and after["pendingWorkloadId"] is None
    assert after["status"] == "active"
    log = client.get(f"{API}/{deployment['id']}/auditLog").json()
    assert [e["action"] for e in log["data"]] == ["create", "switch_requested", "switch_failed"]
    assert log["verified"] is True


def test_stop_start_and_shared_workload(client: TestClient) -> None:
    workload = _running_workload(client)
    one = client.post(API, json={"workloadId": workload["id"], "name": "one"}).json()
    stopped = client.post(f"{API}/{one['id']}/stop")
    assert stopped.status_code == 202
    _reconcile(client)
    assert client.get(f"{API}/{one['id']}").json()["status"] == "inactive"
    assert client.post(f"{API}/{one['id']}/start").status_code == 202
    _reconcile(client)
    assert client.get(f"{API}/{one['id']}").json()["status"] == "active"
    two = client.post(API, json={"workloadId": workload["id"], "name": "two"}).json()
    refused = client.post(f"{API}/{one['id']}/stop")
    assert refused.status_code == 409
    assert refused.json()["code"] == "workload_shared"
    assert refused.json()["blockers"][0]["id"] == two["id"]


def test_workload_behind_a_deployment_cannot_be_deleted(client: TestClient) -> None:
    workload = _running_workload(client)
    deployment = client.post(API, json={"workloadId": workload["id"]}).json()
    response = client.delete(f"/api/v2/workloads/{workload['id']}")
    assert response.status_code == 409 and response.json()["code"] == "workload_in_use"
    assert client.delete(f"{API}/{deployment['id']}").status_code == 204
    assert client.get(f"{API}/{deployment['id']}").status_code == 404
    assert client.delete(f"/api/v2/workloads/{workload['id']}").status_code == 204


def test_audit_log_chain_verifies_and_detects_tampering(client: TestClient) -> None:
    workload = _running_workload(client)
    deployment = client.post(API, json={"workloadId": workload["id"]}).json()
    client.patch(f"{API}/{deployment['id']}", json={"description": "prod"})
    log = client.get(f"{API}/{deployment['id']}/auditLog").json()
    assert log["verified"] is True
    entries = log["data"]
    assert [e["sequence"] for e in entries] == [1, 2]
    assert entries[0]["prevHash"] == "0" * 64
    assert entries[1]["prevHash"] == entries[0]["hash"]
    assert (
        entries[1]["before"]["description"] == "" and entries[1]["after"]["description"] == "prod"
    )
    with client.app.state.db.engine.begin() as connection:
        connection.execute(
            text("UPDATE deployment_audit SET action = 'nothing' WHERE sequence = 1")
        )
    assert client.get(f"{API}/{deployment['id']}/auditLog").json()["verified"] is False


def test_audit_log_outlives_the_deployment_for_admins_only(client: TestClient) -> None:
    workload = _running_workload(client)
    other = create_user(client)
    deployment = client.post(API, json={"workloadId": workload["id"]}).json()
    share = {
        "operation": "updateRoles",
        "roles": [{"shareRecipientType": "user", "id": other["user"]["id"], "role": "USER"}],
    }
    assert client.patch(f"{API}/{deployment['id']}/sharedRoles", json=share).status_code == 204
    assert other["client"].get(f"{API}/{deployment['id']}/auditLog").status_code == 200
    client.delete(f"{API}/{deployment['id']}")
    log = client.get(f"{API}/{deployment['id']}/auditLog").json()
    assert [e["action"] for e in log["data"]] == ["create", "share", "delete"]
    assert log["verified"] is True
    assert other["client"].get(f"{API}/{deployment['id']}/auditLog").status_code == 404


def test_audit_entries_name_their_actor(client: TestClient) -> None:
    workload = _running_workload(client)
    other = create_user(client)
    deployment = client.post(API, json={"workloadId": workload["id"]}).json()
    share = {
        "operation": "updateRoles",
        "roles": [{"shareRecipientType": "user", "id": other["user"]["id"], "role": "OWNER"}],
    }
    assert client.patch(f"{API}/{deployment['id']}/sharedRoles", json=share).status_code == 204
    other["client"].patch(f"{API}/{deployment['id']}", json={"description": "theirs"})
    entries = client.get(f"{API}/{deployment['id']}/auditLog").json()["data"]
    me = client.get("/api/v2/users/me").json()
    assert [(e["actorId"], e["actorName"]) for e in entries] == [
        (me["id"], me["username"]),
        (me["id"], me["username"]),
        (other["user"]["id"], other["user"]["username"]),
    ]
    # The name is for display only: the chain still verifies.
    assert client.get(f"{API}/{deployment['id']}/auditLog").json()["verified"] is True


def test_non_owner_sees_404_then_403(client: TestClient) -> None:
    workload = _running_workload(client)
    deployment = client.post(API, json={"workloadId": workload["id"]}).json()
    other = create_user(client)
    assert other["client"].get(f"{API}/{deployment['id']}").status_code == 404
    share = {
        "operation": "updateRoles",
        "roles": [
            {
                "shareRecipientType": "user",
                "username": other["user"]["username"],
                "role": "read_only",
            }
        ],
    }
    client.patch(f"{API}/{deployment['id']}/sharedRoles", json=share)
    assert other["client"].get(f"{API}/{deployment['id']}").status_code == 200
    response = other["client"].delete(f"{API}/{deployment['id']}")
    assert response.status_code == 403

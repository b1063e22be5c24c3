"""Who may put a deployment in front of a workload, and who owns it once it is there."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import update

from dockyard.server.workloads.models import Workload
from tests.factories import create_user, service_spec
from tests.server.deployments.test_deployments import _reconcile

API = "/api/v2/console/deployments"


def _share(client: TestClient, path: str, user_id: str, role: str) -> None:
    body = {
        "operation": "updateRoles",
        "roles": [{"shareRecipientType": "user", "id": user_id, "role": role}],
    }
    response = client.patch(f"{path}/sharedRoles", json=body)
    assert response.status_code == 204, response.text


def _locked_workload(owner: TestClient, name: str = "svc") -> dict[str, Any]:
    body = {"name": name, "spec": service_spec(), "status": "locked"}
    artifact = owner.post("/api/v2/artifacts", json=body).json()
    workload = owner.post("/api/v2/workloads", json={"artifactId": artifact["id"]})
    assert workload.status_code == 201, workload.text
    return workload.json()


def test_a_viewer_of_a_workload_cannot_put_a_deployment_in_front_of_it(
    client: TestClient,
) -> None:
    owner = create_user(client, "owner")
    viewer = create_user(client, "viewer")
    workload = _locked_workload(owner["client"])
    path = f"/api/v2/workloads/{workload['id']}"
    for role in ("READ_ONLY", "CONSUMER"):
        _share(owner["client"], path, viewer["user"]["id"], role)
        response = viewer["client"].post(API, json={"workloadId": workload["id"]})
        assert (response.status_code, response.json()["code"]) == (403, "forbidden"), role
    _share(owner["client"], path, viewer["user"]["id"], "EDITOR")
    assert viewer["client"].post(API, json={"workloadId": workload["id"]}).status_code == 201


def test_re_pointing_a_deployment_needs_update_on_the_new_workload(client: TestClient) -> None:
    owner = create_user(client, "owner")
    other = create_user(client, "other")
    mine = _locked_workload(other["client"], "mine")
    theirs = _locked_workload(owner["client"], "theirs")
    deployment = other["client"].post(API, json={"workloadId": mine["id"]}).json()
    url = f"{API}/{deployment['id']}"
    hidden = other["client"].patch(url, json={"workloadId": theirs["id"]})
    assert (hidden.status_code, hidden.json()["code"]) == (404, "workload_not_found")
    _share(owner["client"], f"/api/v2/workloads/{theirs['id']}", other["user"]["id"], "READ_ONLY")
    seen = other["client"].patch(url, json={"workloadId": theirs["id"]})
    assert (seen.status_code, seen.json()["code"]) == (403, "forbidden")
    assert other["client"].get(url).json()["pendingWorkloadId"] is None


def test_the_workloads_owners_own_the_deployments_in_front_of_it(client: TestClient) -> None:
    owner = create_user(client, "owner")
    editor = create_user(client, "editor")
    stranger = create_user(client, "stranger")
    workload = _locked_workload(owner["client"])
    _share(owner["client"], f"/api/v2/workloads/{workload['id']}", editor["user"]["id"], "EDITOR")
    deployment = editor["client"].post(API, json={"workloadId": workload["id"]}).json()
    url = f"{API}/{deployment['id']}"

    seen = owner["client"].get(url)
    assert seen.status_code == 200
    assert "CAN_DELETE" in seen.json()["permissions"]
    listed = owner["client"].get(API).json()
    assert [d["id"] for d in listed["data"]] == [deployment["id"]]
    assert stranger["client"].get(url).status_code == 404
    assert stranger["client"].get(API).json()["totalCount"] == 0
    # Editing the workload gives no rights over the deployment beyond its own grants.
    _share(owner["client"], f"/api/v2/workloads/{workload['id']}", stranger["user"]["id"], "EDITOR")
    assert stranger["client"].get(url).status_code == 404

    blocked = owner["client"].delete(f"/api/v2/workloads/{workload['id']}")
    assert (blocked.status_code, blocked.json()["code"]) == (409, "workload_in_use")
    assert [b["id"] for b in blocked.json()["blockers"]] == [deployment["id"]]
    assert owner["client"].delete(url).status_code == 204
    assert owner["client"].delete(f"/api/v2/workloads/{workload['id']}").status_code == 204


@pytest.mark.parametrize("status", ["errored", "terminated"])
def test_no_deployment_on_an_errored_or_terminated_workload(
    client: TestClient, status: str
) -> None:
    workload = _locked_workload(client)
    ready = _locked_workload(client, "ready")
    with client.app.state.db.unit_of_work() as session:
        session.execute(update(Workload).where(Workload.id == workload["id"]).values(status=status))
    response = client.post(API, json={"workloadId": workload["id"]})
    assert (response.status_code, response.json()["code"]) == (409, "workload_not_ready")
    assert status in response.json()["message"]
    deployment = client.post(API, json={"workloadId": ready["id"]}).json()
    switch = client.patch(f"{API}/{deployment['id']}", json={"workloadId": workload["id"]})
    assert (switch.status_code, switch.json()["code"]) == (409, "workload_not_ready")


def test_blockers_of_a_shared_workload_hide_deployments_the_caller_cannot_see(
    client: TestClient,
) -> None:
    owner = create_user(client, "owner")
    editor = create_user(client, "editor")
    workload = _locked_workload(owner["client"])
    _reconcile(client)
    _share(owner["client"], f"/api/v2/workloads/{workload['id']}", editor["user"]["id"], "EDITOR")
    theirs = owner["client"].post(API, json={"workloadId": workload["id"], "name": "t"}).json()
    own = editor["client"].post(API, json={"workloadId": workload["id"], "name": "o"}).json()
    refused = editor["client"].post(f"{API}/{own['id']}/stop")
    assert (refused.status_code, refused.json()["code"]) == (409, "workload_shared")
    assert refused.json()["blockers"] == []
    assert theirs["id"] not in refused.text and "not visible to you" in refused.json()["message"]

"""An artifact that a live workload runs cannot be deleted, nor can its repository."""

from __future__ import annotations

from fastapi.testclient import TestClient

from dockyard.server.workloads.models import Workload
from tests.factories import create_artifact


def test_a_running_draft_is_in_use(client: TestClient) -> None:
    artifact = create_artifact(client)
    response = client.post("/api/v2/workloads", json={"artifactId": artifact["id"], "name": "w"})
    assert response.status_code == 201, response.text
    workload = response.json()

    deleted = client.delete(f"/api/v2/artifacts/{artifact['id']}")
    assert deleted.status_code == 409
    assert deleted.json()["code"] == "artifact_in_use"
    assert deleted.json()["blockers"] == [{"type": "workload", "id": workload["id"], "name": "w"}]

    repository = client.delete(f"/api/v2/artifactRepositories/{artifact['artifactRepositoryId']}")
    assert repository.status_code == 409
    assert repository.json()["code"] == "repository_not_empty"
    assert {
        "type": "artifact",
        "id": artifact["id"],
        "name": artifact["name"],
    } in repository.json()["blockers"]

    # A terminated workload keeps its history but no longer holds the artifact.
    with client.app.state.db.unit_of_work() as session:
        session.get(Workload, workload["id"]).status = "terminated"
    assert client.delete(f"/api/v2/artifacts/{artifact['id']}").status_code == 204

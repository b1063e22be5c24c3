"""Locking: versions, immutability, concurrent locks; deleting drafts."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from fastapi.testclient import TestClient

from tests.factories import create_artifact, service_spec

API = "/api/v2/artifacts"


def lock(client: TestClient, artifact_id: str, status: str = "locked") -> dict:
    response = client.patch(f"{API}/{artifact_id}", json={"status": status})
    assert response.status_code == 200, response.text
    return response.json()


def test_locking_assigns_the_next_version_of_the_repository(client: TestClient) -> None:
    first = create_artifact(client, "v")
    repository_id = first["artifactRepositoryId"]
    drafts = [first] + [
        create_artifact(client, "v", artifactRepositoryId=repository_id) for _ in range(2)
    ]
    assert [lock(client, d["id"])["version"] for d in (drafts[2], drafts[0], drafts[1])] == [
        1,
        2,
        3,
    ]
    repository = client.get(f"/api/v2/artifactRepositories/{repository_id}").json()
    assert repository["lastVersionNumber"] == 3
    # Versions are never reused: a draft locked after deletions still gets the next number.
    other = create_artifact(client, "v", artifactRepositoryId=repository_id)
    assert lock(client, other["id"])["version"] == 4


def test_create_locked_assigns_a_version(client: TestClient) -> None:
    artifact = create_artifact(client, status="locked")
    assert artifact["status"] == "locked" and artifact["version"] == 1
    registered = create_artifact(
        client, status="registered", artifactRepositoryId=artifact["artifactRepositoryId"]
    )
    assert registered["status"] == "locked" and registered["version"] == 2


def test_a_lock_and_edits_in_one_patch(client: TestClient) -> None:
    artifact = create_artifact(client)
    body = client.patch(
        f"{API}/{artifact['id']}", json={"name": "final", "status": "locked"}
    ).json()
    assert body["name"] == "final" and body["status"] == "locked" and body["version"] == 1


def test_draft_to_draft_is_a_no_op(client: TestClient) -> None:
    artifact = create_artifact(client)
    assert lock(client, artifact["id"], "draft")["status"] == "draft"


def test_locked_artifacts_are_immutable(client: TestClient) -> None:
    artifact = lock(client, create_artifact(client)["id"])
    url = f"{API}/{artifact['id']}"
    for body in (
        {"name": "x"},
        {"description": "x"},
        {"spec": service_spec()},
        {"status": "draft"},
        {"status": "locked"},
        {"status": "registered"},
        {"name": artifact["name"], "tags": []},
    ):
        response = client.patch(url, json=body)
        assert response.status_code == 409, body
        assert response.json()["code"] == "artifact_locked"
        assert response.json()["detail"] == response.json()["message"]
    response = client.put(url, json={"name": "x", "spec": service_spec()})
    assert response.status_code == 409
    assert response.json()["code"] == "artifact_locked"
    response = client.delete(url)
    assert response.status_code == 409
    assert response.json()["code"] == "artifact_locked"
    # Tags stay editable.
    tagged = client.patch(url, json={"tags": [{"name": "stage", "value": "prod"}]})
    assert tagged.status_code == 200
    assert tagged.json()["tags"][0]["value"] == "prod"
    after = client.get(url).json()
    assert after["version"] == 1 and after["name"] == artifact["name"]


def test_concurrent_locks_get_unique_gap_free_versions(client: TestClient) -> None:
    first = create_artifact(client, "race")
    repository_id = first["artifactRepositoryId"]
    drafts = [first["id"]] + [
        create_artifact(client, "race", artifactRepositoryId=repository_id)["id"] for _ in range(9)
    ]

    def patch(artifact_id: str) -> dict:
        response = client.patch(f"{API}/{artifact_id}", json={"status": "locked"})
        assert response.status_code == 200, response.text
        return response.json()

    with ThreadPoolExecutor(max_workers=10) as pool:
        results = list(pool.map(patch, drafts))
    assert sorted(r["version"] for r in results) == list(range(1, 11))
    repository = client.get(f"/api/v2/artifactRepositories/{repository_id}").json()
    assert repository["lastVersionNumber"] == 10


def test_concurrent_locks_of_one_artifact_lock_it_once(client: TestClient) -> None:
    artifact = create_artifact(client)

    def patch(_: int) -> int:
        return client.patch(f"{API}/{artifact['id']}", json={"status": "locked"}).status_code

    with ThreadPoolExecutor(max_workers=4) as pool:
        codes = sorted(pool.map(patch, range(4)))
    assert codes == [200, 409, 409, 409]
    repository = client.get(f"/api/v2/artifactRepositories/{artifact['artifactRepositoryId']}")
    assert repository.json()["lastVersionNumber"] == 1


def test_delete_a_draft(client: TestClient) -> None:
    artifact = create_artifact(client, tags=[{"name": "k", "value": "v"}])
    response = client.delete(f"{API}/{artifact['id']}/")
    assert response.status_code == 204
    assert response.content == b""
    assert client.get(f"{API}/{artifact['id']}").status_code == 404
    assert client.delete(f"{API}/{artifact['id']}").json()["code"] == "artifact_not_found"
    assert client.get(API, params={"tagKeys": "k"}).json()["totalCount"] == 0
    # The repository stays (with its version counter).
    repository_id = artifact["artifactRepositoryId"]
    assert client.get(f"/api/v2/artifactRepositories/{repository_id}").json()["numArtifacts"] == 0

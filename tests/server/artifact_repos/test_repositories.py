"""GET/PATCH/DELETE /artifactRepositories, their lists and their sharing."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.factories import create_artifact, create_user

API = "/api/v2/artifactRepositories"


def test_a_repository_is_formatted_with_counts(client: TestClient) -> None:
    artifact = create_artifact(client, "svc")
    repository_id = artifact["artifactRepositoryId"]
    create_artifact(client, "svc", artifactRepositoryId=repository_id, status="locked")
    body = client.get(f"{API}/{repository_id}/").json()
    assert set(body) == {
        "id", "name", "description", "type", "lastVersionNumber", "numArtifacts", "tags",
        "permissions", "creator", "createdAt", "updatedAt",
    }  # fmt: skip
    assert body["name"] == "svc"
    assert body["type"] == "service"
    assert body["lastVersionNumber"] == 1
    assert body["numArtifacts"] == 2
    assert body["creator"]["username"] == "admin"
    assert "CAN_SHARE" in body["permissions"]
    for bad in ("0" * 24, "zzz"):
        response = client.get(f"{API}/{bad}")
        assert response.status_code == 404
        assert response.json()["code"] == "repository_not_found"


def test_patch_changes_name_description_and_tags(client: TestClient) -> None:
    repository_id = create_artifact(client, "svc")["artifactRepositoryId"]
    url = f"{API}/{repository_id}"
    body = client.patch(url, json={"description": "all versions"}).json()
    assert body["name"] == "svc" and body["description"] == "all versions"
    body = client.patch(url, json={"name": "service", "tags": [{"name": "t", "value": "1"}]}).json()
    assert body["name"] == "service" and body["description"] == "all versions"
    assert [(t["name"], t["value"]) for t in body["tags"]] == [("t", "1")]
    # A read-only field in a PATCH is ignored like any unknown field, and named in Warning.
    response = client.patch(url, json={"lastVersionNumber": 9})
    assert response.status_code == 200
    assert "lastVersionNumber" in response.headers["warning"]
    assert response.json()["lastVersionNumber"] != 9
    assert client.patch(url, json={"name": ""}).status_code == 422
    assert client.patch(f"{API}/{'0' * 24}", json={"name": "x"}).status_code == 404


def test_list_filters_order_and_search(client: TestClient) -> None:
    a = create_artifact(client, "alpha-api", tags=[])["artifactRepositoryId"]
    b = create_artifact(client, "beta-worker")["artifactRepositoryId"]
    create_artifact(client, "gamma")
    client.patch(f"{API}/{a}", json={"tags": [{"name": "tier", "value": "web"}]})
    client.patch(f"{API}/{b}", json={"description": "Queue consumer"})

    def names(**params: object) -> list[str]:
        response = client.get(API, params=params)
        assert response.status_code == 200, response.text
        return [r["name"] for r in response.json()["data"]]

    assert names() == ["gamma", "beta-worker", "alpha-api"]
    assert names(orderBy="name") == ["alpha-api", "beta-worker", "gamma"]
    assert names(sort="-name") == ["gamma", "beta-worker", "alpha-api"]
    assert names(orderBy="-updatedAt")[0] == "beta-worker"
    assert client.get(API, params={"orderBy": "status"}).status_code == 422
    assert names(search="QUEUE") == ["beta-worker"]
    assert names(search="pha-a") == ["alpha-api"]
    assert names(search="mm") == ["gamma"]
    assert names(tagKeys="tier") == ["alpha-api"]
    assert names(tagValues="web,none") == ["alpha-api"]
    assert names(ids=f"{a},{b}", orderBy="name") == ["alpha-api", "beta-worker"]
    assert names(type="service", limit=1) == ["gamma"]
    assert names(type="nim") == []
    page = client.get(API, params={"limit": 2}).json()
    assert page["totalCount"] == 3 and page["count"] == 2 and page["next"]
    assert [r["name"] for r in client.get(page["next"]).json()["data"]] == ["alpha-api"]
    admin_id = client.get("/api/v2/users/me").json()["id"]
    assert len(names(createdBy=admin_id)) == 3


def test_delete_removes_the_repository_and_its_drafts(client: TestClient) -> None:
    first = create_artifact(client, "svc", tags=[{"name": "k", "value": "v"}])
    repository_id = first["artifactRepositoryId"]
    second = create_artifact(client, "svc", artifactRepositoryId=repository_id)
    assert client.delete(f"{API}/{repository_id}/").status_code == 204
    assert client.get(f"{API}/{repository_id}").status_code == 404
    for artifact in (first, second):
        assert client.get(f"/api/v2/artifacts/{artifact['id']}").status_code == 404
    assert client.get("/api/v2/artifacts", params={"tagKeys": "k"}).json()["totalCount"] == 0
    assert client.delete(f"{API}/{repository_id}").json()["code"] == "repository_not_found"


def test_delete_is_refused_while_a_locked_artifact_is_inside(client: TestClient) -> None:
    draft = create_artifact(client, "svc")
    repository_id = draft["artifactRepositoryId"]
    locked = create_artifact(client, "svc", artifactRepositoryId=repository_id, status="locked")
    response = client.delete(f"{API}/{repository_id}")
    assert response.status_code == 409
    body = response.json()
    assert body["code"] == "repository_not_empty"
    assert body["detail"] == body["message"]
    assert body["blockers"] == [{"type": "artifact", "id": locked["id"], "name": "svc"}]
    # Nothing was removed.
    assert client.get(f"/api/v2/artifacts/{draft['id']}").status_code == 200


def test_repository_access(client: TestClient) -> None:
    owner = create_user(client, "owner")
    other = create_user(client, "other")
    repository_id = create_artifact(owner["client"], "svc")["artifactRepositoryId"]
    url = f"{API}/{repository_id}"
    assert other["client"].get(url).status_code == 404
    assert other["client"].get(API).json()["totalCount"] == 0
    assert other["client"].delete(url).status_code == 404
    assert other["client"].get(f"{url}/sharedRoles").status_code == 404
    response = owner["client"].patch(
        f"{url}/sharedRoles",
        json={
            "operation": "updateRoles",
            "roles": [{"shareRecipientType": "user", "username": "other", "role": "CONSUMER"}],
        },
    )
    assert response.status_code == 204
    seen = other["client"].get(url).json()
    assert seen["permissions"] == ["CAN_VIEW", "CAN_MAKE_PREDICTIONS"]
    assert other["client"].get(API).json()["totalCount"] == 1
    assert other["client"].patch(url, json={"name": "x"}).status_code == 403
    assert other["client"].delete(url).status_code == 403
    roles = owner["client"].get(f"{url}/sharedRoles").json()
    assert {(r["name"], r["role"]) for r in roles["data"]} == {
        ("owner", "OWNER"),
        ("other", "CONSUMER"),
    }
    # The last owner cannot be removed.
    response = owner["client"].patch(
        f"{url}/sharedRoles",
        json={
            "operation": "updateRoles",
            "roles": [{"shareRecipientType": "user", "username": "owner", "role": "NO_ROLE"}],
        },
    )
    assert response.status_code == 409
    assert response.json()["code"] == "last_owner"
    # Old path.
    old = other["client"].get(f"/api/v2/registry/artifactRepositories/{repository_id}/")
    assert old.status_code == 200

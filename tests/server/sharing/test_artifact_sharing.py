"""Sharing on real objects: artifacts and the repositories that hold them."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.factories import create_artifact, create_user

OWNER_PERMISSIONS = [
    "CAN_VIEW",
    "CAN_UPDATE",
    "CAN_DELETE",
    "CAN_SHARE",
    "CAN_MAKE_PREDICTIONS",
    "CAN_SHARE_ROLE_OWNER",
    "CAN_SHARE_ROLE_READ_WRITE",
    "CAN_SHARE_ROLE_READ_ONLY",
]


def _share(client: TestClient, path: str, user_id: str, role: str) -> int:
    body = {
        "operation": "updateRoles",
        "roles": [{"shareRecipientType": "user", "id": user_id, "role": role}],
    }
    return client.patch(f"{path}/sharedRoles", json=body).status_code


def test_sharing_an_artifact_gives_the_role_its_rights(client: TestClient) -> None:
    alice = create_user(client, "alice")
    bob = create_user(client, "bob")
    artifact = create_artifact(alice["client"], "shared-thing")
    path = f"/api/v2/artifacts/{artifact['id']}"
    assert artifact["permissions"] == OWNER_PERMISSIONS

    assert bob["client"].get(path).status_code == 404
    assert _share(alice["client"], path, bob["user"]["id"], "consumer") == 204
    seen = bob["client"].get(path)
    assert seen.status_code == 200
    assert seen.json()["permissions"] == ["CAN_VIEW", "CAN_MAKE_PREDICTIONS"]
    assert bob["client"].patch(path, json={"description": "x"}).status_code == 403

    assert _share(alice["client"], path, bob["user"]["id"], "EDITOR") == 204
    assert bob["client"].get(path).json()["permissions"] == [
        "CAN_VIEW",
        "CAN_UPDATE",
        "CAN_MAKE_PREDICTIONS",
    ]
    assert bob["client"].patch(path, json={"description": "x"}).status_code == 200
    assert bob["client"].delete(path).status_code == 403

    roles = alice["client"].get(f"{path}/sharedRoles").json()["data"]
    assert {(r["name"], r["role"]) for r in roles} == {("alice", "OWNER"), ("bob", "EDITOR")}
    assert client.get(path).json()["permissions"] == OWNER_PERMISSIONS  # admin

    assert _share(alice["client"], path, bob["user"]["id"], "NO_ROLE") == 204
    assert bob["client"].get(path).status_code == 404
    assert _share(alice["client"], path, alice["user"]["id"], "NO_ROLE") == 409


def test_sharing_a_repository_shares_its_artifacts(client: TestClient) -> None:
    alice = create_user(client, "alice")
    bob = create_user(client, "bob")
    artifact = create_artifact(alice["client"], "in-repo")
    repo_path = f"/api/v2/artifactRepositories/{artifact['artifactRepositoryId']}"
    assert bob["client"].get(f"/api/v2/artifacts/{artifact['id']}").status_code == 404
    assert _share(alice["client"], repo_path, bob["user"]["id"], "READ_ONLY") == 204
    seen = bob["client"].get(f"/api/v2/artifacts/{artifact['id']}")
    assert seen.status_code == 200
    assert seen.json()["permissions"] == ["CAN_VIEW"]
    listed = bob["client"].get("/api/v2/artifacts").json()
    assert [a["id"] for a in listed["data"]] == [artifact["id"]]

"""Who sees and changes which artifact: owners, shares, repository shares, admins."""

from __future__ import annotations

from fastapi.testclient import TestClient

from dockyard.server.artifacts.models import ArtifactRepository
from tests.factories import create_artifact, create_user, service_spec

API = "/api/v2/artifacts"
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


def share(client: TestClient, path: str, user_id: str, role: str) -> None:
    response = client.patch(
        f"{path}/sharedRoles",
        json={
            "operation": "updateRoles",
            "roles": [{"shareRecipientType": "user", "id": user_id, "role": role}],
        },
    )
    assert response.status_code == 204, response.text


def test_users_see_only_what_they_own_or_was_shared(client: TestClient) -> None:
    alice = create_user(client, "alice")
    bob = create_user(client, "bob")
    mine = create_artifact(alice["client"], "alice-art")
    theirs = create_artifact(bob["client"], "bob-art")
    assert mine["creator"]["username"] == "alice"
    assert mine["permissions"] == OWNER_PERMISSIONS
    listed = alice["client"].get(API).json()
    assert [a["id"] for a in listed["data"]] == [mine["id"]]
    assert listed["totalCount"] == 1
    hidden = alice["client"].get(f"{API}/{theirs['id']}")
    assert hidden.status_code == 404
    assert hidden.json()["code"] == "artifact_not_found"
    for method, suffix, body in (
        ("PATCH", "", {"name": "x"}),
        ("PUT", "", {"name": "x", "spec": service_spec()}),
        ("DELETE", "", None),
        ("POST", "/clone", {"name": "x"}),
        ("GET", "/builds", None),
        ("GET", "/sharedRoles", None),
    ):
        response = alice["client"].request(method, f"{API}/{theirs['id']}{suffix}", json=body)
        assert response.status_code == 404, (method, suffix)
    repo = alice["client"].get(f"/api/v2/artifactRepositories/{theirs['artifactRepositoryId']}")
    assert repo.status_code == 404
    assert repo.json()["code"] == "repository_not_found"
    # Admins see everything.
    assert client.get(API).json()["totalCount"] == 2


def test_roles_decide_what_a_user_may_do(client: TestClient) -> None:
    owner = create_user(client, "owner")
    viewer = create_user(client, "viewer")
    editor = create_user(client, "editor")
    artifact = create_artifact(owner["client"], "shared")
    url = f"{API}/{artifact['id']}"
    share(owner["client"], url, viewer["user"]["id"], "read_only")
    share(owner["client"], url, editor["user"]["id"], "USER")

    seen = viewer["client"].get(url).json()
    assert seen["permissions"] == ["CAN_VIEW"]
    for method, body in (("PATCH", {"name": "x"}), ("DELETE", None)):
        response = viewer["client"].request(method, url, json=body)
        assert response.status_code == 403, method
        assert response.json()["code"] == "forbidden"
    # A clone lands in the owner's repository, where it could be locked into a version.
    cloned = viewer["client"].post(f"{url}/clone", json={"name": "mine"})
    assert (cloned.status_code, cloned.json()["code"]) == (403, "forbidden")

    assert editor["client"].get(url).json()["permissions"] == [
        "CAN_VIEW",
        "CAN_UPDATE",
        "CAN_MAKE_PREDICTIONS",
    ]
    assert editor["client"].patch(url, json={"name": "edited"}).status_code == 200
    assert editor["client"].patch(url, json={"status": "locked"}).json()["version"] == 1
    assert editor["client"].delete(url).status_code == 403
    roles = viewer["client"].get(f"{url}/sharedRoles").json()
    assert {(r["name"], r["role"]) for r in roles["data"]} == {
        ("owner", "OWNER"),
        ("viewer", "READ_ONLY"),
        ("editor", "USER"),
    }
    assert (
        viewer["client"]
        .patch(
            f"{url}/sharedRoles",
            json={
                "operation": "updateRoles",
                "roles": [{"shareRecipientType": "user", "username": "viewer", "role": "OWNER"}],
            },
        )
        .status_code
        == 403
    )
    # Sharing stays editable on a locked artifact.
    share(owner["client"], url, viewer["user"]["id"], "NO_ROLE")
    assert viewer["client"].get(url).status_code == 404


def test_sharing_a_repository_shares_its_artifacts(client: TestClient) -> None:
    owner = create_user(client, "owner")
    guest = create_user(client, "guest")
    first = create_artifact(owner["client"], "one")
    repository_id = first["artifactRepositoryId"]
    second = create_artifact(owner["client"], "two", artifactRepositoryId=repository_id)
    create_artifact(owner["client"], "elsewhere")
    share(
        owner["client"],
        f"/api/v2/artifactRepositories/{repository_id}",
        guest["user"]["id"],
        "EDITOR",
    )
    listed = guest["client"].get(API, params={"orderBy": "name"}).json()
    assert [a["name"] for a in listed["data"]] == ["one", "two"]
    assert listed["data"][0]["permissions"] == ["CAN_VIEW", "CAN_UPDATE", "CAN_MAKE_PREDICTIONS"]
    assert (
        guest["client"].patch(f"{API}/{second['id']}", json={"description": "d"}).status_code == 200
    )
    # Adding an artifact to the repository needs update rights on it.
    added = create_artifact(guest["client"], "three", artifactRepositoryId=repository_id)
    assert added["permissions"] == OWNER_PERMISSIONS
    assert owner["client"].get(f"{API}/{added['id']}").status_code == 200
    share(
        owner["client"],
        f"/api/v2/artifactRepositories/{repository_id}",
        guest["user"]["id"],
        "OBSERVER",
    )
    response = guest["client"].post(
        API, json={"name": "four", "spec": service_spec(), "artifactRepositoryId": repository_id}
    )
    assert response.status_code == 403


def test_type_mismatch_with_the_repository(client: TestClient) -> None:
    artifact = create_artifact(client)
    # Only service repositories can exist today; a mismatch needs a repository of another type.
    with client.app.state.db.unit_of_work() as session:
        session.get(ArtifactRepository, artifact["artifactRepositoryId"]).type = "nim"
    response = client.post(
        API,
        json={
            "name": "x",
            "spec": service_spec(),
            "artifactRepositoryId": artifact["artifactRepositoryId"],
        },
    )
    assert response.status_code == 422
    assert response.json()["code"] == "repository_type_mismatch"


def test_only_admins_loosen_the_security_context(client: TestClient) -> None:
    user = create_user(client, "plain")
    spec = service_spec()
    spec["containerGroups"][0]["containers"][0]["securityContext"] = {
        "capabilities": {"add": ["NET_ADMIN"]}
    }
    response = user["client"].post(API, json={"name": "x", "spec": spec})
    assert response.status_code == 403
    assert response.json()["code"] == "security_context_forbidden"
    admin_made = client.post(API, json={"name": "x", "spec": spec})
    assert admin_made.status_code == 201
    # A non-admin cannot take the loosened spec over by cloning it either.
    url = f"{API}/{admin_made.json()['id']}"
    repository = f"/api/v2/artifactRepositories/{admin_made.json()['artifactRepositoryId']}"
    share(client, repository, user["user"]["id"], "EDITOR")
    assert user["client"].post(f"{url}/clone", json={"name": "c"}).status_code == 403
    assert user["client"].patch(url, json={"spec": spec}).status_code == 403
    assert user["client"].patch(url, json={"name": "renamed"}).status_code == 200


def test_running_as_root_is_loosening(client: TestClient) -> None:
    user = create_user(client, "plain")
    for context in ({"runAsUser": 0}, {"runAsNonRoot": False}):
        spec = service_spec()
        spec["containerGroups"][0]["containers"][0]["securityContext"] = context
        response = user["client"].post(API, json={"name": "x", "spec": spec})
        assert (response.status_code, response.json()["code"]) == (
            403,
            "security_context_forbidden",
        ), context
        inline = {"artifact": {"name": "x", "spec": spec}}
        response = user["client"].post("/api/v2/workloads", json=inline)
        assert response.status_code == 403, context
        # An admin's artifact may run as root, but a non-admin may not start it.
        admin_made = client.post(API, json={"name": "x", "spec": spec, "status": "locked"})
        assert admin_made.status_code == 201
        share(client, f"{API}/{admin_made.json()['id']}", user["user"]["id"], "READ_ONLY")
        response = user["client"].post(
            "/api/v2/workloads", json={"artifactId": admin_made.json()["id"]}
        )
        assert (response.status_code, response.json()["code"]) == (
            403,
            "security_context_forbidden",
        ), context
    tighter = service_spec()
    tighter["containerGroups"][0]["containers"][0]["securityContext"] = {
        "runAsUser": 1000,
        "runAsNonRoot": True,
    }
    assert user["client"].post(API, json={"name": "x", "spec": tighter}).status_code == 201
    tightened = service_spec()
    tightened["containerGroups"][0]["containers"][0]["securityContext"] = {
        "capabilities": {"drop": ["ALL"]},
        "allowPrivilegeEscalation": False,
        "readOnlyRootFilesystem": True,
    }
    assert user["client"].post(API, json={"name": "y", "spec": tightened}).status_code == 201

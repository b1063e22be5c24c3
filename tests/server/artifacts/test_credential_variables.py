"""`dr-credential` variables must name a credential the spec's writer may use, and its key."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from tests.factories import create_artifact, create_user, service_spec

API = "/api/v2/artifacts"
ENV = ["body", "spec", "containerGroups", 0, "containers", 0, "environmentVars", 0]


def credential(client: TestClient) -> str:
    response = client.post(
        "/api/v2/credentials",
        json={"name": "db", "credentialType": "basic", "user": "u", "password": "p"},
    )
    assert response.status_code == 201, response.text
    return response.json()["credentialId"]


def spec_with(variable: dict[str, Any]) -> dict[str, Any]:
    spec = service_spec()
    spec["containerGroups"][0]["containers"][0]["environmentVars"] = [variable]
    return spec


def variable(credential_id: str, key: str = "password") -> dict[str, Any]:
    return {
        "source": "dr-credential",
        "name": "DB_PASSWORD",
        "drCredentialId": credential_id,
        "key": key,
    }


def test_a_credential_variable_is_checked_against_the_store(client: TestClient) -> None:
    alice = create_user(client, "alice")
    mine = credential(alice["client"])
    created = alice["client"].post(API, json={"name": "x", "spec": spec_with(variable(mine))})
    assert created.status_code == 201
    stored = created.json()["spec"]["containerGroups"][0]["containers"][0]["environmentVars"][0]
    assert stored == variable(mine) | {"source": "dr-credential"}

    bad_key = alice["client"].post(
        API, json={"name": "x", "spec": spec_with(variable(mine, "token"))}
    )
    assert bad_key.status_code == 422
    assert bad_key.json()["detail"][0]["loc"] == [*ENV, "key"]

    for missing in ("0" * 24, "nope", credential(client)):  # the last one is the admin's
        response = alice["client"].post(
            API, json={"name": "x", "spec": spec_with(variable(missing))}
        )
        assert response.status_code == 422, missing
        assert response.json()["detail"][0]["loc"] == [*ENV, "drCredentialId"]

    # PATCH checks it too, against the writer.
    artifact = create_artifact(alice["client"])
    response = alice["client"].patch(
        f"{API}/{artifact['id']}", json={"spec": spec_with(variable("0" * 24))}
    )
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == [*ENV, "drCredentialId"]


def test_an_editor_of_an_admins_artifact_cannot_name_anyones_credential(
    client: TestClient,
) -> None:
    """The check is against the writer, not the artifact's creator (an admin may use any)."""
    editor = create_user(client, "editor")
    bob = create_user(client, "bob")
    bobs = credential(bob["client"])
    artifact = create_artifact(client)
    url = f"{API}/{artifact['id']}"
    shared = client.patch(
        f"{url}/sharedRoles",
        json={
            "operation": "updateRoles",
            "roles": [{"shareRecipientType": "user", "id": editor["user"]["id"], "role": "EDITOR"}],
        },
    )
    assert shared.status_code == 204
    response = editor["client"].patch(url, json={"spec": spec_with(variable(bobs))})
    assert (response.status_code, response.json()["code"]) == (422, "credential_not_usable")
    assert response.json()["detail"][0]["loc"] == [*ENV, "drCredentialId"]
    assert bobs in response.json()["message"]
    # The admin writing the same spec may.
    assert client.patch(url, json={"spec": spec_with(variable(bobs))}).status_code == 200

"""`dr-credential` variables in artifact specs, checked against the credential store."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.factories import create_user, service_spec


def _spec_with(credential_id: str, key: str) -> dict:
    spec = service_spec()
    spec["containerGroups"][0]["containers"][0]["environmentVars"].append(
        {
            "name": "DB_PASSWORD",
            "source": "dr-credential",
            "drCredentialId": credential_id,
            "key": key,
        }
    )
    return spec


def _credential(client: TestClient) -> str:
    body = {"name": "db", "credentialType": "basic", "user": "u", "password": "p"}
    response = client.post("/api/v2/credentials", json=body)
    assert response.status_code == 201, response.text
    return response.json()["credentialId"]


def test_artifact_may_reference_its_owners_credential(client: TestClient) -> None:
    alice = create_user(client, "alice")
    credential = _credential(alice["client"])
    body = {"name": "app", "spec": _spec_with(credential, "password")}
    response = alice["client"].post("/api/v2/artifacts", json=body)
    assert response.status_code == 201, response.text
    assert '"p"' not in response.text  # the value never appears in the artifact


def test_reference_errors_point_into_the_spec(client: TestClient) -> None:
    alice = create_user(client, "alice")
    bob = create_user(client, "bob")
    theirs = _credential(bob["client"])
    mine = _credential(alice["client"])
    base = ["body", "spec", "containerGroups", 0, "containers", 0, "environmentVars", 1]
    for credential, key, field, code in (
        (theirs, "password", "drCredentialId", "credential_not_usable"),
        ("0" * 24, "password", "drCredentialId", "validation_error"),
        (mine, "apiToken", "key", "validation_error"),
    ):
        body = {"name": "app", "spec": _spec_with(credential, key)}
        response = alice["client"].post("/api/v2/artifacts", json=body)
        assert response.status_code == 422, response.text
        assert response.json()["code"] == code
        assert response.json()["detail"][0]["loc"] == [*base, field]

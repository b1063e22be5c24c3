"""Credentials through the API: secrets go in sealed and never come back out."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from dockyard.server.credentials.models import Credential
from dockyard.server.credentials.types import CREDENTIAL_TYPES
from tests.factories import create_user

PUBLIC_FIELDS = {"credentialId", "name", "credentialType", "description", "creationDate"}


def secrets_for(credential_type: str) -> dict[str, str]:
    return {name: f"secret-{name}-value" for name in CREDENTIAL_TYPES[credential_type].fields}


def create_credential(client: TestClient, credential_type: str = "basic", **fields: object) -> dict:
    body = {"name": "cred", "credentialType": credential_type, **secrets_for(credential_type)}
    response = client.post("/api/v2/credentials", json={**body, **fields})
    assert response.status_code == 201, response.text
    return response.json()


@pytest.mark.parametrize("credential_type", sorted(CREDENTIAL_TYPES))
def test_every_type_is_created_without_echoing_secrets(
    client: TestClient, credential_type: str
) -> None:
    response = client.post(
        "/api/v2/credentials",
        json={
            "name": f"my {credential_type}",
            "credentialType": credential_type,
            "description": "for tests",
            **secrets_for(credential_type),
        },
    )
    assert response.status_code == 201, response.text
    body = response.json()
    assert set(body) == PUBLIC_FIELDS
    assert body["credentialType"] == credential_type
    assert body["description"] == "for tests"
    assert body["creationDate"].endswith("Z") and len(body["credentialId"]) == 24
    for path in ("/api/v2/credentials", f"/api/v2/credentials/{body['credentialId']}"):
        assert "secret-" not in client.get(path).text


def test_secrets_are_encrypted_at_rest(client: TestClient) -> None:
    created = create_credential(client, "bearer")
    with client.app.state.db.unit_of_work(write=False) as session:
        row = session.scalar(select(Credential).where(Credential.id == created["credentialId"]))
        assert row is not None
        assert "secret-token-value" not in row.encrypted_fields
        assert client.app.state.secret_box.open(row.encrypted_fields) == {
            "token": "secret-token-value"
        }


def test_optional_fields_may_be_omitted(client: TestClient) -> None:
    created = create_credential(client, "s3", awsSessionToken=None)
    assert created["credentialType"] == "s3"
    body = {"name": "o", "credentialType": "oauth", "token": "t"}
    assert client.post("/api/v2/credentials", json=body).status_code == 201
    assert create_credential(client, "basic")["description"] == ""


def test_secret_values_may_hold_any_character(client: TestClient) -> None:
    # Secrets are sealed before storage, so even NUL (refused in names) is kept intact.
    body = {"name": "n", "credentialType": "bearer", "token": "a\u0000b\u00e9"}
    assert client.post("/api/v2/credentials", json=body).status_code == 201


def test_gcp_key_may_be_a_key_file_object(client: TestClient) -> None:
    body = {"name": "g", "credentialType": "gcp", "gcpKey": {"type": "service_account"}}
    assert client.post("/api/v2/credentials", json=body).status_code == 201


@pytest.mark.parametrize(
    ("body", "loc", "error_type"),
    [
        ({"credentialType": "basic", "user": "u", "password": "p"}, ["body", "name"], "missing"),
        ({"name": "n", "user": "u", "password": "p"}, ["body", "credentialType"], "missing"),
        ({"name": "n", "credentialType": "ftp"}, ["body", "credentialType"], "literal_error"),
        ({"name": "n", "credentialType": "basic", "user": "u"}, ["body", "password"], "missing"),
        (
            {"name": "n", "credentialType": "basic", "user": "u", "password": ""},
            ["body", "password"],
            "string_too_short",
        ),
        (
            {"name": "n", "credentialType": "basic", "user": "u", "password": 5},
            ["body", "password"],
            "string_type",
        ),
        (
            {"name": "n", "credentialType": "basic", "user": {"a": 1}, "password": "p"},
            ["body", "user"],
            "string_type",
        ),
        (
            {"name": "n", "credentialType": "bearer", "token": "t" * 70_000},
            ["body", "token"],
            "string_too_long",
        ),
        ({"name": "", "credentialType": "bearer", "token": "t"}, ["body", "name"], None),
        ({"name": "n" * 501, "credentialType": "bearer", "token": "t"}, ["body", "name"], None),
        ({"name": "a\u0000", "credentialType": "bearer", "token": "t"}, ["body", "name"], None),
        (
            {"name": "n", "description": "\u0000", "credentialType": "bearer", "token": "t"},
            ["body", "description"],
            None,
        ),
    ],
)
def test_invalid_bodies_are_422_with_a_loc(
    client: TestClient, body: dict, loc: list, error_type: str | None
) -> None:
    response = client.post("/api/v2/credentials", json=body)
    assert response.status_code == 422, response.text
    payload = response.json()
    assert payload["code"] == "validation_error"
    assert payload["detail"][0]["loc"] == loc
    if error_type:
        assert payload["detail"][0]["type"] == error_type
    assert client.get("/api/v2/credentials").json()["totalCount"] == 0


def test_a_field_the_type_does_not_have_is_ignored_and_named(client: TestClient) -> None:
    response = client.post(
        "/api/v2/credentials",
        json={"name": "n", "credentialType": "bearer", "token": "t", "apiToken": "x"},
    )
    assert response.status_code == 201, response.text
    assert response.headers["warning"] == '299 - "ignored field apiToken"'


def test_all_missing_fields_are_reported(client: TestClient) -> None:
    body = {"name": "sp", "credentialType": "azure_service_principal"}
    detail = client.post("/api/v2/credentials", json=body).json()["detail"]
    assert [e["loc"][-1] for e in detail] == ["azureTenantId", "clientId", "clientSecret"]


def test_owner_and_admins_see_a_credential_others_get_404(client: TestClient) -> None:
    alice = create_user(client, "alice")
    bob = create_user(client, "bob")
    mine = create_credential(alice["client"], "api_token", name="alice's")
    create_credential(client, "bearer", name="admin's")
    path = f"/api/v2/credentials/{mine['credentialId']}"

    assert alice["client"].get(path).json() == mine
    assert client.get(path).json() == mine
    response = bob["client"].get(path)
    assert response.status_code == 404
    assert response.json()["code"] == "credential_not_found"
    assert bob["client"].delete(path).status_code == 404

    assert [c["name"] for c in alice["client"].get("/api/v2/credentials").json()["data"]] == [
        "alice's"
    ]
    assert bob["client"].get("/api/v2/credentials").json()["totalCount"] == 0
    everyone = client.get("/api/v2/credentials").json()
    assert [c["name"] for c in everyone["data"]] == ["admin's", "alice's"]  # newest first


def test_list_is_paginated(client: TestClient) -> None:
    for index in range(3):
        create_credential(client, "bearer", name=f"c{index}")
    first = client.get("/api/v2/credentials", params={"limit": 2}).json()
    assert (first["count"], first["totalCount"]) == (2, 3)
    assert [c["name"] for c in first["data"]] == ["c2", "c1"]
    second = client.get(first["next"]).json()
    assert [c["name"] for c in second["data"]] == ["c0"] and second["next"] is None
    assert client.get("/api/v2/credentials", params={"limit": 101}).status_code == 422


def test_delete_removes_it(client: TestClient) -> None:
    alice = create_user(client, "alice")
    created = create_credential(alice["client"])
    path = f"/api/v2/credentials/{created['credentialId']}"
    assert alice["client"].delete(path).status_code == 204
    assert alice["client"].get(path).status_code == 404
    assert alice["client"].delete(path).status_code == 404
    other = create_credential(alice["client"])
    assert client.delete(f"/api/v2/credentials/{other['credentialId']}/").status_code == 204


@pytest.mark.parametrize("credential_id", ["0" * 24, "bad", "%00", "z" * 500])
def test_unknown_ids_are_404(client: TestClient, credential_id: str) -> None:
    response = client.get(f"/api/v2/credentials/{credential_id}")
    assert response.status_code == 404
    assert response.json()["code"] == "credential_not_found"


def test_credentials_need_a_token(anonymous: TestClient) -> None:
    assert anonymous.get("/api/v2/credentials").status_code == 401
    body = {"name": "n", "credentialType": "bearer", "token": "t"}
    assert anonymous.post("/api/v2/credentials", json=body).status_code == 401

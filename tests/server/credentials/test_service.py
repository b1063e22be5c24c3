"""The functions the artifact spec check and the runtime use: reference checks and secrets."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from dockyard.core.errors import ValidationFailed
from dockyard.server.credentials.service import resolve_secret, validate_env_reference
from tests.factories import create_user

LOC: list[str | int] = ["body", "spec", "containerGroups", 0, "containers", 0, "environmentVars", 2]


def _create(client: TestClient, body: dict) -> str:
    response = client.post("/api/v2/credentials", json=body)
    assert response.status_code == 201, response.text
    return response.json()["credentialId"]


def _check(
    client: TestClient, *, owner_id: str, is_admin: bool, credential_id: str, key: str
) -> None:
    with client.app.state.db.unit_of_work(write=False) as session:
        validate_env_reference(
            session,
            user_id=owner_id,
            is_admin=is_admin,
            credential_id=credential_id,
            key=key,
            loc=LOC,
        )


def test_reference_to_a_visible_credential_and_field_passes(client: TestClient) -> None:
    alice = create_user(client, "alice")
    alice_id = alice["user"]["id"]
    cred = _create(
        alice["client"],
        {"name": "aws", "credentialType": "s3", "awsAccessKeyId": "AK", "awsSecretAccessKey": "SK"},
    )
    for key in ("awsAccessKeyId", "awsSecretAccessKey", "awsSessionToken"):
        _check(client, owner_id=alice_id, is_admin=False, credential_id=cred, key=key)
    admin_id = client.get("/api/v2/users/me").json()["id"]
    _check(client, owner_id=admin_id, is_admin=True, credential_id=cred, key="awsAccessKeyId")


@pytest.mark.parametrize("credential_id", ["missing", "0" * 24, "%00"])
def test_unknown_credential_points_at_dr_credential_id(
    client: TestClient, credential_id: str
) -> None:
    with pytest.raises(ValidationFailed) as caught:
        _check(client, owner_id="0" * 24, is_admin=True, credential_id=credential_id, key="token")
    assert caught.value.detail[0]["loc"] == [*LOC, "drCredentialId"]
    assert caught.value.code == "validation_error"


def test_someone_elses_credential_is_not_usable(client: TestClient) -> None:
    alice = create_user(client, "alice")
    bob = create_user(client, "bob")
    cred = _create(alice["client"], {"name": "b", "credentialType": "bearer", "token": "t"})
    with pytest.raises(ValidationFailed) as caught:
        _check(client, owner_id=bob["user"]["id"], is_admin=False, credential_id=cred, key="token")
    assert caught.value.detail[0]["loc"] == [*LOC, "drCredentialId"]
    assert caught.value.code == "credential_not_usable"
    assert cred in caught.value.message


def test_key_must_be_a_field_of_the_type(client: TestClient) -> None:
    alice = create_user(client, "alice")
    cred = _create(alice["client"], {"name": "b", "credentialType": "bearer", "token": "t"})
    with pytest.raises(ValidationFailed) as caught:
        _check(
            client, owner_id=alice["user"]["id"], is_admin=False, credential_id=cred, key="password"
        )
    assert caught.value.detail[0]["loc"] == [*LOC, "key"]
    assert "token" in caught.value.detail[0]["msg"]


def test_resolve_secret_reads_the_decrypted_value(client: TestClient) -> None:
    basic = _create(client, {"name": "b", "credentialType": "basic", "user": "u", "password": "pw"})
    gcp = _create(client, {"name": "g", "credentialType": "gcp", "gcpKey": {"type": "sa"}})
    s3 = _create(
        client,
        {"name": "s", "credentialType": "s3", "awsAccessKeyId": "a", "awsSecretAccessKey": "b"},
    )
    box = client.app.state.secret_box
    admin_id = client.get("/api/v2/users/me").json()["id"]

    def read(credential_id: str, key: str) -> str | None:
        return resolve_secret(session, box, credential_id, key, user_id=admin_id, is_admin=True)

    with client.app.state.db.unit_of_work(write=False) as session:
        assert read(basic, "password") == "pw"
        assert read(basic, "user") == "u"
        assert read(gcp, "gcpKey") == '{"type": "sa"}'
        assert read(s3, "awsSessionToken") is None
        assert read("0" * 24, "password") is None
        assert read("bad\x00id", "password") is None


def test_resolve_secret_reads_only_credentials_the_runner_may_use(client: TestClient) -> None:
    alice = create_user(client, "alice")
    bob = create_user(client, "bob")
    cred = _create(alice["client"], {"name": "b", "credentialType": "bearer", "token": "t"})
    box = client.app.state.secret_box
    with client.app.state.db.unit_of_work(write=False) as session:
        for user, is_admin, expected in ((alice, False, "t"), (bob, False, None), (bob, True, "t")):
            found = resolve_secret(
                session, box, cred, "token", user_id=user["user"]["id"], is_admin=is_admin
            )
            assert found == expected
        assert resolve_secret(session, box, cred, "token", user_id=None, is_admin=False) is None

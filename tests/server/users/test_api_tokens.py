"""API tokens through the API: shown once, stored hashed, revoked at once."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from dockyard.server.users.models import ApiToken
from dockyard.server.users.tokens import hash_token
from tests.factories import create_user

TOKEN_FIELDS = {"id", "name", "userId", "createdAt"}


def test_create_token_shows_it_once_and_it_works(client: TestClient) -> None:
    me = client.get("/api/v2/users/me").json()
    response = client.post("/api/v2/apiTokens", json={"name": "ci"})
    assert response.status_code == 201, response.text
    created = response.json()
    assert set(created) == TOKEN_FIELDS | {"token"}
    assert created["userId"] == me["id"] and created["name"] == "ci"
    listed = client.get("/api/v2/apiTokens").json()["data"]
    assert {
        "id": created["id"],
        "name": "ci",
        "userId": me["id"],
        "createdAt": created["createdAt"],
    } in listed
    assert all("token" not in item for item in listed)
    other = TestClient(client.app, headers={"Authorization": f"Bearer {created['token']}"})
    assert other.get("/api/v2/users/me").json()["id"] == me["id"]


def test_token_is_stored_only_as_its_hash(client: TestClient) -> None:
    created = client.post("/api/v2/apiTokens", json={"name": "ci"}).json()
    with client.app.state.db.unit_of_work(write=False) as session:
        stored = session.scalar(select(ApiToken).where(ApiToken.id == created["id"]))
        assert stored is not None
        assert stored.token_hash == hash_token(created["token"])
        assert created["token"] not in stored.token_hash


def test_user_creates_own_token_without_user_id(client: TestClient) -> None:
    alice = create_user(client, "alice")
    created = alice["client"].post("/api/v2/apiTokens", json={"name": "laptop"}).json()
    assert created["userId"] == alice["user"]["id"]
    same = alice["client"].post(
        "/api/v2/apiTokens", json={"name": "again", "userId": alice["user"]["id"]}
    )
    assert same.status_code == 201


def test_token_for_another_user_needs_admin(client: TestClient) -> None:
    alice = create_user(client, "alice")
    bob = create_user(client, "bob")
    response = alice["client"].post(
        "/api/v2/apiTokens", json={"name": "steal", "userId": bob["user"]["id"]}
    )
    assert response.status_code == 403
    # Same answer for an id that does not exist: non-admins cannot probe user ids.
    response = alice["client"].post("/api/v2/apiTokens", json={"name": "x", "userId": "0" * 24})
    assert response.status_code == 403


def test_admin_token_for_unknown_user_is_404(client: TestClient) -> None:
    for user_id in ("0" * 24, "nope"):
        response = client.post("/api/v2/apiTokens", json={"name": "x", "userId": user_id})
        assert response.status_code == 404
        assert response.json()["code"] == "user_not_found"


@pytest.mark.parametrize(
    ("body", "loc"),
    [
        ({}, ["body", "name"]),
        ({"name": ""}, ["body", "name"]),
        ({"name": "   "}, ["body", "name"]),
        ({"name": "x" * 201}, ["body", "name"]),
        ({"name": "a\u0000b"}, ["body", "name"]),
        ({"name": "ok", "userId": 7}, ["body", "userId"]),
    ],
)
def test_invalid_token_bodies_are_422(client: TestClient, body: dict, loc: list) -> None:
    response = client.post("/api/v2/apiTokens", json=body)
    assert response.status_code == 422
    assert response.json()["code"] == "validation_error"
    assert response.json()["detail"][0]["loc"] == loc


def test_list_shows_own_tokens_and_admins_may_ask_for_others(client: TestClient) -> None:
    alice = create_user(client, "alice")  # holds the factory's token "test"
    alice["client"].post("/api/v2/apiTokens", json={"name": "second"})
    mine = alice["client"].get("/api/v2/apiTokens").json()
    assert mine["totalCount"] == 2
    assert [t["name"] for t in mine["data"]] == ["second", "test"]
    assert {t["userId"] for t in mine["data"]} == {alice["user"]["id"]}

    admin_own = client.get("/api/v2/apiTokens").json()["data"]
    assert alice["user"]["id"] not in {t["userId"] for t in admin_own}
    theirs = client.get("/api/v2/apiTokens", params={"userId": alice["user"]["id"]}).json()
    assert theirs["totalCount"] == 2

    admin_id = client.get("/api/v2/users/me").json()["id"]
    denied = alice["client"].get("/api/v2/apiTokens", params={"userId": admin_id})
    assert denied.status_code == 403
    missing = client.get("/api/v2/apiTokens", params={"userId": "0" * 24})
    assert missing.json()["code"] == "user_not_found"


def test_deleted_token_stops_working_on_the_next_request(client: TestClient) -> None:
    alice = create_user(client, "alice")
    spare = alice["client"].post("/api/v2/apiTokens", json={"name": "spare"}).json()
    spare_client = TestClient(client.app, headers={"Authorization": f"Bearer {spare['token']}"})
    assert spare_client.get("/api/v2/users/me").status_code == 200  # now cached as valid

    assert alice["client"].delete(f"/api/v2/apiTokens/{spare['id']}").status_code == 204
    response = spare_client.get("/api/v2/users/me")
    assert response.status_code == 401
    assert response.json()["code"] == "unauthorized"
    assert alice["client"].get("/api/v2/users/me").status_code == 200  # the other token lives
    assert spare["id"] not in {
        t["id"] for t in alice["client"].get("/api/v2/apiTokens").json()["data"]
    }


def test_a_token_may_revoke_itself(client: TestClient) -> None:
    alice = create_user(client, "alice")
    own = alice["client"].get("/api/v2/apiTokens").json()["data"][0]
    assert alice["client"].delete(f"/api/v2/apiTokens/{own['id']}").status_code == 204
    assert alice["client"].get("/api/v2/users/me").status_code == 401


def test_non_admin_cannot_see_or_delete_others_tokens(client: TestClient) -> None:
    alice = create_user(client, "alice")
    bob = create_user(client, "bob")
    bob_token = bob["client"].get("/api/v2/apiTokens").json()["data"][0]
    response = alice["client"].delete(f"/api/v2/apiTokens/{bob_token['id']}")
    assert response.status_code == 404
    assert response.json()["code"] == "token_not_found"
    assert bob["client"].get("/api/v2/users/me").status_code == 200


def test_admin_revokes_any_token(client: TestClient) -> None:
    bob = create_user(client, "bob")
    bob_token = bob["client"].get("/api/v2/apiTokens").json()["data"][0]
    assert client.delete(f"/api/v2/apiTokens/{bob_token['id']}").status_code == 204
    assert bob["client"].get("/api/v2/users/me").status_code == 401


@pytest.mark.parametrize("token_id", ["0" * 24, "junk", "%00"])
def test_delete_unknown_token_is_404(client: TestClient, token_id: str) -> None:
    response = client.delete(f"/api/v2/apiTokens/{token_id}")
    assert response.status_code == 404
    assert response.json()["code"] == "token_not_found"


def test_a_token_cannot_be_chosen_the_field_is_ignored_and_named(client: TestClient) -> None:
    response = client.post("/api/v2/apiTokens", json={"name": "ok", "token": "mine"})
    assert response.status_code == 201, response.text
    assert response.json()["token"] != "mine"
    assert response.headers["warning"] == '299 - "ignored field token"'

"""Users through the API: admins create them, everyone signed in may look them up."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from dockyard.server.users import repository
from tests.factories import create_user

USER_FIELDS = {"id", "username", "email", "fullName", "isAdmin", "createdAt"}


def test_admin_creates_a_user(client: TestClient) -> None:
    response = client.post(
        "/api/v2/users",
        json={"username": "ada", "email": "ada@example.com", "fullName": "Ada L", "isAdmin": False},
    )
    assert response.status_code == 201, response.text
    user = response.json()
    assert set(user) == USER_FIELDS
    assert len(user["id"]) == 24
    assert user["username"] == "ada"
    assert user["email"] == "ada@example.com"
    assert user["fullName"] == "Ada L"
    assert user["isAdmin"] is False
    assert user["createdAt"].endswith("Z")
    assert client.get(f"/api/v2/users/{user['id']}").json() == user


def test_optional_fields_default_to_null_and_false(client: TestClient) -> None:
    user = client.post("/api/v2/users", json={"username": "bob", "email": ""}).json()
    assert (user["email"], user["fullName"], user["isAdmin"]) == (None, None, False)


def test_non_admin_cannot_create_users(client: TestClient) -> None:
    alice = create_user(client, "alice")
    response = alice["client"].post("/api/v2/users", json={"username": "mallory"})
    assert response.status_code == 403
    assert response.json()["code"] == "forbidden"
    assert client.get("/api/v2/users").json()["totalCount"] == 2  # admin and alice


def test_created_admin_has_admin_rights(client: TestClient) -> None:
    root = create_user(client, "root2", isAdmin=True)
    assert root["user"]["isAdmin"] is True
    assert root["client"].post("/api/v2/users", json={"username": "carol"}).status_code == 201


def test_duplicate_username_is_409(client: TestClient) -> None:
    assert client.post("/api/v2/users", json={"username": "dup"}).status_code == 201
    response = client.post("/api/v2/users", json={"username": "dup"})
    assert response.status_code == 409
    assert response.json()["code"] == "username_taken"
    assert response.json()["detail"] == response.json()["message"]


def test_duplicate_username_lost_race_is_409_not_500(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Two requests that both passed the existence check: the unique index decides.
    assert client.post("/api/v2/users", json={"username": "racer"}).status_code == 201
    monkeypatch.setattr(repository, "get_user_by_username", lambda session, username: None)
    response = client.post("/api/v2/users", json={"username": "racer"})
    assert response.status_code == 409
    assert response.json()["code"] == "username_taken"
    # The failed transaction left the database usable and unchanged.
    monkeypatch.undo()
    names = [u["username"] for u in client.get("/api/v2/users").json()["data"]]
    assert names.count("racer") == 1


@pytest.mark.parametrize(
    ("body", "loc"),
    [
        ({}, ["body", "username"]),
        ({"username": ""}, ["body", "username"]),
        ({"username": "x" * 151}, ["body", "username"]),
        ({"username": "has space"}, ["body", "username"]),
        ({"username": "semi;colon"}, ["body", "username"]),
        ({"username": "ok", "email": "not-an-email"}, ["body", "email"]),
        ({"username": "ok", "fullName": "x" * 301}, ["body", "fullName"]),
        ({"username": "ok", "isAdmin": "maybe"}, ["body", "isAdmin"]),
        ({"username": 5}, ["body", "username"]),
        ({"username": "nul\u0000"}, ["body", "username"]),
        ({"username": "ok", "fullName": "a\u0000b"}, ["body", "fullName"]),
        ({"username": "ok", "email": "a\u0000@b.io"}, ["body", "email"]),
    ],
)
def test_invalid_user_bodies_are_422(client: TestClient, body: dict, loc: list) -> None:
    response = client.post("/api/v2/users", json=body)
    assert response.status_code == 422, response.text
    assert response.json()["code"] == "validation_error"
    assert response.json()["detail"][0]["loc"] == loc


def test_username_charset_allows_email_style_names(client: TestClient) -> None:
    for name in ("a", "x" * 150, "jane.doe+ops@example.com", "svc_bot-1"):
        assert client.post("/api/v2/users", json={"username": name}).status_code == 201, name


def test_list_users_is_an_envelope_for_everyone(client: TestClient) -> None:
    alice = create_user(client, "alice")
    create_user(client, "bob")
    for caller in (client, alice["client"]):
        body = caller.get("/api/v2/users", params={"limit": 2}).json()
        assert body["totalCount"] == 3
        assert body["count"] == 2
        assert body["next"] is not None and body["previous"] is None
        assert [u["username"] for u in body["data"]] == ["bob", "alice"]  # newest first
        assert all(set(u) == USER_FIELDS for u in body["data"])
    assert client.get("/api/v2/users", params={"limit": 0}).status_code == 422


def test_me_is_the_caller(client: TestClient) -> None:
    me = client.get("/api/v2/users/me")
    assert me.status_code == 200
    assert me.json()["username"] == "admin" and me.json()["isAdmin"] is True
    alice = create_user(client, "alice")
    assert alice["client"].get("/api/v2/users/me/").json() == alice["user"]


@pytest.mark.parametrize("user_id", ["0" * 24, "not-an-id", "%00", "x" * 300])
def test_unknown_user_is_404(client: TestClient, user_id: str) -> None:
    response = client.get(f"/api/v2/users/{user_id}")
    assert response.status_code == 404
    assert response.json()["code"] == "user_not_found"


def test_users_need_a_token(anonymous: TestClient) -> None:
    assert anonymous.get("/api/v2/users").status_code == 401
    response = anonymous.post("/api/v2/users", json={"username": "x"})
    assert response.status_code == 401
    assert response.json()["code"] == "unauthorized"


def test_a_password_is_not_a_user_field_it_is_ignored_and_named(client: TestClient) -> None:
    response = client.post("/api/v2/users", json={"username": "pw", "password": "x"})
    assert response.status_code == 201, response.text
    assert "password" not in response.json()
    assert response.headers["warning"] == '299 - "ignored field password"'

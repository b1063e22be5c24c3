"""GET/PATCH …/sharedRoles over HTTP, on a test resource (see conftest)."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient

from tests.factories import create_user


def _path(widget_id: str) -> str:
    return f"/api/v2/widgets/{widget_id}/sharedRoles"


def _grant(user_id: str | None = None, role: str = "USER", username: str | None = None) -> dict:
    entry: dict = {"shareRecipientType": "user", "role": role}
    if username is not None:
        entry["username"] = username
    else:
        entry["id"] = user_id
    return entry


def _patch(client: TestClient, widget_id: str, *roles: dict) -> object:
    return client.patch(_path(widget_id), json={"operation": "updateRoles", "roles": list(roles)})


def _roles(client: TestClient, widget_id: str) -> dict[str, str]:
    response = client.get(_path(widget_id))
    assert response.status_code == 200, response.text
    return {item["name"]: item["role"] for item in response.json()["data"]}


@pytest.fixture
def alice(client: TestClient) -> dict:
    return create_user(client, "alice")


@pytest.fixture
def bob(client: TestClient) -> dict:
    return create_user(client, "bob")


def test_owner_sees_the_grant_list_envelope(
    client: TestClient, alice: dict, make_widget: Callable[[str], str]
) -> None:
    widget = make_widget(alice["user"]["id"])
    body = alice["client"].get(_path(widget)).json()
    assert body["count"] == body["totalCount"] == 1
    assert body["next"] is None and body["previous"] is None
    assert body["data"] == [
        {"id": alice["user"]["id"], "name": "alice", "role": "OWNER", "shareRecipientType": "user"}
    ]


def test_roles_in_any_case_by_id_or_username(
    client: TestClient, alice: dict, bob: dict, make_widget: Callable[[str], str]
) -> None:
    carol = create_user(client, "carol")
    widget = make_widget(alice["user"]["id"])
    response = _patch(
        alice["client"],
        widget,
        _grant(bob["user"]["id"], "user"),
        _grant(role="Consumer", username="carol"),
    )
    assert response.status_code == 204 and response.content == b""
    assert _roles(alice["client"], widget) == {"alice": "OWNER", "bob": "USER", "carol": "CONSUMER"}
    # Grantees see the object and its grants; the trailing slash form answers too.
    assert carol["client"].get(_path(widget) + "/").status_code == 200


def test_update_changes_listed_grants_and_keeps_the_others(
    client: TestClient, alice: dict, bob: dict, make_widget: Callable[[str], str]
) -> None:
    carol = create_user(client, "carol")
    widget = make_widget(alice["user"]["id"])
    _patch(alice["client"], widget, _grant(bob["user"]["id"]), _grant(carol["user"]["id"]))
    assert (
        _patch(alice["client"], widget, _grant(bob["user"]["id"], "read_only")).status_code == 204
    )
    assert _roles(client, widget) == {"alice": "OWNER", "bob": "READ_ONLY", "carol": "USER"}


def test_no_role_removes_a_grant(
    client: TestClient, alice: dict, bob: dict, make_widget: Callable[[str], str]
) -> None:
    widget = make_widget(alice["user"]["id"])
    _patch(alice["client"], widget, _grant(bob["user"]["id"], "EDITOR"))
    assert bob["client"].get(_path(widget)).status_code == 200
    assert _patch(alice["client"], widget, _grant(bob["user"]["id"], "no_role")).status_code == 204
    assert _roles(alice["client"], widget) == {"alice": "OWNER"}
    response = bob["client"].get(_path(widget))
    assert response.status_code == 404
    assert response.json()["code"] == "widget_not_found"
    # Removing a grant nobody holds is a no-op.
    assert _patch(alice["client"], widget, _grant(bob["user"]["id"], "NO_ROLE")).status_code == 204


def test_last_owner_cannot_be_removed_or_downgraded(
    client: TestClient, alice: dict, bob: dict, make_widget: Callable[[str], str]
) -> None:
    widget = make_widget(alice["user"]["id"])
    for role in ("NO_ROLE", "USER"):
        response = _patch(alice["client"], widget, _grant(alice["user"]["id"], role))
        assert response.status_code == 409
        assert response.json()["code"] == "last_owner"
    # Admins are held to the same rule.
    assert _patch(client, widget, _grant(alice["user"]["id"], "NO_ROLE")).status_code == 409
    # A refused request changes nothing, even its valid parts.
    response = _patch(
        alice["client"], widget, _grant(bob["user"]["id"]), _grant(alice["user"]["id"], "NO_ROLE")
    )
    assert response.status_code == 409
    assert _roles(alice["client"], widget) == {"alice": "OWNER"}
    # Handing ownership over in one request is fine.
    response = _patch(
        alice["client"],
        widget,
        _grant(bob["user"]["id"], "OWNER"),
        _grant(alice["user"]["id"], "NO_ROLE"),
    )
    assert response.status_code == 204
    assert _roles(bob["client"], widget) == {"bob": "OWNER"}


def test_only_owners_and_admins_may_share(
    client: TestClient, alice: dict, bob: dict, make_widget: Callable[[str], str]
) -> None:
    carol = create_user(client, "carol")
    widget = make_widget(alice["user"]["id"])
    _patch(alice["client"], widget, _grant(bob["user"]["id"], "EDITOR"))
    response = _patch(bob["client"], widget, _grant(carol["user"]["id"]))
    assert response.status_code == 403  # bob sees it but may not share it
    assert response.json()["code"] == "forbidden"
    response = _patch(carol["client"], widget, _grant(carol["user"]["id"], "OWNER"))
    assert response.status_code == 404  # carol does not see it at all
    assert response.json()["code"] == "widget_not_found"
    assert _patch(client, widget, _grant(carol["user"]["id"], "OBSERVER")).status_code == 204
    assert _roles(client, widget)["carol"] == "OBSERVER"


def test_unknown_recipients_are_404(
    client: TestClient, alice: dict, make_widget: Callable[[str], str]
) -> None:
    widget = make_widget(alice["user"]["id"])
    for entry in (
        _grant("0" * 24),
        _grant("not-an-id"),
        _grant("nul\u0000"),
        _grant(username="nobody"),
        _grant(username="nul\u0000"),
    ):
        response = _patch(alice["client"], widget, entry)
        assert response.status_code == 404, entry
        assert response.json()["code"] == "user_not_found"


def test_unknown_object_is_404(
    client: TestClient, alice: dict, make_widget: Callable[[str], str]
) -> None:
    make_widget(alice["user"]["id"])
    assert client.get(_path("0" * 24)).json()["code"] == "widget_not_found"
    assert _patch(client, "0" * 24, _grant(alice["user"]["id"])).status_code == 404


@pytest.mark.parametrize(
    ("body", "loc_end"),
    [
        (
            {
                "operation": "updateRoles",
                "roles": [_grant("0" * 24) | {"shareRecipientType": "group"}],
            },
            "shareRecipientType",
        ),
        (
            {
                "operation": "updateRoles",
                "roles": [_grant("0" * 24) | {"shareRecipientType": "organization"}],
            },
            "shareRecipientType",
        ),
        ({"operation": "updateRoles", "roles": [_grant("0" * 24, "SUPERUSER")]}, "role"),
        (
            {"operation": "updateRoles", "roles": [{"shareRecipientType": "user", "role": "USER"}]},
            0,
        ),
        ({"operation": "updateRoles", "roles": [_grant("0" * 24) | {"username": "x"}]}, 0),
        ({"operation": "updateRoles", "roles": []}, "roles"),
        ({"operation": "updateRoles", "roles": [_grant("0" * 24)] * 101}, "roles"),
        ({"operation": "replaceRoles", "roles": [_grant("0" * 24)]}, "operation"),
        ({"roles": [_grant("0" * 24)]}, "operation"),
    ],
)
def test_invalid_bodies_are_422(
    client: TestClient, alice: dict, make_widget: Callable[[str], str], body: dict, loc_end: object
) -> None:
    widget = make_widget(alice["user"]["id"])
    response = client.patch(_path(widget), json=body)
    assert response.status_code == 422, response.text
    assert response.json()["code"] == "validation_error"
    assert response.json()["detail"][0]["loc"][-1] == loc_end


@pytest.mark.parametrize("role", ["DATA_SCIENTIST", "admin"])
def test_the_references_unsupported_roles_are_refused_by_name(
    client: TestClient, alice: dict, bob: dict, make_widget: Callable[[str], str], role: str
) -> None:
    widget = make_widget(alice["user"]["id"])
    response = _patch(alice["client"], widget, _grant(bob["user"]["id"], role))
    assert response.status_code == 422, response.text
    assert response.json()["code"] == "role_not_supported"
    assert role.upper() in response.json()["message"]
    assert "bob" not in _roles(alice["client"], widget)


def test_grant_list_is_paginated(
    client: TestClient, alice: dict, bob: dict, make_widget: Callable[[str], str]
) -> None:
    widget = make_widget(alice["user"]["id"])
    _patch(alice["client"], widget, _grant(bob["user"]["id"]))
    first = alice["client"].get(_path(widget), params={"limit": 1}).json()
    assert (first["count"], first["totalCount"]) == (1, 2)
    assert first["data"][0]["name"] == "alice"  # grants in the order they were given
    second = alice["client"].get(first["next"]).json()
    assert second["data"][0]["name"] == "bob" and second["next"] is None


def test_shared_roles_need_a_token(
    anonymous: TestClient, make_widget: Callable[[str], str]
) -> None:
    assert anonymous.get(_path("0" * 24)).status_code == 401

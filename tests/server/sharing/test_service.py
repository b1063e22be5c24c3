"""The sharing service against the database: effective rights, parents, grant races."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient

from dockyard.core.errors import Forbidden, NotFound
from dockyard.server.kit.auth import Principal
from dockyard.server.kit.ids import new_id
from dockyard.server.sharing import repository, service
from dockyard.server.sharing.roles import Right
from dockyard.server.sharing.schemas import SharedRolesUpdate
from dockyard.server.sharing.service import Target
from tests.factories import create_user

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
EDIT_PERMISSIONS = ["CAN_VIEW", "CAN_UPDATE", "CAN_MAKE_PREDICTIONS"]
EXPECTED = {
    "OWNER": OWNER_PERMISSIONS,
    "EDITOR": EDIT_PERMISSIONS,
    "READ_WRITE": EDIT_PERMISSIONS,
    "USER": EDIT_PERMISSIONS,
    "CONSUMER": ["CAN_VIEW", "CAN_MAKE_PREDICTIONS"],
    "READ_ONLY": ["CAN_VIEW"],
    "OBSERVER": ["CAN_VIEW"],
}


def _principal(created: dict) -> Principal:
    user = created["user"]
    return Principal(user_id=user["id"], username=user["username"], is_admin=user["isAdmin"])


def _update(user_id: str, role: str) -> SharedRolesUpdate:
    return SharedRolesUpdate.model_validate(
        {
            "operation": "updateRoles",
            "roles": [{"shareRecipientType": "user", "id": user_id, "role": role}],
        }
    )


@pytest.mark.parametrize("role", sorted(EXPECTED))
def test_permissions_by_role(client: TestClient, role: str) -> None:
    owner = create_user(client, "owner")
    grantee = create_user(client, "grantee")
    target = Target("widget", new_id(), "widget")
    with client.app.state.db.unit_of_work() as session:
        service.grant_owner(session, target.resource_type, target.resource_id, owner["user"]["id"])
        service.update_roles(
            session, _principal(owner), target, _update(grantee["user"]["id"], role)
        )
        level = service.level_of(session, _principal(grantee), target)
        assert service.permissions(level) == EXPECTED[role]


def test_admins_have_every_permission_and_strangers_none(client: TestClient) -> None:
    stranger = create_user(client, "stranger")
    admin = Principal(user_id="0" * 24, username="admin", is_admin=True)
    target = Target("widget", new_id(), "widget")
    with client.app.state.db.unit_of_work(write=False) as session:
        assert service.permissions(service.level_of(session, admin, target)) == OWNER_PERMISSIONS
        assert service.level_of(session, _principal(stranger), target) is None
        assert service.permissions(None) == []


def test_require_answers_404_when_invisible_and_403_when_too_weak(client: TestClient) -> None:
    viewer = create_user(client, "viewer")
    stranger = create_user(client, "stranger")
    target = Target("widget", new_id(), "widget")
    with client.app.state.db.unit_of_work() as session:
        repository.add_grant(
            session, "widget", target.resource_id, viewer["user"]["id"], "OBSERVER"
        )
        assert service.require(session, _principal(viewer), target, Right.VIEW) == Right.VIEW
        with pytest.raises(Forbidden):
            service.require(session, _principal(viewer), target, Right.INVOKE)
        with pytest.raises(NotFound) as hidden:
            service.require(session, _principal(stranger), target, Right.VIEW)
        assert hidden.value.code == "widget_not_found"


def test_parent_grants_apply_to_children(client: TestClient) -> None:
    # Sharing a repository shares the artifacts in it.
    owner = create_user(client, "owner")
    reader = create_user(client, "reader")
    repo_id, first, second = new_id(), new_id(), new_id()
    children = [
        Target("child", cid, "child", parents=(("parent", repo_id),)) for cid in (first, second)
    ]
    with client.app.state.db.unit_of_work() as session:
        service.grant_owner(session, "parent", repo_id, owner["user"]["id"])
        service.grant_owner(session, "child", first, owner["user"]["id"])
        parent = Target("parent", repo_id, "parent")
        service.update_roles(
            session, _principal(owner), parent, _update(reader["user"]["id"], "CONSUMER")
        )
        levels = service.levels_of(session, _principal(reader), children)
        assert levels == {first: Right.INVOKE, second: Right.INVOKE}
        # A direct grant on one child raises that child only.
        service.update_roles(
            session, _principal(owner), children[0], _update(reader["user"]["id"], "USER")
        )
        levels = service.levels_of(session, _principal(reader), children)
        assert levels == {first: Right.UPDATE, second: Right.INVOKE}


def test_object_owned_through_its_parent_may_gain_grants(client: TestClient) -> None:
    # No direct owner on the child: adding a grant must not be mistaken for removing the last one.
    owner = create_user(client, "owner")
    reader = create_user(client, "reader")
    repo_id, child_id = new_id(), new_id()
    child = Target("child", child_id, "child", parents=(("parent", repo_id),))
    with client.app.state.db.unit_of_work() as session:
        service.grant_owner(session, "parent", repo_id, owner["user"]["id"])
        service.update_roles(
            session, _principal(owner), child, _update(reader["user"]["id"], "USER")
        )
        roles = service.list_roles(session, _principal(owner), child)
        assert [(r.name, r.role) for r in roles] == [("reader", "USER")]


def test_concurrent_first_grant_becomes_an_update(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Another request inserted the same grant between our look-up and our insert.
    owner = create_user(client, "owner")
    grantee = create_user(client, "grantee")
    target = Target("widget", new_id(), "widget")
    with client.app.state.db.unit_of_work() as session:
        service.grant_owner(session, target.resource_type, target.resource_id, owner["user"]["id"])
        repository.add_grant(
            session, "widget", target.resource_id, grantee["user"]["id"], "OBSERVER"
        )
        real_find = repository.find_grant
        calls: list[int] = []

        def stale_then_real(*args: object) -> object:
            calls.append(1)
            return None if len(calls) == 1 else real_find(*args)  # type: ignore[arg-type]

        monkeypatch.setattr(repository, "find_grant", stale_then_real)
        service.update_roles(
            session, _principal(owner), target, _update(grantee["user"]["id"], "EDITOR")
        )
        monkeypatch.undo()
        roles = {r.name: r.role for r in service.list_roles(session, _principal(owner), target)}
    assert roles == {"owner": "OWNER", "grantee": "EDITOR"}


def test_forget_object_drops_its_grants(
    client: TestClient, make_widget: Callable[[str], str]
) -> None:
    owner = create_user(client, "owner")
    widget = make_widget(owner["user"]["id"])
    with client.app.state.db.unit_of_work() as session:
        service.forget_object(session, "widget", [widget])
        assert repository.grants_of(session, "widget", widget) == []

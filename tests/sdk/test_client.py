"""The blocking client against a real server: typed objects, lists, errors."""

from __future__ import annotations

import pytest

from dockyard.core.errors import ValidationFailed
from dockyard.sdk import (
    Artifact,
    ArtifactRepository,
    Client,
    Conflict,
    IgnoredFieldWarning,
    NotFound,
    RuleViolation,
    Unauthorized,
)
from tests.sdk.live_server import LiveServer, http_app_spec, unique


def test_artifacts_are_typed_objects_with_methods(client: Client) -> None:
    name = unique("sdk-art")
    artifact = client.artifacts.create(name=name, spec=http_app_spec(), tags={"team": "ml"})
    assert isinstance(artifact, Artifact)
    assert artifact.status == "draft" and artifact.version is None
    assert artifact.spec.container_groups[0].containers[0].name == "primary"
    assert [(t.name, t.value) for t in artifact.tags] == [("team", "ml")]

    artifact.update(description="patched")
    assert artifact.description == "patched"
    assert artifact.lock() is artifact
    assert (artifact.status, artifact.version) == ("locked", 1)

    copy = artifact.clone(f"{name}-copy")
    assert copy.status == "draft"
    assert copy.artifact_repository_id == artifact.artifact_repository_id
    # Another client's change shows after reload.
    client.artifacts.update(copy.id, description="from elsewhere")
    assert copy.reload().description == "from elsewhere"

    repository = client.repositories.get(artifact.artifact_repository_id or "")
    assert isinstance(repository, ArtifactRepository)
    assert repository.last_version_number == 1
    assert {a.id for a in repository.artifacts()} == {artifact.id, copy.id}
    copy.delete()
    with pytest.raises(NotFound):
        copy.reload()


def test_lists_iterate_across_pages(client: Client) -> None:
    tag = unique("page")
    created = [
        client.artifacts.create(name=f"{tag}-{i}", spec=http_app_spec(), tags={"batch": tag}).id
        for i in range(7)
    ]
    listing = client.artifacts.list(tag_keys=["batch"], tag_values=[tag])
    assert [a.id for a in listing.pages_of(3)] == created[::-1]  # newest first, three requests
    assert len(list(client.artifacts.list(tag_values=[tag], limit=4).pages_of(3))) == 4
    assert client.artifacts.list(tag_values=[tag], limit=2).all()[0].id == created[-1]


def test_server_errors_come_back_as_the_same_classes(client: Client, server: LiveServer) -> None:
    with pytest.raises(NotFound) as missing:
        client.artifacts.get("0" * 24)
    assert (missing.value.status_code, missing.value.code) == (404, "artifact_not_found")

    locked = client.artifacts.create(name=unique("sdk-locked"), spec=http_app_spec())
    locked.lock()
    with pytest.raises(Conflict) as conflict:
        locked.update(description="nope")
    assert (conflict.value.status_code, conflict.value.code) == (409, "artifact_locked")

    with pytest.raises(ValidationFailed) as invalid:
        client.artifacts.create(name="bad", spec={"containerGroups": []})
    assert invalid.value.status_code == 422
    assert isinstance(invalid.value.detail, list) and invalid.value.detail[0]["loc"]

    with pytest.raises(RuleViolation) as rule:
        client.artifacts.create(name="nim", spec=http_app_spec(), body={"type": "nim"})
    assert rule.value.code == "type_not_supported"

    with Client(server.url, "wrong-token") as anonymous, pytest.raises(Unauthorized) as denied:
        anonymous.artifacts.get(locked.id)
    assert denied.value.code == "unauthorized"


def test_users_and_tokens(client: Client, server: LiveServer) -> None:
    username = unique("sdk-user")
    user = client.users.create(username, full_name="SDK User")
    assert user.username == username and not user.is_admin
    token = client.tokens.create("sdk", user_id=user.id)
    with Client(server.url, token.token) as theirs:
        assert theirs.users.me().id == user.id
        # A non-admin cannot see the admin's artifacts: they are simply not there.
        assert theirs.artifacts.list(limit=1).all() == []
    with pytest.raises(Conflict) as taken:
        client.users.create(username)
    assert taken.value.code == "username_taken"
    client.tokens.delete(token.id)


def test_credentials_never_show_their_secret(client: Client) -> None:
    credential = client.credentials.create(unique("cred"), "basic", user="u", password="p")
    assert "password" not in credential.model_dump()
    assert client.credentials.get(credential.credential_id).name == credential.name
    client.credentials.delete(credential.credential_id)


def test_a_field_the_server_ignored_is_a_python_warning(client: Client) -> None:
    spec = http_app_spec()
    spec["containerGroups"][0]["containers"][0]["imagUri"] = "typo"
    with pytest.warns(IgnoredFieldWarning, match=r"containers\[0\]\.imagUri"):
        client.artifacts.create(name=unique("sdk-typo"), spec=spec)

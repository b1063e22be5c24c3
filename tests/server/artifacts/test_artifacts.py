"""Create, read, replace, patch and clone artifacts through the API."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.factories import create_artifact, service_spec

API = "/api/v2/artifacts"


def test_create_returns_the_formatted_artifact(client: TestClient) -> None:
    response = client.post(
        API,
        json={
            "name": "hello",
            "description": "greets",
            "spec": service_spec(),
            "tags": [{"name": "team", "value": "a"}],
        },
    )
    assert response.status_code == 201
    body = response.json()
    assert set(body) == {
        "id", "name", "description", "type", "status", "version", "artifactRepositoryId",
        "spec", "tags", "permissions", "creator", "createdAt", "updatedAt",
    }  # fmt: skip
    assert len(body["id"]) == 24
    assert body["status"] == "draft"
    assert body["version"] is None
    assert body["type"] == "service"
    assert body["description"] == "greets"
    assert body["tags"][0]["name"] == "team" and len(body["tags"][0]["id"]) == 24
    assert body["creator"]["username"] == "admin"
    assert "CAN_DELETE" in body["permissions"]
    assert body["createdAt"].endswith("Z")
    probe = body["spec"]["containerGroups"][0]["containers"][0]["readinessProbe"]
    assert probe["port"] == 8080 and probe["timeoutSeconds"] == 30 and probe["periodSeconds"] == 5
    assert client.get(f"{API}/{body['id']}").json() == body


def test_create_without_a_repository_makes_one_named_after_it(client: TestClient) -> None:
    artifact = create_artifact(client, "my-service")
    repository = client.get(f"/api/v2/artifactRepositories/{artifact['artifactRepositoryId']}")
    assert repository.status_code == 200
    assert repository.json()["name"] == "my-service"
    assert repository.json()["numArtifacts"] == 1
    assert repository.json()["lastVersionNumber"] == 0


def test_create_into_an_existing_repository(client: TestClient) -> None:
    first = create_artifact(client, "v1")
    second = create_artifact(client, "v2", artifactRepositoryId=first["artifactRepositoryId"])
    assert second["artifactRepositoryId"] == first["artifactRepositoryId"]
    for missing in ("0" * 24, "not-an-id", "%00"):
        response = client.post(
            API, json={"name": "x", "spec": service_spec(), "artifactRepositoryId": missing}
        )
        assert response.status_code == 404
        assert response.json()["code"] == "repository_not_found"


def test_unsupported_types_are_refused_before_the_spec_is_read(client: TestClient) -> None:
    for kind in ("nim", "agent"):
        response = client.post(
            API, json={"name": "x", "type": kind, "spec": {"containerGroups": [], "storage": {}}}
        )
        assert response.status_code == 422
        assert response.json() == {
            "message": response.json()["message"],
            "code": "type_not_supported",
            "detail": response.json()["message"],
        }
    response = client.post(API, json={"name": "x", "type": "other", "spec": service_spec()})
    assert response.status_code == 422
    assert response.json()["code"] == "validation_error"


def test_validation_errors_carry_the_json_path(client: TestClient) -> None:
    spec = service_spec()
    spec["containerGroups"][0]["containers"][0]["port"] = 80
    response = client.post(API, json={"name": "x", "spec": spec})
    assert response.status_code == 422
    body = response.json()
    assert body["code"] == "validation_error"
    assert body["detail"][0]["loc"] == [
        "body",
        "spec",
        "containerGroups",
        0,
        "containers",
        0,
        "port",
    ]
    assert set(body["detail"][0]) == {"loc", "msg", "type"}

    spec = service_spec()
    spec["containerGroups"][0]["containers"][0]["primary"] = False
    response = client.post(API, json={"name": "x", "spec": spec})
    assert response.json()["detail"][0]["loc"] == [
        "body",
        "spec",
        "containerGroups",
        0,
        "containers",
    ]

    for body in ({"spec": service_spec()}, {"name": "", "spec": service_spec()}, {"name": "x"}):
        assert client.post(API, json=body).status_code == 422


def test_image_rules_are_rule_422s(client: TestClient) -> None:
    spec = service_spec()
    del spec["containerGroups"][0]["containers"][0]["imageUri"]
    response = client.post(API, json={"name": "x", "spec": spec})
    assert response.status_code == 422
    assert response.json()["code"] == "image_uri_required"
    assert isinstance(response.json()["detail"], str)
    spec = service_spec()
    spec["containerGroups"][0]["containers"][0]["environmentVars"] = [{"source": "api-key"}]
    response = client.post(API, json={"name": "x", "spec": spec})
    assert response.json()["code"] == "env_source_not_supported"


def test_image_allow_and_deny_lists_apply_on_every_write(client: TestClient) -> None:
    artifact = create_artifact(client)
    settings = client.app.state.settings
    settings.image_denylist = ["docker.io/library/*"]
    try:
        response = client.post(API, json={"name": "x", "spec": service_spec()})
        assert response.status_code == 422
        assert response.json()["code"] == "image_not_allowed"
        assert "not permitted" in response.json()["message"]
        put = client.put(f"{API}/{artifact['id']}", json={"name": "y", "spec": service_spec()})
        assert put.json()["code"] == "image_not_allowed"
        patch = client.patch(f"{API}/{artifact['id']}", json={"spec": service_spec()})
        assert patch.json()["code"] == "image_not_allowed"
        clone = client.post(f"{API}/{artifact['id']}/clone", json={"name": "c"})
        assert clone.json()["code"] == "image_not_allowed"
        ok = client.post(API, json={"name": "x", "spec": service_spec(image="ghcr.io/o/app:1")})
        assert ok.status_code == 201
    finally:
        settings.image_denylist = []


def test_get_unknown_or_malformed_ids_is_404(client: TestClient) -> None:
    for bad in ("0" * 24, "nope", "x" * 300, "%00"):
        response = client.get(f"{API}/{bad}")
        assert response.status_code == 404
        body = response.json()
        assert body["code"] == "artifact_not_found"
        assert body["detail"] == body["message"]


def test_patch_changes_only_the_fields_present(client: TestClient) -> None:
    artifact = create_artifact(client, description="before", tags=[{"name": "k", "value": "v"}])
    response = client.patch(f"{API}/{artifact['id']}", json={"name": "renamed"})
    assert response.status_code == 200
    body = response.json()
    assert body["name"] == "renamed"
    assert body["description"] == "before"
    assert body["spec"] == artifact["spec"]
    assert body["tags"] == artifact["tags"]  # unchanged tags keep their ids

    new_spec = service_spec(port=9000)
    body = client.patch(f"{API}/{artifact['id']}", json={"spec": new_spec}).json()
    assert body["spec"]["containerGroups"][0]["containers"][0]["port"] == 9000
    assert body["name"] == "renamed"

    body = client.patch(f"{API}/{artifact['id']}", json={"tags": []}).json()
    assert body["tags"] == []
    body = client.patch(f"{API}/{artifact['id']}", json={"description": None}).json()
    assert body["description"] == ""
    assert client.patch(f"{API}/{artifact['id']}", json={"name": None}).status_code == 422
    # `type` is not a field of the update body: ignored, like any unknown field, and named.
    response = client.patch(f"{API}/{artifact['id']}", json={"type": "nim"})
    assert response.status_code == 200 and response.json()["type"] == "service"
    assert response.headers["warning"] == '299 - "ignored field type"'
    bad = service_spec()
    bad["containerGroups"][0]["containers"][0]["port"] = 1
    response = client.patch(f"{API}/{artifact['id']}", json={"spec": bad})
    assert response.json()["detail"][0]["loc"][:3] == ["body", "spec", "containerGroups"]


def test_put_replaces_every_field_but_keeps_omitted_tags(client: TestClient) -> None:
    artifact = create_artifact(client, description="old", tags=[{"name": "k", "value": "v"}])
    url = f"{API}/{artifact['id']}"
    response = client.put(url, json={"name": "new", "spec": service_spec(port=9000)})
    assert response.status_code == 200
    body = response.json()
    assert body["name"] == "new"
    assert body["description"] == ""
    assert body["tags"] == artifact["tags"]
    assert body["spec"]["containerGroups"][0]["containers"][0]["port"] == 9000
    same_repo = {"artifactRepositoryId": artifact["artifactRepositoryId"], "type": "service"}
    body = client.put(
        url, json={"name": "n", "spec": service_spec(), "status": "draft", "tags": [], **same_repo}
    ).json()
    assert body["tags"] == []

    for field, value in (
        ("status", "locked"),
        ("status", "registered"),
        ("artifactRepositoryId", "0" * 24),
    ):
        response = client.put(url, json={"name": "n", "spec": service_spec(), field: value})
        assert response.status_code == 422, field
        assert response.json()["detail"][0]["loc"] == ["body", field]
    response = client.put(url, json={"name": "n", "spec": service_spec(), "type": "nim"})
    assert response.json()["code"] == "type_not_supported"


def test_clone_makes_a_draft_in_the_same_repository(client: TestClient) -> None:
    source = create_artifact(client, description="d", tags=[{"name": "k", "value": "v"}])
    client.patch(f"{API}/{source['id']}", json={"status": "locked"})
    response = client.post(f"{API}/{source['id']}/clone", json={"name": "copy"})
    assert response.status_code == 200
    clone = response.json()
    assert clone["id"] != source["id"]
    assert clone["name"] == "copy"
    assert clone["status"] == "draft" and clone["version"] is None
    assert clone["artifactRepositoryId"] == source["artifactRepositoryId"]
    assert clone["spec"] == source["spec"]
    assert clone["description"] == "d"
    assert [(t["name"], t["value"]) for t in clone["tags"]] == [("k", "v")]
    assert clone["tags"][0]["id"] != source["tags"][0]["id"]
    # Drafts clone too.
    assert client.post(f"{API}/{clone['id']}/clone", json={"name": "again"}).status_code == 200
    assert client.post(f"{API}/{source['id']}/clone", json={}).status_code == 422
    missing = client.post(f"{API}/{'0' * 24}/clone", json={"name": "x"})
    assert missing.json()["code"] == "artifact_not_found"


def test_builds_are_not_implemented(client: TestClient) -> None:
    artifact = create_artifact(client)
    base = f"{API}/{artifact['id']}/builds"
    for method, url in (
        ("POST", base),
        ("GET", base),
        ("GET", f"{base}/b1"),
        ("GET", f"{base}/b1/logs"),
        ("GET", f"{base}/"),
    ):
        response = client.request(method, url)
        assert response.status_code == 501, url
        assert response.json()["code"] == "not_implemented"
    missing = client.get(f"{API}/{'0' * 24}/builds")
    assert missing.status_code == 404
    assert missing.json()["code"] == "artifact_not_found"


def test_old_paths_and_trailing_slashes(client: TestClient) -> None:
    old = "/api/v2/registry/artifacts"
    response = client.post(f"{old}/", json={"name": "old", "spec": service_spec()})
    assert response.status_code == 201
    artifact = response.json()
    assert client.get(f"{old}/{artifact['id']}/").json()["id"] == artifact["id"]
    assert client.get(f"{API}/{artifact['id']}/").json()["id"] == artifact["id"]
    response = client.patch(f"{old}/{artifact['id']}/", json={"status": "registered"})
    assert response.status_code == 200
    assert response.json()["status"] == "locked"
    assert response.json()["version"] == 1
    listed = client.get(f"{old}/", params={"status": "registered"}).json()
    assert [a["id"] for a in listed["data"]] == [artifact["id"]]
    repos = client.get("/api/v2/registry/artifactRepositories/").json()
    assert repos["totalCount"] == 1


def test_api_needs_a_token(anonymous: TestClient) -> None:
    response = anonymous.get(API)
    assert response.status_code == 401
    assert response.json()["code"] == "unauthorized"


def test_nul_characters_are_invalid_input(client: TestClient) -> None:
    artifact = create_artifact(client)
    for body in (
        {"name": "a\x00b", "spec": service_spec()},
        {"name": "a", "description": "\x00", "spec": service_spec()},
        {"name": "a", "spec": service_spec(), "tags": [{"name": "k", "value": "\x00"}]},
        {"name": "a", "spec": service_spec(), "artifactRepositoryId": "\x00"},
    ):
        response = client.post(API, json=body)
        assert response.status_code in (404, 422), body
    patch = client.patch(f"{API}/{artifact['id']}", json={"tags": [{"name": "\x00", "value": ""}]})
    assert patch.status_code == 422
    repository = f"/api/v2/artifactRepositories/{artifact['artifactRepositoryId']}"
    assert client.patch(repository, json={"description": "\x00"}).status_code == 422
    # Inside the spec, text is stored as JSON, where a NUL is just an escape.
    spec = service_spec()
    spec["containerGroups"][0]["containers"][0]["environmentVars"][0]["value"] = "a\x00b"
    created = client.post(API, json={"name": "nul", "spec": spec})
    assert created.status_code == 201
    variable = created.json()["spec"]["containerGroups"][0]["containers"][0]["environmentVars"][0]
    assert variable["value"] == "a\x00b"

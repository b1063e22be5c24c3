"""The hosted platform's Python client (`datarobot` on PyPI) against a real Dockyard, unchanged.

Each call is one the client's users and the tools built on it make (the paths relative to the
endpoint, the bodies as they send them); the client keeps its defaults: the `Token` scheme,
the `version/` handshake when it connects, errors raised as `ClientError` / `ServerError`.
"""

from __future__ import annotations

import time
from typing import Any

import datarobot as dr
import pytest
import yaml
from datarobot.errors import ClientError, ServerError
from datarobot.rest import RESTClientObject

from tests.compat.conftest import connect, wait_for
from tests.sdk.live_server import LiveServer, http_app_spec, unique

BUNDLE_FIELDS = {
    "id",
    "name",
    "description",
    "cpuCount",
    "memoryBytes",
    "gpuCount",
    "gpuMaker",
    "gpuTypeLabel",
}


# --- connecting ----------------------------------------------------------------------------


def test_connects_with_its_default_token_scheme_and_handshake(server: LiveServer) -> None:
    client = connect(server)  # raises unless `version/` answered a compatible version
    assert client.headers["Authorization"] == f"Token {server.token}"  # no scheme override
    assert dr.client.get_client() is client
    version = client.get("version/").json()
    assert version["major"] == 2 and version["versionString"] == "2.49"
    assert client.get("version").json() == version  # without the slash too


def test_a_wrong_token_fails_the_handshake_as_client_error(server: LiveServer) -> None:
    with pytest.raises(ClientError) as refused:
        connect(server, token="dy_not_a_token")
    assert refused.value.status_code == 401
    assert "Unable to authenticate" in str(refused.value)


def test_a_revoked_token_is_a_401_client_error(rest: RESTClientObject, server: LiveServer) -> None:
    created = rest.post("apiTokens", json={"name": unique("compat")}).json()
    other = connect(server, token=created["token"])
    assert other.get("workloads/").status_code == 200
    assert rest.delete(f"apiTokens/{created['id']}").status_code == 204

    # The revoking server forgets its cached check before it answers the DELETE; the loop
    # allows the second within which a server may still accept a revoked token.
    deadline = time.monotonic() + 2.0
    while True:
        try:
            other.get("workloads/")
        except ClientError as error:
            refused = error
            break
        assert time.monotonic() < deadline, "a revoked token still works after a second"
        time.sleep(0.05)
    assert refused.status_code == 401
    assert refused.json == {
        "message": "Invalid or revoked API token.",
        "code": "unauthorized",
        "detail": "Invalid or revoked API token.",
    }


# --- what the tools read ---------------------------------------------------------------------


@pytest.mark.parametrize("path", ["mlops/compute/bundles", "mlops/compute/bundles/"])
def test_the_bundle_catalog(rest: RESTClientObject, path: str) -> None:
    catalog = rest.get(path).json()
    assert catalog["count"] == catalog["totalCount"] == len(catalog["data"]) > 0
    assert all(set(bundle) == BUNDLE_FIELDS for bundle in catalog["data"])
    assert "cpu.small" in {bundle["id"] for bundle in catalog["data"]}


def test_the_openapi_yaml_names_the_reference_schemas(rest: RESTClientObject) -> None:
    spec = yaml.safe_load(rest.get("openapi.yaml").text)
    schemas = spec["components"]["schemas"]
    assert {"CreateWorkloadRequest", "WorkloadFormatted", "ArtifactFormatted"} <= set(schemas)
    assert "name" in schemas["CreateWorkloadRequest"]["properties"]
    assert any("/workloads" in path for path in spec["paths"])


# --- the registry ----------------------------------------------------------------------------


def _locked(rest: RESTClientObject, name: str, repository_id: str | None = None) -> dict:
    body: dict[str, Any] = {"name": name, "spec": http_app_spec()}
    if repository_id:
        body["artifactRepositoryId"] = repository_id
    draft = rest.post("artifacts/", json=body).json()
    locked = rest.patch(f"artifacts/{draft['id']}", json={"status": "locked"}).json()
    assert locked["status"] == "locked"
    return locked


def test_the_registry(rest: RESTClientObject) -> None:
    name = unique("compat-art")
    created = rest.post("artifacts/", json={"name": name, "spec": http_app_spec()})
    assert created.status_code == 201
    draft = created.json()
    assert draft["status"] == "draft" and draft["name"] == name
    artifact_id = draft["id"]

    listed = rest.get("artifacts/", params={"limit": 10, "offset": 0, "search": name}).json()
    assert [a["id"] for a in listed["data"]] == [artifact_id]
    assert listed["totalCount"] == 1 and listed["next"] is None
    assert rest.get(f"artifacts/{artifact_id}").json()["id"] == artifact_id

    patched = rest.patch(f"artifacts/{artifact_id}", json={"description": "through datarobot"})
    assert patched.json()["description"] == "through datarobot"
    replaced = rest.put(
        f"artifacts/{artifact_id}",
        json={"name": name, "description": "replaced", "spec": http_app_spec()},
    ).json()
    assert replaced["description"] == "replaced"

    clone = rest.post(f"artifacts/{artifact_id}/clone", json={"name": f"{name}-copy"}).json()
    assert clone["status"] == "draft" and clone["id"] != artifact_id
    assert rest.delete(f"artifacts/{clone['id']}").status_code == 204

    locked = rest.patch(f"artifacts/{artifact_id}", json={"status": "locked"}).json()
    assert locked["status"] == "locked" and locked["version"] == 1
    repository_id = locked["artifactRepositoryId"]

    repositories = rest.get("artifactRepositories", params={"limit": 100}).json()
    assert repository_id in {r["id"] for r in repositories["data"]}
    repository = rest.get(f"artifactRepositories/{repository_id}").json()
    assert repository["id"] == repository_id

    # Dockyard's refusals arrive as the client's ClientError, with Dockyard's body.
    with pytest.raises(ClientError) as conflict:
        rest.delete(f"artifacts/{artifact_id}")
    assert conflict.value.status_code == 409
    assert conflict.value.json["code"] == "artifact_locked"
    assert f"{{'message': {conflict.value.json['message']!r}" in str(conflict.value)

    with pytest.raises(ClientError) as missing:
        rest.get(f"artifacts/{'0' * 24}")
    assert missing.value.status_code == 404
    assert missing.value.json["code"] == "artifact_not_found"
    assert "does not exist" in str(missing.value)

    with pytest.raises(ClientError) as invalid:
        rest.post("artifacts/", json={"name": ""})
    assert invalid.value.status_code == 422
    assert invalid.value.json["code"] == "validation_error"
    assert invalid.value.json["detail"][0]["loc"][0] == "body"


def test_errors_of_routes_and_methods_are_client_errors(rest: RESTClientObject) -> None:
    with pytest.raises(ClientError) as unknown:
        rest.get("no/such/route/")
    assert unknown.value.status_code == 404
    assert unknown.value.json["code"] == "not_found"
    # The client put the parsed body in its message: it read the type as exactly JSON.
    assert "{'message': 'No such route.'" in str(unknown.value)

    with pytest.raises(ClientError) as method:
        rest.put("workloads/")
    assert method.value.status_code == 405
    assert method.value.json["code"] == "method_not_allowed"
    assert "{'message': 'PUT is not allowed on /api/v2/workloads.'" in str(method.value)


# --- a workload on the process runtime, from create to delete --------------------------------


def test_a_workload_from_create_to_delete(rest: RESTClientObject) -> None:
    v1 = _locked(rest, unique("compat-svc"))
    v2 = _locked(rest, unique("compat-svc"), repository_id=v1["artifactRepositoryId"])
    name = unique("compat-wl")
    # The body the tools build: one group sized by a bundle from the catalog.
    group = {"name": "default", "replicaCount": 1, "resourceBundles": ["cpu.small"]}
    body = {
        "name": name,
        "importance": "low",
        "artifactId": v1["id"],
        "runtime": {"containerGroups": [group]},
    }
    created = rest.post("workloads/", json=body)
    assert created.status_code == 201
    workload_id = created.json()["id"]
    assert created.json()["runtime"]["containerGroups"][0]["resolvedBundle"]["id"] == "cpu.small"

    def read() -> dict:
        return rest.get(f"workloads/{workload_id}").json()

    running = wait_for(read, lambda w: w["status"] == "running")
    listed = rest.get("workloads/", params={"limit": 10, "offset": 0, "search": name}).json()
    assert [w["id"] for w in listed["data"]] == [workload_id]

    # Invoke with the client's own Token header; the app's answers keep their own type.
    wait = {"X-Scale-Up-Timeout": "10"}
    answer = rest.get(running["endpoint"], headers=wait)
    assert answer.status_code == 200 and "Directory listing" in answer.text
    with pytest.raises(ClientError) as not_there:
        rest.get(running["endpoint"] + "no-such-file", headers=wait)
    assert not_there.value.status_code == 404
    assert not_there.value.json == {}  # the app's HTML page, not a Dockyard error
    assert "Error response" in str(not_there.value)
    with pytest.raises(ServerError) as unsupported:
        rest.post(running["endpoint"], json={"ping": 1}, headers=wait)
    assert unsupported.value.status_code == 501  # Python's http.server has no POST

    settings = rest.get(f"workloads/{workload_id}/settings").json()
    assert settings["runtime"]["containerGroups"][0]["resolvedBundle"]["id"] == "cpu.small"
    stats = rest.get(f"workloads/{workload_id}/stats").json()
    assert stats["metrics"]["totalRequests"] >= 0 and "period" in stats
    logs = rest.get(
        f"otel/workload/{workload_id}/logs/", params={"limit": 10, "offset": 0, "level": "info"}
    ).json()
    assert logs["count"] == len(logs["data"]) and logs["data"]
    assert all({"timestamp", "level", "message"} <= set(entry) for entry in logs["data"])

    # New settings roll out; then a replacement onto the next version.
    bigger = {**group, "resourceBundles": ["cpu.medium"]}
    rollout = rest.patch(
        f"workloads/{workload_id}/settings", json={"runtime": {"containerGroups": [bigger]}}
    )
    assert rollout.status_code == 202
    wait_for(
        lambda: rest.get(f"workloads/{workload_id}/settings").json(),
        lambda s: s["runtime"]["containerGroups"][0]["resolvedBundle"]["id"] == "cpu.medium",
    )
    wait_for(read, lambda w: w["status"] == "running" and not w["replacement"])
    replacement = rest.post(
        f"workloads/{workload_id}/replacement",
        json={"artifactId": v2["id"], "strategy": "rolling"},
    )
    assert replacement.status_code == 202
    assert rest.get(f"workloads/{workload_id}/replacement").status_code == 200
    wait_for(read, lambda w: w["artifactId"] == v2["id"] and w["status"] == "running")

    assert rest.post(f"workloads/{workload_id}/stop").status_code == 202
    wait_for(read, lambda w: w["status"] == "stopped")
    assert rest.delete(f"workloads/{workload_id}").status_code == 204
    with pytest.raises(ClientError) as gone:
        rest.get(f"workloads/{workload_id}")
    assert gone.value.status_code == 404
    assert gone.value.json["code"] == "workload_not_found"
    assert "does not exist" in str(gone.value)

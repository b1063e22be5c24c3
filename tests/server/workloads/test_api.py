"""The /workloads API: create, read, edit, start, stop, delete, and the rules of each."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.factories import create_artifact, create_user, service_spec
from tests.server.workloads.conftest import Fake, create_workload, events_of, status_of

API = "/api/v2"


def _lock(client: TestClient, artifact_id: str) -> None:
    response = client.patch(f"{API}/artifacts/{artifact_id}", json={"status": "locked"})
    assert response.status_code == 200, response.text


# --- create ----------------------------------------------------------------------------------


def test_create_from_an_existing_artifact(client: TestClient) -> None:
    artifact = create_artifact(client, "hello")
    body = create_workload(client, artifactId=artifact["id"], name="hi", importance="high")
    assert body["status"] == "submitted"
    assert body["name"] == "hi" and body["importance"] == "high"
    assert body["artifactId"] == artifact["id"]
    assert body["artifact"]["status"] == "draft"
    assert body["endpoint"].endswith(f"/api/v2/endpoints/workloads/{body['id']}/")
    assert body["protonId"]
    assert body["expiresAt"] is not None  # a draft's workload expires


def test_create_with_an_inline_artifact_makes_a_draft_and_its_repository(
    client: TestClient,
) -> None:
    body = create_workload(client, artifact={"name": "inline", "spec": service_spec()})
    assert body["name"] == "inline"  # default: the artifact's name
    artifact = client.get(f"{API}/artifacts/{body['artifactId']}").json()
    assert artifact["status"] == "draft"
    assert client.get(f"{API}/artifactRepositories/{artifact['artifactRepositoryId']}").is_success


@pytest.mark.parametrize("which", ["both", "neither"])
def test_create_needs_exactly_one_artifact(client: TestClient, which: str) -> None:
    body: dict[str, Any] = {"name": "x"}
    if which == "both":
        artifact = create_artifact(client)
        body |= {"artifactId": artifact["id"], "artifact": {"name": "a", "spec": service_spec()}}
    response = client.post(f"{API}/workloads", json=body)
    assert response.status_code == 422
    assert response.json()["code"] == "validation_error"


def test_create_on_a_missing_artifact_is_404(client: TestClient) -> None:
    for artifact_id in ("0" * 24, "not-an-id"):
        response = client.post(f"{API}/workloads", json={"artifactId": artifact_id})
        assert response.status_code == 404
        assert response.json()["code"] == "artifact_not_found"


def test_a_draft_backs_at_most_one_active_workload(client: TestClient, fake: Fake) -> None:
    artifact = create_artifact(client)
    first = create_workload(client, artifactId=artifact["id"])
    response = client.post(f"{API}/workloads", json={"artifactId": artifact["id"]})
    assert response.status_code == 409
    assert response.json()["code"] == "draft_artifact_in_use"
    assert response.json()["blockers"][0]["id"] == first["id"]
    # Once the first is stopped, a second may run; then the first cannot start again.
    assert client.post(f"{API}/workloads/{first['id']}/stop").status_code == 202
    fake.passes(2)
    assert status_of(client, first["id"]) == "stopped"
    second = create_workload(client, artifactId=artifact["id"])
    response = client.post(f"{API}/workloads/{first['id']}/start")
    assert response.status_code == 409
    assert response.json()["code"] == "draft_artifact_in_use"
    assert second["status"] == "submitted"


def test_a_locked_artifact_backs_any_number(client: TestClient) -> None:
    artifact = create_artifact(client)
    _lock(client, artifact["id"])
    bodies = [create_workload(client, artifactId=artifact["id"]) for _ in range(3)]
    assert all(body["expiresAt"] is None for body in bodies)


def _runtime_error(client: TestClient, runtime: dict) -> Any:
    artifact = create_artifact(client)
    return client.post(f"{API}/workloads", json={"artifactId": artifact["id"], "runtime": runtime})


@pytest.mark.parametrize(
    ("group", "loc_end"),
    [
        ({"name": "nope"}, ["containerGroups", 0, "name"]),
        (
            {"name": "default", "containers": [{"name": "ghost"}]},
            ["containerGroups", 0, "containers", 0, "name"],
        ),
        (
            {
                "name": "default",
                "containers": [{"name": "primary", "resourceAllocation": {"memory": "lots"}}],
            },
            ["containerGroups", 0, "containers", 0, "resourceAllocation", "memory"],
        ),
        ({"name": "default", "resourceBundles": ["gpu.huge"]}, ["containerGroups", 0]),
    ],
)
def test_runtime_must_fit_the_artifact(client: TestClient, group: dict, loc_end: list) -> None:
    response = _runtime_error(client, {"containerGroups": [group]})
    assert response.status_code == 422, response.text
    loc = response.json()["detail"][0]["loc"]
    assert loc[: 2 + len(loc_end)][2:] == loc_end or loc[2 : 2 + len(loc_end)] == loc_end


@pytest.mark.parametrize("memory", [536870912, "512MB", "512Mi", "1GiB", "1G", "256KB", "2Gi"])
def test_memory_accepts_bytes_and_units(client: TestClient, memory: Any) -> None:
    runtime = {
        "containerGroups": [
            {
                "name": "default",
                "replicaCount": 2,
                "containers": [{"name": "primary", "resourceAllocation": {"memory": memory}}],
            }
        ]
    }
    response = _runtime_error(client, runtime)
    assert response.status_code == 201, response.text
    assert response.json()["runtime"]["containerGroups"][0]["replicaCount"] == 2


def test_a_replica_count_out_of_range_is_422(client: TestClient) -> None:
    response = _runtime_error(client, {"containerGroups": [{"name": "default", "replicaCount": 0}]})
    assert response.status_code == 422


# --- read and edit ---------------------------------------------------------------------------


def test_get_patch_settings_and_old_paths(client: TestClient) -> None:
    body = create_workload(client, name="old", tags=[{"name": "team", "value": "a"}])
    for base in (f"{API}/workloads", f"{API}/console/workloads"):
        assert client.get(f"{base}/{body['id']}").json()["name"] == "old"
        assert client.get(f"{base}/{body['id']}/").status_code == 200
    response = client.patch(
        f"{API}/console/workloads/{body['id']}",
        json={"name": "new", "description": "d", "importance": "critical", "tags": []},
    )
    assert response.status_code == 200, response.text
    assert (response.json()["name"], response.json()["importance"]) == ("new", "critical")
    assert response.json()["tags"] == []
    assert response.json()["status"] == "submitted"  # in place, no restart
    # Runtime changes go through settings or a replacement: here the field is ignored, and named.
    response = client.patch(
        f"{API}/workloads/{body['id']}",
        json={"runtime": {"containerGroups": [{"replicaCount": 5}]}},
    )
    assert response.status_code == 200, response.text
    assert response.headers["warning"] == '299 - "ignored field runtime"'
    settings = client.get(f"{API}/workloads/{body['id']}/settings").json()
    assert settings == {"runtime": body["runtime"]}
    created = client.post(
        f"{API}/console/workloads", json={"artifact": {"name": "c", "spec": service_spec()}}
    )
    assert created.status_code == 201
    listed = client.get(f"{API}/console/workloads", params={"sort": "name"}).json()
    assert [w["name"] for w in listed["data"]] == ["c", "new"]


def test_unknown_workload_is_404_everywhere(client: TestClient) -> None:
    missing = "0" * 24
    for method, path in [
        ("GET", ""),
        ("PATCH", ""),
        ("DELETE", ""),
        ("POST", "/start"),
        ("POST", "/stop"),
        ("GET", "/settings"),
        ("GET", "/events"),
        ("GET", "/protons"),
        ("GET", "/related"),
        ("GET", "/logs"),
        ("GET", "/sharedRoles"),
    ]:
        response = client.request(
            method, f"{API}/workloads/{missing}{path}", json={} if method == "PATCH" else None
        )
        assert response.status_code == 404, (method, path, response.text)
        assert response.json()["code"] == "workload_not_found"
    assert client.get(f"{API}/workloads/nope").json()["code"] == "workload_not_found"


# --- start / stop / delete -------------------------------------------------------------------


def test_start_and_stop_rules(client: TestClient, fake: Fake) -> None:
    body = create_workload(client)
    path = f"{API}/workloads/{body['id']}"
    # Start while starting or running is a no-op 202.
    response = client.post(f"{path}/start")
    assert response.status_code == 202
    assert response.json()["workloadId"] == body["id"]
    assert response.json()["status"] == "Workload is already starting."
    fake.advance(3)
    assert status_of(client, body["id"]) == "running"
    response = client.post(f"{path}/start")
    assert (response.status_code, response.json()["status"]) == (
        202,
        "Workload is already running.",
    )
    assert status_of(client, body["id"]) == "running"
    # Stop goes through stopping; a start meanwhile is 409 workload_transitioning.
    response = client.post(f"{path}/stop")
    assert response.status_code == 202
    assert response.json()["status"] == "Workload is stopping."
    assert status_of(client, body["id"]) == "stopping"
    # A second stop is still a 202 (idempotent) and says it changed nothing.
    response = client.post(f"{path}/stop")
    assert (response.status_code, response.json()["status"]) == (
        202,
        "Workload is already stopping.",
    )
    response = client.post(f"{path}/start")
    assert response.status_code == 409
    assert response.json()["code"] == "workload_transitioning"
    fake.passes(2)
    assert status_of(client, body["id"]) == "stopped"
    response = client.post(f"{path}/stop")  # a no-op that says so
    assert (response.status_code, response.json()["status"]) == (
        202,
        "Workload is already stopped.",
    )
    assert status_of(client, body["id"]) == "stopped"
    # Start makes a new proton and runs again.
    assert client.post(f"{path}/start").status_code == 202
    assert status_of(client, body["id"]) == "submitted"
    fake.advance(3)
    assert status_of(client, body["id"]) == "running"
    protons = client.get(f"{path}/protons").json()["data"]
    assert [p["role"] for p in protons] == ["active", "retired"]
    kinds = [e["eventType"] for e in events_of(client, body["id"])]
    assert kinds.count("started") == 1 and kinds.count("stopped") == 1


def test_an_errored_workload_stops_to_stopped(client: TestClient, fake: Fake) -> None:
    from dockyard.server.runtimes.fake import FakeBehavior

    fake.runtime.script("broken:1", FakeBehavior(fail_to_start=True))
    spec = service_spec(image="broken:1")
    body = create_workload(client, artifact={"name": "b", "spec": spec})
    fake.advance(2000, step=20)
    assert status_of(client, body["id"]) == "errored"
    assert client.post(f"{API}/workloads/{body['id']}/stop").status_code == 202
    fake.passes(2)
    assert status_of(client, body["id"]) == "stopped"


def test_delete_then_404_and_the_artifact_stays(client: TestClient, fake: Fake) -> None:
    body = create_workload(client)
    fake.advance(3)
    proton_id = body["protonId"]
    assert fake.runtime.observe(proton_id)
    # While the workload exists, its artifact cannot be deleted.
    response = client.delete(f"{API}/artifacts/{body['artifactId']}")
    assert response.status_code == 409
    assert response.json()["code"] == "artifact_in_use"
    assert response.json()["blockers"][0]["id"] == body["id"]
    assert client.delete(f"{API}/workloads/{body['id']}").status_code == 204
    assert client.get(f"{API}/workloads/{body['id']}").status_code == 404
    assert client.delete(f"{API}/workloads/{body['id']}").status_code == 404
    assert client.get(f"{API}/artifacts/{body['artifactId']}").status_code == 200
    # The delete's nudge makes the reconciler remove what the workload left in the runtime.
    fake.app.state.reconciler.run_pending()
    assert fake.runtime.observe(proton_id) == []
    assert client.delete(f"{API}/artifacts/{body['artifactId']}").status_code == 204


# --- lists -----------------------------------------------------------------------------------


def test_list_filters_and_order(client: TestClient, fake: Fake) -> None:
    a = create_workload(client, name="alpha", importance="high", tags=[{"name": "t", "value": "1"}])
    locked = create_artifact(client, "locked-one")
    _lock(client, locked["id"])
    b = create_workload(client, artifactId=locked["id"], name="beta", description="Needle here")
    c = create_workload(client, name="gamma", importance="critical")
    client.post(f"{API}/workloads/{c['id']}/stop")
    fake.passes(2)

    def names(**params: Any) -> list[str]:
        response = client.get(f"{API}/workloads", params=params)
        assert response.status_code == 200, response.text
        return [w["name"] for w in response.json()["data"]]

    assert names() == ["gamma", "beta", "alpha"]  # -createdAt
    assert names(orderBy="name") == ["alpha", "beta", "gamma"]
    assert names(orderBy="-importance") == ["gamma", "alpha", "beta"]  # by rank
    assert names(orderBy="importance") == ["beta", "alpha", "gamma"]
    assert names(status="stopped") == ["gamma"]
    assert names(status="stopped,launching,running,provisioning,submitted") == names()
    assert names(status="suspended") == []
    assert client.get(f"{API}/workloads", params={"status": "sleepy"}).status_code == 422
    assert names(artifactStatus="locked") == ["beta"]
    assert names(artifactStatus="registered") == ["beta"]
    assert sorted(names(artifactStatus="draft")) == ["alpha", "gamma"]
    assert names(importance=["high", "critical"]) == ["gamma", "alpha"]
    assert client.get(f"{API}/workloads", params={"importance": "huge"}).status_code == 422
    assert names(search="NEEDLE") == ["beta"]
    assert names(search="alp") == ["alpha"]
    assert names(ids=f"{a['id']},{b['id']}") == ["beta", "alpha"]
    assert names(ids=[a["id"], c["id"]]) == ["gamma", "alpha"]
    assert names(tagKeys="t") == ["alpha"]
    assert names(tagValues="2") == []
    assert names(artifactId=locked["id"]) == ["beta"]
    assert client.get(f"{API}/workloads", params={"orderBy": "size"}).status_code == 422
    page = client.get(f"{API}/workloads", params={"limit": 2}).json()
    assert (page["count"], page["totalCount"]) == (2, 3)
    assert page["next"] is not None and page["previous"] is None
    assert client.get(f"{API}/workloads", params={"limit": 0}).status_code == 422


# --- details ---------------------------------------------------------------------------------


def test_events_protons_status_details_and_related(client: TestClient, fake: Fake) -> None:
    body = create_workload(client)
    path = f"{API}/workloads/{body['id']}"
    protons = client.get(f"{path}/protons").json()
    assert protons["totalCount"] == 1
    proton = protons["data"][0]
    assert proton["id"] == body["protonId"] and proton["role"] == "active"
    assert client.get(f"{path}/protons/{proton['id']}").json()["id"] == proton["id"]
    assert client.get(f"{path}/protons/{'0' * 24}").json()["code"] == "proton_not_found"
    # Before the reconciler recorded anything: 204.
    details = client.get(f"{path}/protons/{proton['id']}/statusDetails")
    assert details.status_code == 204
    fake.advance(3)
    details = client.get(f"{path}/protons/{proton['id']}/statusDetails")
    assert details.status_code == 200
    snapshot = details.json()
    assert snapshot["overallStatus"]["state"] == "running"
    assert [r["name"] for r in snapshot["replicas"]] == ["default-0"]
    assert snapshot["replicas"][0]["status"] == "running"
    events = events_of(client, body["id"])
    times = [e["timestamp"] for e in events]
    assert times == sorted(times, reverse=True)  # newest first
    assert events[-1]["eventType"] == "created"
    assert {"replica_started", "replica_ready", "status_changed"} <= {
        e["eventType"] for e in events
    }
    related = client.get(f"{path}/related").json()
    assert {item["type"] for item in related["data"]} >= {"artifact", "proton"}


# --- sharing ---------------------------------------------------------------------------------


def test_another_user_gets_404_until_shared_then_403_for_changes(client: TestClient) -> None:
    body = create_workload(client)
    path = f"{API}/workloads/{body['id']}"
    other = create_user(client)
    stranger: TestClient = other["client"]
    assert stranger.get(path).status_code == 404
    assert stranger.post(f"{path}/stop").status_code == 404
    assert body["id"] not in [w["id"] for w in stranger.get(f"{API}/workloads").json()["data"]]
    grant = {"shareRecipientType": "user", "role": "CONSUMER", "id": other["user"]["id"]}
    response = client.patch(
        f"{path}/sharedRoles", json={"operation": "updateRoles", "roles": [grant]}
    )
    assert response.status_code == 204, response.text
    assert stranger.get(path).status_code == 200
    assert [w["id"] for w in stranger.get(f"{API}/workloads").json()["data"]] == [body["id"]]
    for method, suffix in [("POST", "/stop"), ("POST", "/start"), ("DELETE", "")]:
        response = stranger.request(method, f"{path}{suffix}")
        assert response.status_code == 403, (method, suffix)
    response = stranger.patch(path, json={"name": "mine"})
    assert response.status_code == 403

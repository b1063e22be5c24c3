"""Fields the hosted API defines are kept and echoed; replicaCount at the top of a runtime."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.factories import create_user
from tests.server.workloads.conftest import Fake, create_workload, fast_spec, status_of

API = "/api/v2"

RUNTIME = {
    "enclaveSelectionPolicy": "manual",
    "enclaves": ["eu-west"],
    "containerGroups": [
        {
            "name": "default",
            "replicaCount": 1,
            "containers": [
                {
                    "name": "primary",
                    "resourceAllocation": {"cpu": 1, "memory": "1GB", "gpu": 1, "gpuMemory": "8GB"},
                    "resourceRequest": {"cpu": 0.25, "memory": "256MB"},
                }
            ],
        }
    ],
}


def _two_group_spec() -> dict[str, Any]:
    spec = fast_spec()
    second = copy.deepcopy(spec["containerGroups"][0])
    second["name"] = "worker"
    spec["containerGroups"].append(second)
    return spec


def test_reference_fields_are_stored_and_echoed(client: TestClient) -> None:
    spec = fast_spec()
    spec["containerGroups"][0]["containers"][0]["readinessProbe"]["successThreshold"] = 2
    created = create_workload(
        client,
        artifact={"name": "a", "spec": spec},
        runtime=RUNTIME,
        useCaseId="65f1c0ffee0000000000abcd",
    )
    for body in (created, client.get(f"{API}/workloads/{created['id']}").json()):
        assert body["useCaseId"] == "65f1c0ffee0000000000abcd"
        runtime = body["runtime"]
        assert runtime["enclaveSelectionPolicy"] == "manual"
        assert runtime["enclaves"] == ["eu-west"]
        container = runtime["containerGroups"][0]["containers"][0]
        assert container["resourceAllocation"]["gpu"] == 1
        assert container["resourceAllocation"]["gpuMemory"] == "8GB"
        assert container["resourceRequest"] == {"cpu": 0.25, "memory": "256MB"}
    settings = client.get(f"{API}/workloads/{created['id']}/settings").json()
    assert settings["runtime"]["enclaves"] == ["eu-west"]
    artifact = client.get(f"{API}/artifacts/{created['artifactId']}").json()
    probe = artifact["spec"]["containerGroups"][0]["containers"][0]["readinessProbe"]
    assert probe["successThreshold"] == 2


def test_fields_with_nothing_to_say_are_null(client: TestClient) -> None:
    body = create_workload(client)
    assert body["useCaseId"] is None and body["requestStats"] is None
    assert body["replacement"] is None
    assert body["runtime"]["enclaves"] is None


def test_a_resource_request_with_bad_memory_is_422(client: TestClient) -> None:
    runtime = copy.deepcopy(RUNTIME)
    runtime["containerGroups"][0]["containers"][0]["resourceRequest"]["memory"] = "lots"
    response = client.post(
        f"{API}/workloads",
        json={"artifact": {"name": "a", "spec": fast_spec()}, "runtime": runtime},
    )
    assert response.status_code == 422
    loc = ["body", "runtime", "containerGroups", 0, "containers", 0, "resourceRequest", "memory"]
    assert response.json()["detail"][0]["loc"] == loc


def test_an_artifact_container_keeps_its_resource_request(client: TestClient) -> None:
    # The hosted platform's tools size the artifact's own containers with resourceRequest.
    spec = fast_spec()
    spec["containerGroups"][0]["containers"][0]["resourceRequest"] = {"cpu": 0.5, "memory": "1GB"}
    created = client.post(f"{API}/artifacts", json={"name": "sized", "spec": spec})
    assert created.status_code == 201 and "warning" not in created.headers
    container = created.json()["spec"]["containerGroups"][0]["containers"][0]
    assert container["resourceRequest"] == {"cpu": 0.5, "memory": "1GB"}
    spec["containerGroups"][0]["containers"][0]["resourceRequest"]["memory"] = "lots"
    refused = client.post(f"{API}/artifacts", json={"name": "bad", "spec": spec})
    assert refused.status_code == 422
    assert refused.json()["detail"][0]["loc"][-2:] == ["resourceRequest", "memory"]


def test_top_level_replica_count_sizes_the_only_group(client: TestClient, fake: Fake) -> None:
    body = create_workload(client, runtime={"replicaCount": 3})
    fake.advance(3)
    assert status_of(client, body["id"]) == "running"
    shown = client.get(f"{API}/workloads/{body['id']}").json()
    assert len(fake.runtime.observe(shown["protonId"])) == 3
    assert shown["runtime"]["replicaCount"] == 3
    assert shown["runtime"]["containerGroups"][0] == {
        **shown["runtime"]["containerGroups"][0],
        "name": "default",
        "replicaCount": 3,
    }


def test_top_level_replica_count_in_a_settings_rollout(client: TestClient, fake: Fake) -> None:
    body = create_workload(client)
    fake.advance(3)
    response = client.patch(
        f"{API}/workloads/{body['id']}/settings",
        json={"runtime": {"replicaCount": 2, "containerGroups": [{"name": "default"}]}},
    )
    assert response.status_code == 202, response.text
    fake.advance(3)
    shown = client.get(f"{API}/workloads/{body['id']}").json()
    assert len(fake.runtime.observe(shown["protonId"])) == 2


_AUTOSCALING = {
    "maxReplicaCount": 3,
    "policies": [{"scalingMetric": "httpRequestsConcurrency", "target": 4}],
}


@pytest.mark.parametrize(
    ("spec", "runtime"),
    [
        (_two_group_spec(), {"replicaCount": 2}),
        (fast_spec(), {"replicaCount": 2, "containerGroups": [{"replicaCount": 3}]}),
        (
            fast_spec(),
            {"replicaCount": 2, "containerGroups": [{"autoscaling": _AUTOSCALING}]},
        ),
    ],
    ids=["several-groups", "disagrees-with-the-group", "with-autoscaling"],
)
def test_top_level_replica_count_is_refused_where_it_is_ambiguous(
    client: TestClient, spec: dict[str, Any], runtime: dict[str, Any]
) -> None:
    response = client.post(
        f"{API}/workloads", json={"artifact": {"name": "a", "spec": spec}, "runtime": runtime}
    )
    assert response.status_code == 422, response.text
    assert response.json()["detail"][0]["loc"] == ["body", "runtime", "replicaCount"]


def test_replacements_history_and_protons_name_their_creator(
    client: TestClient, fake: Fake
) -> None:
    someone = create_user(client)
    body = create_workload(client)
    fake.advance(3)
    client.patch(
        f"{API}/workloads/{body['id']}/sharedRoles",
        json={
            "operation": "updateRoles",
            "roles": [
                {"shareRecipientType": "user", "id": someone["user"]["id"], "role": "EDITOR"}
            ],
        },
    )
    runtime = {"containerGroups": [{"name": "default", "replicaCount": 2}]}
    started = someone["client"].patch(
        f"{API}/workloads/{body['id']}/settings", json={"runtime": runtime}
    )
    assert started.status_code == 202, started.text
    assert started.json()["creator"]["id"] == someone["user"]["id"]
    assert started.json()["creator"]["username"] == someone["user"]["username"]
    history = client.get(f"{API}/workloads/{body['id']}/history").json()["data"]
    assert [entry["creator"]["id"] for entry in history] == [someone["user"]["id"]]
    protons = client.get(f"{API}/workloads/{body['id']}/protons").json()["data"]
    made_by = {p["id"]: p["creator"]["id"] for p in protons}
    assert made_by[body["protonId"]] == body["creator"]["id"]
    assert made_by[started.json()["candidateProtonIds"][0]] == someone["user"]["id"]


def test_related_items_carry_dates_creator_and_permissions(client: TestClient) -> None:
    body = create_workload(client)
    items = {
        item["type"]: item
        for item in client.get(f"{API}/workloads/{body['id']}/related").json()["data"]
    }
    artifact = items["artifact"]
    assert artifact["createdAt"] and artifact["updatedAt"]
    assert artifact["creator"]["id"] == body["creator"]["id"]
    assert "CAN_VIEW" in artifact["permissions"]
    repository = items["artifact_repository"]
    assert repository["name"] == "app" and repository["createdAt"]
    assert items["proton"]["createdAt"]


def test_service_stats_add_a_request_summary(client: TestClient) -> None:
    body = create_workload(client)
    listed = client.get(f"{API}/workloads", params={"serviceStats": "true"}).json()["data"]
    summary = next(w for w in listed if w["id"] == body["id"])["requestStats"]
    assert summary["totalRequests"] == 0 and len(summary["requestRates"]) == 7
    plain = client.get(f"{API}/workloads").json()["data"]
    assert next(w for w in plain if w["id"] == body["id"])["requestStats"] is None

"""The bundle catalog and `resolvedBundle` on each runtime group (decisions §12)."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from dockyard.core.bundles import CATALOG
from dockyard.core.spec import stored_spec
from dockyard.core.workloads import WorkloadRuntime
from dockyard.server.runtimes.proton_spec import build_proton_spec
from tests.factories import service_spec

API = "/api/v2"
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
SMALL = {
    "id": "cpu.small",
    "name": "CPU small",
    "description": "Half a CPU core and 512 MB of memory.",
    "cpuCount": 0.5,
    "memoryBytes": 512_000_000,
    "gpuCount": 0,
    "gpuMaker": None,
    "gpuTypeLabel": None,
}


@pytest.mark.parametrize("path", ["/mlops/compute/bundles", "/mlops/compute/bundles/"])
def test_the_catalog_is_a_list_envelope(client: TestClient, path: str) -> None:
    response = client.get(API + path)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["count"] == body["totalCount"] == len(CATALOG) == 3
    assert body["next"] is None and body["previous"] is None
    assert [b["id"] for b in body["data"]] == ["cpu.small", "cpu.medium", "cpu.large"]
    assert all(set(b) == BUNDLE_FIELDS for b in body["data"])
    assert body["data"][0] == SMALL


def test_the_catalog_pages_and_needs_a_token(client: TestClient, anonymous: TestClient) -> None:
    body = client.get(f"{API}/mlops/compute/bundles", params={"offset": 1, "limit": 1}).json()
    assert [b["id"] for b in body["data"]] == ["cpu.medium"]
    assert body["next"].endswith("/api/v2/mlops/compute/bundles?offset=2&limit=1")
    assert body["previous"].endswith("offset=0&limit=1")
    assert client.get(f"{API}/mlops/compute/bundles", params={"limit": 0}).status_code == 422
    assert anonymous.get(f"{API}/mlops/compute/bundles").status_code == 401


def _create(client: TestClient, runtime: dict) -> dict:
    body = {"name": "svc", "artifact": {"name": "svc", "spec": service_spec()}, "runtime": runtime}
    response = client.post(f"{API}/workloads", json=body)
    assert response.status_code == 201, response.text
    return response.json()


def test_each_runtime_group_shows_its_resolved_bundle(client: TestClient) -> None:
    # An unknown preference is refused at create, so the first entry is the one used.
    runtime = {"containerGroups": [{"name": "default", "resourceBundles": ["cpu.small"]}]}
    workload = _create(client, runtime)
    assert workload["runtime"]["containerGroups"][0]["resolvedBundle"] == SMALL
    fetched = client.get(f"{API}/workloads/{workload['id']}").json()
    assert fetched["runtime"]["containerGroups"][0]["resolvedBundle"] == SMALL
    settings = client.get(f"{API}/workloads/{workload['id']}/settings").json()
    assert settings["runtime"]["containerGroups"][0]["resolvedBundle"] == SMALL
    proton = client.get(f"{API}/workloads/{workload['id']}/protons/{workload['protonId']}").json()
    assert proton["runtime"]["containerGroups"][0]["resolvedBundle"] == SMALL
    listed = client.get(f"{API}/workloads").json()["data"][0]
    assert listed["runtime"]["containerGroups"][0]["resolvedBundle"] == SMALL


def test_a_group_without_bundles_has_a_null_one(client: TestClient) -> None:
    workload = _create(client, {"containerGroups": [{"name": "default", "replicaCount": 1}]})
    assert workload["runtime"]["containerGroups"][0]["resolvedBundle"] is None


@pytest.mark.parametrize(
    ("overlay", "expected"),
    [
        ({"resourceBundles": ["cpu.large"]}, (2.0, 4_000_000_000)),
        # A container's own allocation overrides the bundle's part it names.
        (
            {
                "resourceBundles": ["cpu.large"],
                "containers": [{"name": "primary", "resourceAllocation": {"cpu": 0.25}}],
            },
            (0.25, 4_000_000_000),
        ),
        ({}, (None, None)),
    ],
)
def test_the_bundle_sizes_the_containers(overlay: dict, expected: tuple) -> None:
    spec = service_spec()
    built = build_proton_spec(
        instance_id="i",
        workload_id="w",
        proton_id="p",
        spec=stored_spec(spec),
        runtime=WorkloadRuntime.model_validate(
            {"containerGroups": [{"name": "default", **overlay}]}
        ),
        platform_env={},
        secrets=lambda credential, key: None,
    )
    container = built.groups[0].containers[0]
    assert (container.cpu, container.memory) == expected


def test_a_resolved_bundle_sent_back_is_ignored(client: TestClient) -> None:
    """Clients echo a response back as a request: the read-only field is recomputed."""
    forged = {**SMALL, "id": "cpu.huge", "cpuCount": 64}
    runtime = {
        "containerGroups": [
            {"name": "default", "resourceBundles": ["cpu.medium"], "resolvedBundle": forged}
        ]
    }
    workload = _create(client, runtime)
    assert workload["runtime"]["containerGroups"][0]["resolvedBundle"]["id"] == "cpu.medium"
    for sent in (forged, "cpu.huge", 7):
        response = client.patch(
            f"{API}/workloads/{workload['id']}/settings",
            json={"runtime": {"containerGroups": [{"name": "default", "resolvedBundle": sent}]}},
        )
        assert response.status_code == 202, response.text
        assert response.json()["runtime"]["containerGroups"][0]["resolvedBundle"] is None
        client.delete(f"{API}/workloads/{workload['id']}/replacement")


def test_an_unknown_bundle_is_422_listing_the_catalog(client: TestClient) -> None:
    body = {
        "name": "svc",
        "artifact": {"name": "svc", "spec": service_spec()},
        "runtime": {"containerGroups": [{"name": "default", "resourceBundles": ["gpu.l4"]}]},
    }
    response = client.post(f"{API}/workloads", json=body)
    assert response.status_code == 422
    issue = response.json()["detail"][0]
    assert issue["loc"] == ["body", "runtime", "containerGroups", 0, "resourceBundles", 0]
    assert "cpu.small, cpu.medium, cpu.large" in issue["msg"]

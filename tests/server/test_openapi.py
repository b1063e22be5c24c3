"""The served OpenAPI document: the reference's schema names, and the same document as YAML."""

from __future__ import annotations

from typing import Any

import pytest
import yaml
from fastapi.testclient import TestClient

from dockyard.server.openapi import REFERENCE_NAMES

# The reference's names for the schemas it names, as tools look them up.
REFERENCE_SCHEMAS = [
    "ArtifactCloneRequest",
    "ArtifactFormatted",
    "ArtifactInfoFormatted",
    "ArtifactListResponse",
    "ArtifactRepositoryFormatted",
    "ArtifactRepositoryListResponse",
    "ContainerOverride",
    "CreateWorkloadRequest",
    "GroupRuntime",
    "InputArtifact",
    "ProbeConfig",
    "ProtonFormatted",
    "ProtonListResponse",
    "ProtonRequestMetricOverTime",
    "ProtonRequestStats",
    "ProtonStatusDetailsPublic",
    "RelatedEntitiesResponse",
    "Replacement",
    "ReplacementConfig",
    "ReplacementHistoryListResponse",
    "ReplicaStatusesSnapshot",
    "ResolvedBundle",
    "ResourceAllocation",
    "ServiceArtifactSpec",
    "SharedRoleListResponse",
    "SharedRolesUpdateRequest",
    "StartReplacementRequest",
    "UpdateArtifactRequest",
    "UpdateWorkloadRequest",
    "UserData",
    "WorkloadEvent",
    "WorkloadEventsResponse",
    "WorkloadFormatted",
    "WorkloadListResponse",
    "WorkloadOperationResponse",
    "WorkloadRuntime",
    "WorkloadSettingsResponse",
    "WorkloadStatsResponse",
]


@pytest.fixture
def document(anonymous: TestClient) -> dict[str, Any]:
    response = anonymous.get("/api/v2/openapi.json")
    assert response.status_code == 200
    return response.json()


def _refs(node: Any) -> list[str]:
    if isinstance(node, dict):
        found = [node["$ref"]] if isinstance(node.get("$ref"), str) else []
        return found + [ref for value in node.values() for ref in _refs(value)]
    if isinstance(node, list):
        return [ref for value in node for ref in _refs(value)]
    return []


def test_schemas_carry_the_reference_names(document: dict[str, Any]) -> None:
    schemas = document["components"]["schemas"]
    missing = [name for name in REFERENCE_SCHEMAS if name not in schemas]
    assert missing == []
    # Dockyard's own class names are gone where the reference has a name, titles follow.
    assert not set(REFERENCE_NAMES) & set(schemas)
    for name in REFERENCE_NAMES.values():
        assert schemas[name]["title"] == name
    assert "name" in schemas["CreateWorkloadRequest"]["properties"]


def test_every_reference_resolves(document: dict[str, Any]) -> None:
    schemas = document["components"]["schemas"]
    refs = _refs(document["paths"]) + _refs(schemas)
    assert refs
    dangling = {ref for ref in refs if ref.removeprefix("#/components/schemas/") not in schemas}
    assert dangling == set()


def test_operations_use_the_reference_names(document: dict[str, Any]) -> None:
    create = document["paths"]["/api/v2/workloads"]["post"]
    body = create["requestBody"]["content"]["application/json"]["schema"]
    assert body == {"$ref": "#/components/schemas/CreateWorkloadRequest"}
    answer = create["responses"]["201"]["content"]["application/json"]["schema"]
    assert answer == {"$ref": "#/components/schemas/WorkloadFormatted"}
    group = document["components"]["schemas"]["GroupRuntime"]["properties"]["resolvedBundle"]
    assert {"$ref": "#/components/schemas/ResolvedBundle"} in group["anyOf"]


@pytest.mark.parametrize("path", ["/api/v2/openapi.yaml", "/api/v2/openapi.yaml/"])
def test_yaml_is_the_same_document(
    anonymous: TestClient, document: dict[str, Any], path: str
) -> None:
    response = anonymous.get(path)  # open, like the JSON form
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/yaml; charset=utf-8"
    assert yaml.safe_load(response.text) == document
    assert anonymous.get(path).content == response.content

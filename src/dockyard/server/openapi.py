"""The served OpenAPI document: the reference's schema names, the token forms, a YAML copy.

Tools built for the hosted Workload API read its document by schema name
(`CreateWorkloadRequest`, `WorkloadFormatted`, …) and fetch it as `/api/v2/openapi.yaml`.
Dockyard's Python classes keep their own names (`WorkloadCreate`, `Workload`); the document
is renamed once, when first built, so both the JSON and the YAML form carry the reference's
names wherever the reference names a schema.
"""

from __future__ import annotations

from typing import Any

import yaml
from fastapi import FastAPI
from fastapi.responses import Response

from dockyard.server.kit.auth import API_KEY_HEADER

# Dockyard's component name → the reference's, for every schema the reference names.
REFERENCE_NAMES: dict[str, str] = {
    "Artifact": "ArtifactFormatted",
    "ArtifactClone": "ArtifactCloneRequest",
    "ArtifactCreate": "InputArtifact",
    "ArtifactInfo": "ArtifactInfoFormatted",
    "ArtifactRepository": "ArtifactRepositoryFormatted",
    "ArtifactUpdate": "UpdateArtifactRequest",
    "Bundle": "ResolvedBundle",
    "Page_Artifact_": "ArtifactListResponse",
    "Page_ArtifactRepository_": "ArtifactRepositoryListResponse",
    "Page_Proton_": "ProtonListResponse",
    "Page_Replacement_": "ReplacementHistoryListResponse",
    "Page_SharedRole_": "SharedRoleListResponse",
    "Page_Workload_": "WorkloadListResponse",
    "Page_WorkloadEvent_": "WorkloadEventsResponse",
    "Proton": "ProtonFormatted",
    "ProtonStatusDetails": "ProtonStatusDetailsPublic",
    "RelatedEntities": "RelatedEntitiesResponse",
    "ReplacementCreate": "StartReplacementRequest",
    "SharedRolesUpdate": "SharedRolesUpdateRequest",
    "Workload": "WorkloadFormatted",
    "WorkloadCreate": "CreateWorkloadRequest",
    "WorkloadOperation": "WorkloadOperationResponse",
    "WorkloadSettings": "WorkloadSettingsResponse",
    "WorkloadUpdate": "UpdateWorkloadRequest",
}

_REF_PREFIX = "#/components/schemas/"
API_KEY_SCHEME = "ApiKeyHeader"
YAML_MEDIA_TYPE = "application/yaml; charset=utf-8"


def with_reference_names(document: dict[str, Any]) -> dict[str, Any]:
    """Rename the document's schemas (keys, titles and every `$ref`) in place."""
    schemas: dict[str, Any] = document.get("components", {}).get("schemas", {})
    renamed: dict[str, Any] = {}
    for name, schema in schemas.items():
        new = REFERENCE_NAMES.get(name, name)
        if new != name and isinstance(schema, dict):
            schema["title"] = new
        renamed[new] = schema
    if schemas:
        document["components"]["schemas"] = dict(sorted(renamed.items()))
    _rewrite_refs(document)
    return document


def _rewrite_refs(node: Any) -> None:
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith(_REF_PREFIX):
            name = ref[len(_REF_PREFIX) :]
            node["$ref"] = _REF_PREFIX + REFERENCE_NAMES.get(name, name)
        for value in node.values():
            _rewrite_refs(value)
    elif isinstance(node, list):
        for value in node:
            _rewrite_refs(value)


def with_api_key_scheme(document: dict[str, Any]) -> dict[str, Any]:
    """Document `x-datarobot-api-key` as an alternative wherever the bearer token is asked.

    (`Authorization: Token <t>` needs no entry: OpenAPI has no way to name a custom scheme of
    the Authorization header, so the bearer scheme's description says it.)
    """
    components = document.setdefault("components", {})
    schemes = components.setdefault("securitySchemes", {})
    if not schemes:
        return document
    schemes[API_KEY_SCHEME] = {
        "type": "apiKey",
        "in": "header",
        "name": API_KEY_HEADER,
        "description": "The same API token, read when the request has no Authorization header.",
    }
    for operations in document.get("paths", {}).values():
        for operation in operations.values():
            security = operation.get("security") if isinstance(operation, dict) else None
            if security and {API_KEY_SCHEME: []} not in security:
                security.append({API_KEY_SCHEME: []})
    return document


def install_openapi(app: FastAPI, yaml_url: str) -> None:
    """Serve the renamed document as JSON (FastAPI's own route) and as YAML at `yaml_url`."""
    build = app.openapi  # FastAPI's builder: caches its result in app.openapi_schema

    def document() -> dict[str, Any]:
        if app.openapi_schema is None:
            # Both steps change the document in place: the cached one is the finished one.
            return with_api_key_scheme(with_reference_names(build()))
        return app.openapi_schema

    # FastAPI's documented way to customise the document; mypy refuses any method assignment.
    app.openapi = document  # type: ignore[method-assign]
    cached: list[bytes] = []

    def openapi_yaml() -> Response:  # sync: the first dump takes a while, off the event loop
        if not cached:
            text = yaml.safe_dump(document(), sort_keys=False, allow_unicode=True)
            cached.append(text.encode("utf-8"))
        return Response(cached[0], media_type=YAML_MEDIA_TYPE)

    app.add_api_route(yaml_url, openapi_yaml, methods=["GET"], include_in_schema=False)

"""Unknown fields in request bodies: ignored as the hosted API does, and named in `Warning`."""

from __future__ import annotations

import json
import re

from fastapi.testclient import TestClient

from dockyard.server.kit.ignored_fields import MAX_LISTED
from tests.factories import service_spec

ENTRY = re.compile(r'299 - ("(?:[^"\\]|\\.)*")')


def ignored(response) -> list[str]:  # type: ignore[no-untyped-def]
    """The texts of the answer's Warning entries, unescaped."""
    return [json.loads(text) for text in ENTRY.findall(response.headers.get("warning", ""))]


def test_an_unknown_field_at_any_depth_is_ignored_named_and_not_stored(
    client: TestClient,
) -> None:
    spec = service_spec()
    spec["containerGroups"][0]["containers"][0]["imagUri"] = "typo"
    spec["containerGroups"][0]["containers"][0]["readinessProbe"]["grace"] = 5
    response = client.post("/api/v2/artifacts", json={"name": "x", "spec": spec, "colour": "blue"})
    assert response.status_code == 201, response.text
    assert ignored(response) == [
        "ignored field colour",
        "ignored field spec.containerGroups[0].containers[0].imagUri",
        "ignored field spec.containerGroups[0].containers[0].readinessProbe.grace",
    ]
    stored = client.get(f"/api/v2/artifacts/{response.json()['id']}").json()
    container = stored["spec"]["containerGroups"][0]["containers"][0]
    assert "imagUri" not in container and "grace" not in container["readinessProbe"]
    assert "colour" not in stored


def test_an_inline_artifact_is_named_from_the_workload_body(client: TestClient) -> None:
    spec = service_spec()
    spec["containerGroups"][0]["extraGroupField"] = 1
    response = client.post(
        "/api/v2/workloads",
        json={
            "name": "w",
            "artifact": {"name": "a", "spec": spec, "note": "x"},
            "runtime": {"containerGroups": [{"name": "default", "priorityClass": "x"}]},
        },
    )
    assert response.status_code == 201, response.text
    assert sorted(ignored(response)) == [
        "ignored field artifact.note",
        "ignored field artifact.spec.containerGroups[0].extraGroupField",
        "ignored field runtime.containerGroups[0].priorityClass",
    ]


def test_a_body_without_unknown_fields_has_no_warning(client: TestClient) -> None:
    response = client.post("/api/v2/artifacts", json={"name": "x", "spec": service_spec()})
    assert response.status_code == 201
    assert "warning" not in response.headers


def test_patch_bodies_tolerate_unknown_fields_too(client: TestClient) -> None:
    created = client.post("/api/v2/artifacts", json={"name": "x", "spec": service_spec()}).json()
    response = client.patch(
        f"/api/v2/artifacts/{created['id']}", json={"description": "new", "descripton": "typo"}
    )
    assert response.status_code == 200, response.text
    assert response.json()["description"] == "new"
    assert ignored(response) == ["ignored field descripton"]


def test_names_are_escaped_and_at_most_ten_are_listed(client: TestClient) -> None:
    odd = 'a"b\\c\u00e9\n'
    body = {"name": "x", "spec": service_spec(), odd: 1}
    body |= {f"extra{n:02}": n for n in range(MAX_LISTED + 2)}
    response = client.post("/api/v2/artifacts", json=body)
    assert response.status_code == 201, response.text
    header = response.headers["warning"]
    assert header.isascii() and "\n" not in header
    texts = ignored(response)
    assert texts[0] == f"ignored field {odd}"
    assert len(texts) == MAX_LISTED + 1
    assert texts[-1] == "3 more ignored fields"


def test_a_body_that_fails_validation_is_still_422(client: TestClient) -> None:
    response = client.post("/api/v2/artifacts", json={"spec": service_spec(), "extra": 1})
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "name"]


def test_the_openapi_document_does_not_forbid_extra_fields(client: TestClient) -> None:
    document = client.get("/api/v2/openapi.json").json()
    forbidding = [
        name
        for name, schema in document["components"]["schemas"].items()
        if schema.get("additionalProperties") is False
    ]
    assert forbidding == []

"""Every error Dockyard answers itself is the JSON body, typed exactly application/json.

The hosted platform's Python client reads an error's body only under that exact type, so a
charset suffix or a text body would hide Dockyard's message from it.
"""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient


def _assert_error(response, status: int, code: str) -> dict:  # type: ignore[no-untyped-def]
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert body["code"] == code
    assert body["detail"] == body["message"] and body["message"]
    return body


@pytest.mark.parametrize(
    "path", ["/api/v2/nope", "/api/v2/nope/", "/api/v2/workloads/x/nope", "/nope"]
)
def test_an_unknown_route_is_404_json(client: TestClient, path: str) -> None:
    _assert_error(client.get(path), 404, "not_found")


def test_an_unknown_route_without_a_token_is_404_json(anonymous: TestClient) -> None:
    _assert_error(anonymous.get("/api/v2/nope"), 404, "not_found")


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("DELETE", "/api/v2/workloads"),
        ("PUT", "/api/v2/version/"),
        ("POST", "/api/v2/openapi.json"),
    ],
)
def test_a_method_not_allowed_is_405_json_naming_it(
    client: TestClient, method: str, path: str
) -> None:
    body = _assert_error(client.request(method, path), 405, "method_not_allowed")
    assert body["message"] == f"{method} is not allowed on {path.rstrip('/')}."


def test_unauthorized_is_401_json(anonymous: TestClient) -> None:
    _assert_error(anonymous.get("/api/v2/workloads"), 401, "unauthorized")
    bad = anonymous.get("/api/v2/workloads", headers={"Authorization": "Token dy_nope"})
    _assert_error(bad, 401, "unauthorized")


def test_a_domain_error_is_json(client: TestClient) -> None:
    _assert_error(client.get("/api/v2/workloads/" + "0" * 24), 404, "workload_not_found")

"""`GET /api/v2/version/`: the handshake the DataRobot Python client makes."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from dockyard import __version__


@pytest.mark.parametrize("path", ["/api/v2/version/", "/api/v2/version"])
def test_reports_the_hosted_api_version_and_dockyards(client: TestClient, path: str) -> None:
    response = client.get(path)
    assert response.status_code == 200, response.text
    assert response.json() == {
        "major": 2,
        "minor": 49,
        "versionString": "2.49",
        "dockyardVersion": __version__,
    }


def test_answers_every_token_form(client: TestClient, anonymous: TestClient) -> None:
    token = client.post("/api/v2/apiTokens", json={"name": "v"}).json()["token"]
    for headers in (
        {"Authorization": f"Token {token}"},
        {"Authorization": f"Bearer {token}"},
        {"x-datarobot-api-key": token},
    ):
        assert anonymous.get("/api/v2/version/", headers=headers).json()["major"] == 2


def test_needs_a_token(anonymous: TestClient) -> None:
    """As on the hosted platform: the client reads a 401 here as a wrong token or endpoint."""
    response = anonymous.get("/api/v2/version/")
    assert response.status_code == 401
    assert response.headers["content-type"] == "application/json"

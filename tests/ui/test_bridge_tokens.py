"""The UI's polling bridge takes the API token in the same forms as the API."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from tests.factories import create_user

FORMS = {
    "bearer": lambda token: {"Authorization": f"Bearer {token}"},
    "token": lambda token: {"Authorization": f"Token {token}"},
    "api key header": lambda token: {"x-datarobot-api-key": token},
}


@pytest.mark.parametrize("form", FORMS)
def test_each_form_reads_through_the_bridge(
    client: TestClient, anonymous: TestClient, form: str
) -> None:
    alice = create_user(client, "alice")
    response = anonymous.get("/ui/api/workloads", headers=FORMS[form](alice["token"]))
    assert response.status_code == 200, response.text
    assert response.json()["data"] == []


@pytest.mark.parametrize("form", FORMS)
def test_a_revoked_token_is_401_json(client: TestClient, anonymous: TestClient, form: str) -> None:
    alice = create_user(client, "alice")
    own = alice["client"].get("/api/v2/apiTokens").json()["data"][0]
    assert alice["client"].delete(f"/api/v2/apiTokens/{own['id']}").status_code == 204
    response = anonymous.get("/ui/api/workloads", headers=FORMS[form](alice["token"]))
    assert response.status_code == 401
    assert response.headers["content-type"] == "application/json"
    assert response.json()["detail"] == "Invalid or revoked API token."


def test_without_a_session_or_a_token_it_is_401(anonymous: TestClient) -> None:
    response = anonymous.get("/ui/api/workloads", headers={"Authorization": "Basic eDp5"})
    assert response.status_code == 401
    assert response.json()["code"] == "unauthorized"

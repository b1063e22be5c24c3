"""The API token in every form the hosted platform's clients send it (docs/api.md,
"Authentication, users and tokens")."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from dockyard.server.kit.auth import read_token
from tests.factories import create_user

FORMS = {
    "bearer": lambda token: {"Authorization": f"Bearer {token}"},
    "token": lambda token: {"Authorization": f"Token {token}"},  # the DataRobot client's default
    "token, any case": lambda token: {"Authorization": f"tOkEn   {token}  "},
    "api key header": lambda token: {"x-datarobot-api-key": token},
}


@pytest.mark.parametrize("form", FORMS)
def test_each_form_signs_in(client: TestClient, anonymous: TestClient, form: str) -> None:
    alice = create_user(client, "alice")
    response = anonymous.get("/api/v2/users/me", headers=FORMS[form](alice["token"]))
    assert response.status_code == 200, response.text
    assert response.json()["username"] == "alice"


@pytest.mark.parametrize("form", FORMS)
def test_a_revoked_token_is_401_json_in_every_form(
    client: TestClient, anonymous: TestClient, form: str
) -> None:
    alice = create_user(client, "alice")
    spare = alice["client"].post("/api/v2/apiTokens", json={"name": "spare"}).json()
    headers = FORMS[form](spare["token"])
    assert anonymous.get("/api/v2/users/me", headers=headers).status_code == 200  # cached valid
    assert alice["client"].delete(f"/api/v2/apiTokens/{spare['id']}").status_code == 204

    response = anonymous.get("/api/v2/users/me", headers=headers)
    assert response.status_code == 401
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert body["code"] == "unauthorized"
    assert body["message"] == body["detail"] == "Invalid or revoked API token."


def test_authorization_wins_over_the_api_key_header(
    client: TestClient, anonymous: TestClient
) -> None:
    alice = create_user(client, "alice")
    # A wrong Authorization is not rescued by a right x-datarobot-api-key, and vice versa.
    wrong_auth = {"Authorization": "Token dy_nope", "x-datarobot-api-key": alice["token"]}
    assert anonymous.get("/api/v2/users/me", headers=wrong_auth).status_code == 401
    right_auth = {"Authorization": f"Token {alice['token']}", "x-datarobot-api-key": "dy_nope"}
    assert anonymous.get("/api/v2/users/me", headers=right_auth).json()["username"] == "alice"


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Basic YWxpY2U6c2VjcmV0"},
        {"Authorization": "Token"},
        {"Authorization": "Token   "},
        {"x-datarobot-api-key": ""},
    ],
)
def test_no_usable_token_is_401_naming_the_forms(anonymous: TestClient, headers: dict) -> None:
    response = anonymous.get("/api/v2/workloads", headers=headers)
    assert response.status_code == 401
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert body["code"] == "unauthorized"
    for form in ("Bearer <token>", "Token <token>", "x-datarobot-api-key"):
        assert form in body["message"]


def test_read_token() -> None:
    assert read_token("Bearer abc") == "abc"
    assert read_token("token abc") == "abc"
    assert read_token(None, " abc ") == "abc"
    assert read_token("", "abc") == "abc"
    assert read_token("Basic abc", "abc") is None
    assert read_token("Bearer", None) is None
    assert read_token(None, None) is None


def test_the_document_names_the_api_key_header(anonymous: TestClient) -> None:
    document = anonymous.get("/api/v2/openapi.json").json()
    schemes = document["components"]["securitySchemes"]
    assert schemes["ApiKeyHeader"] == {
        "type": "apiKey",
        "in": "header",
        "name": "x-datarobot-api-key",
        "description": schemes["ApiKeyHeader"]["description"],
    }
    assert "Token <token>" in schemes["HTTPBearer"]["description"]
    security = document["paths"]["/api/v2/workloads"]["get"]["security"]
    assert security == [{"HTTPBearer": []}, {"ApiKeyHeader": []}]

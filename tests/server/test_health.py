from fastapi.testclient import TestClient


def test_healthz_and_readyz_answer_without_a_token(anonymous: TestClient) -> None:
    assert anonymous.get("/healthz").json() == {"status": "ok"}
    assert anonymous.get("/readyz").json() == {"status": "ok"}


def test_openapi_and_docs_are_open_and_offline(anonymous: TestClient) -> None:
    document = anonymous.get("/api/v2/openapi.json")
    assert document.status_code == 200
    assert document.json()["openapi"].startswith("3.1")
    page = anonymous.get("/api/v2/docs/")
    assert page.status_code == 200
    assert "cdn" not in page.text.lower()
    asset = anonymous.get("/api/v2/docs-assets/swagger-ui-bundle.js")
    assert asset.status_code == 200


def test_unknown_route_has_the_error_body(client: TestClient) -> None:
    response = client.get("/api/v2/nothing-here")
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


def test_api_needs_a_token(anonymous: TestClient) -> None:
    response = anonymous.get("/api/v2/artifacts")
    assert response.status_code in (401, 404)

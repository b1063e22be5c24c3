"""The UI's sign-in, CSRF, error pages and polling bridge, through the app (no browser)."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from dockyard.server.ui import spec_edits
from tests.conftest import ADMIN_TOKEN
from tests.factories import create_artifact, create_user, service_spec
from tests.ui.conftest import csrf_of, sign_in


@pytest.fixture
def browser(app) -> TestClient:  # type: ignore[no-untyped-def]
    """A cookie-keeping client that does not follow redirects, signed in as the admin."""
    with TestClient(app, follow_redirects=False) as web:
        answer = sign_in(web, ADMIN_TOKEN, next_path="/console/workloads")
        assert answer.status_code == 303
        assert answer.headers["location"] == "/console/workloads"
        yield web


def test_pages_send_a_signed_out_visitor_to_the_sign_in_form(anonymous: TestClient) -> None:
    for path in ("/registry/services", "/console/workloads", "/registry/artifacts/x"):
        answer = anonymous.get(path, follow_redirects=False)
        assert answer.status_code == 303
        assert answer.headers["location"].startswith("/login?next=")
    assert anonymous.get("/ui/api/workloads").status_code == 401


def test_the_session_cookie_is_http_only_and_same_site(app) -> None:  # type: ignore[no-untyped-def]
    with TestClient(app, follow_redirects=False) as web:
        answer = sign_in(web, ADMIN_TOKEN)
        cookie = answer.headers["set-cookie"]
        assert "dockyard_session=" in cookie
        assert "HttpOnly" in cookie and "SameSite=lax" in cookie
        assert ADMIN_TOKEN not in cookie  # a session secret, not the token


@pytest.mark.parametrize("target", ["//evil.example/x", "https://evil.example/", "/\\evil"])
def test_sign_in_never_redirects_to_another_host(app, target: str) -> None:  # type: ignore[no-untyped-def]
    with TestClient(app, follow_redirects=False) as web:
        answer = sign_in(web, ADMIN_TOKEN, next_path=target)
        assert answer.headers["location"] == "/registry/services"


def test_a_wrong_token_shows_the_form_again(anonymous: TestClient) -> None:
    form = anonymous.get("/login")
    answer = anonymous.post(
        "/login", data={"token": "dy_wrong", "csrf": csrf_of(form.text), "next": "/"}
    )
    assert answer.status_code == 401
    assert "not valid" in answer.text


def test_revoking_the_token_ends_the_session(client: TestClient, app) -> None:  # type: ignore[no-untyped-def]
    someone = create_user(client, "viewer")
    with TestClient(app, follow_redirects=False) as web:
        sign_in(web, someone["token"])
        assert web.get("/registry/services").status_code == 200
        tokens = someone["client"].get("/api/v2/apiTokens").json()["data"]
        for token in tokens:
            someone["client"].delete(f"/api/v2/apiTokens/{token['id']}")
        assert web.get("/registry/services").headers["location"].startswith("/login")


def test_a_form_without_the_csrf_token_changes_nothing(
    browser: TestClient, client: TestClient
) -> None:
    artifact = create_artifact(client)
    answer = browser.post(f"/registry/artifacts/{artifact['id']}/lock", data={"csrf": "forged"})
    assert answer.status_code == 303
    assert client.get(f"/api/v2/artifacts/{artifact['id']}").json()["status"] == "draft"


def test_service_errors_are_readable_pages(browser: TestClient) -> None:
    answer = browser.get("/registry/artifacts/000000000000000000000000")
    assert answer.status_code == 404
    assert "does not exist" in answer.text and "artifact_not_found" in answer.text
    assert "Traceback" not in answer.text
    answer = browser.get("/console/workloads?importance=urgent")
    assert answer.status_code == 422 and "unknown importance" in answer.text


def test_a_rule_violation_returns_to_the_page_with_the_message(
    browser: TestClient, client: TestClient
) -> None:
    artifact = create_artifact(client)
    page = f"http://testserver/registry/artifacts/{artifact['id']}"
    csrf = csrf_of(browser.get(page).text)
    client.patch(f"/api/v2/artifacts/{artifact['id']}", json={"status": "locked"})
    answer = browser.post(
        f"/registry/artifacts/{artifact['id']}/env",
        data={"csrf": csrf, "container": "0:0", "name": "X", "value": "1"},
        headers={"referer": page},
    )
    assert answer.headers["location"] == f"/registry/artifacts/{artifact['id']}"
    shown = browser.get(answer.headers["location"]).text
    assert "is locked" in shown and "flash-error" in shown


def test_the_bridge_serves_only_the_read_paths_the_pages_poll(browser: TestClient) -> None:
    assert browser.get("/ui/api/workloads").status_code == 200
    assert browser.get("/ui/api/users").status_code == 404
    assert browser.get("/ui/api/apiTokens").status_code == 404
    assert browser.post("/ui/api/workloads").status_code == 405


def test_spec_edits_leave_the_original_alone() -> None:
    spec = service_spec()
    where = spec_edits.ContainerRef(0, 0)
    env = spec_edits.EnvInput(name="MODE", source="string", value="on", key="")
    added = spec_edits.set_env(spec, where, env, None)
    assert [v["name"] for v in added["containerGroups"][0]["containers"][0]["environmentVars"]] == [
        "GREETING",
        "MODE",
    ]
    assert len(spec["containerGroups"][0]["containers"][0]["environmentVars"]) == 1
    probe = spec_edits.set_probe(spec, where, "startup", "/up", {"periodSeconds": 2, "port": None})
    assert probe["containerGroups"][0]["containers"][0]["startupProbe"] == {
        "path": "/up",
        "periodSeconds": 2,
    }
    assert (
        "readinessProbe"
        not in spec_edits.remove_probe(spec, where, "readiness")["containerGroups"][0][
            "containers"
        ][0]
    )


def test_a_consumer_sees_no_controls_it_may_not_use(client: TestClient, app) -> None:  # type: ignore[no-untyped-def]
    artifact = create_artifact(client)
    consumer = create_user(client, "consumer")
    client.patch(
        f"/api/v2/artifacts/{artifact['id']}/sharedRoles",
        json={
            "operation": "updateRoles",
            "roles": [{"shareRecipientType": "user", "username": "consumer", "role": "CONSUMER"}],
        },
    )
    with TestClient(app, follow_redirects=False) as web:
        sign_in(web, consumer["token"])
        html = web.get(f"/registry/artifacts/{artifact['id']}").text
        assert "GREETING" in html  # it sees the artifact…
        assert "Add environment variable" not in html  # …and none of the controls it may not use
        for action in ("lock", "deploy", "env", "probe", "delete", "share"):
            assert f"/registry/artifacts/{artifact['id']}/{action}" not in html, action

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


def test_the_deployment_page_names_who_acted(browser: TestClient, client: TestClient) -> None:
    artifact = create_artifact(client, name="named", spec=service_spec())
    assert client.patch(f"/api/v2/artifacts/{artifact['id']}", json={"status": "locked"}).is_success
    workload = client.post("/api/v2/workloads", json={"artifactId": artifact["id"]}).json()
    deployment = client.post(
        "/api/v2/console/deployments", json={"workloadId": workload["id"]}
    ).json()
    me = client.get("/api/v2/users/me").json()
    page = browser.get(f"/console/deployments/{deployment['id']}")
    assert page.status_code == 200
    audit = page.text.split('id="audit-log"')[1]
    row = audit.split("<tbody>")[1].split("</tr>")[0]
    assert f">{me['username']}</span>" in row
    assert f"<code>{me['id']}</code>" not in row  # the id only as a tooltip


def test_the_workload_page_says_why_it_is_errored(browser: TestClient, client: TestClient) -> None:
    from dockyard.server.runtimes.base import RuntimePermanentError
    from dockyard.server.runtimes.fake import FakeBehavior

    runtime = client.app.state.runtime  # type: ignore[attr-defined]
    error = RuntimePermanentError("image ghost:1 could not be pulled", code="image_not_found")
    runtime.script("ghost:1", FakeBehavior(error=error))
    spec = service_spec(image="ghost:1")
    workload = client.post("/api/v2/workloads", json={"artifact": {"name": "g", "spec": spec}})
    reconciler = client.app.state.reconciler  # type: ignore[attr-defined]
    reconciler.nudge(workload.json()["id"])
    reconciler.run_pending()
    page = browser.get(f"/console/workloads/{workload.json()['id']}")
    assert page.status_code == 200
    why = page.text.split('id="workload-status-reason"')[1].split("</dd>")[0]
    assert "image_pull_failed" in why and "could not be pulled" in why


def test_a_task_page_shows_its_status_exit_code_and_output(
    browser: TestClient, client: TestClient
) -> None:
    from dockyard.server.runtimes.fake import FakeBehavior

    runtime = client.app.state.runtime  # type: ignore[attr-defined]
    runtime.script("job:1", FakeBehavior(exit_after=0, exit_code=4, output=("answer=42",)))
    container = {"primary": True, "name": "main", "imageUri": "job:1"}
    spec = {"containerGroups": [{"containers": [container]}]}
    workload = client.post("/api/v2/workloads", json={"artifact": {"name": "j", "spec": spec}})
    reconciler = client.app.state.reconciler  # type: ignore[attr-defined]
    for _ in range(2):
        reconciler.nudge(workload.json()["id"])
        reconciler.run_pending()
    page = browser.get(f"/console/workloads/{workload.json()['id']}")
    assert page.status_code == 200
    assert 'class="badge status-failed"' in page.text
    exit_code = page.text.split('id="workload-exit-code"')[1].split("</dd>")[0]
    assert ">4" in exit_code
    assert "answer=42" in page.text.split("Last output")[1]
    assert "exit_nonzero" in page.text


def test_a_nul_byte_in_a_form_is_refused_like_in_the_api(
    browser: TestClient, client: TestClient
) -> None:
    artifact = create_artifact(client)
    page = f"http://testserver/registry/artifacts/{artifact['id']}"
    csrf = csrf_of(browser.get(page).text)
    answer = browser.post(
        f"/registry/artifacts/{artifact['id']}/env",
        data={"csrf": csrf, "container": "0:0", "name": "X", "value": "a\x00b"},
        headers={"referer": page},
    )
    assert answer.headers["location"] == f"/registry/artifacts/{artifact['id']}"
    assert "NUL" in browser.get(answer.headers["location"]).text
    spec = client.get(f"/api/v2/artifacts/{artifact['id']}").json()["spec"]
    variables = spec["containerGroups"][0]["containers"][0]["environmentVars"]
    assert all(variable["name"] != "X" for variable in variables)
    assert browser.get("/console/workloads?search=a%00").status_code == 422


def test_the_settings_tab_edits_autoscaling_and_the_overview_shows_it(
    browser: TestClient, client: TestClient
) -> None:
    from dockyard.server.workloads.lifecycle import record_event
    from tests.server.workloads.conftest import fast_spec

    runtime = {"containerGroups": [{"name": "default", "replicaCount": 1}]}
    body = {"artifact": {"name": "s", "spec": fast_spec()}, "runtime": runtime}
    created = client.post("/api/v2/workloads", json=body)
    workload_id = created.json()["id"]
    reconciler = client.app.state.reconciler  # type: ignore[attr-defined]
    for _ in range(3):
        reconciler.nudge(workload_id)
        reconciler.run_pending()
    assert client.get(f"/api/v2/workloads/{workload_id}").json()["status"] == "running"
    url = f"http://testserver/console/workloads/{workload_id}?tab=settings"
    page = browser.get(url)
    assert "Compute management" in page.text and "No autoscaling" in page.text
    answer = browser.post(
        f"/console/workloads/{workload_id}/autoscaling",
        data={
            "csrf": csrf_of(page.text),
            "group": "default",
            "enabled": "1",
            "minReplicaCount": "0",
            "maxReplicaCount": "3",
            "target_httpRequestsConcurrency": "4",
            "target_cpuAverageUtilization": "",
        },
        headers={"referer": url},
    )
    assert answer.status_code == 303
    assert answer.headers["location"] == f"/console/workloads/{workload_id}?tab=settings"
    rollout = client.get(f"/api/v2/workloads/{workload_id}/replacement").json()
    scaling = rollout["runtime"]["containerGroups"][0]["autoscaling"]
    assert (scaling["minReplicaCount"], scaling["maxReplicaCount"]) == (0, 3)
    assert scaling["policies"] == [
        {"scalingMetric": "httpRequestsConcurrency", "target": 4.0, "minCount": 0,
         "maxCount": 3, "priority": None}
    ]  # fmt: skip
    # A bad form comes back as the API's message, and nothing changes.
    refused = browser.post(
        f"/console/workloads/{workload_id}/autoscaling",
        data={"csrf": csrf_of(page.text), "group": "default", "enabled": "1",
              "minReplicaCount": "1", "maxReplicaCount": "many"},
        headers={"referer": url},
    )  # fmt: skip
    assert "maxReplicaCount" in browser.get(refused.headers["location"]).text
    # The overview: each group's counts, and the last scaling events.
    db = client.app.state.db  # type: ignore[attr-defined]
    with db.unit_of_work() as session:
        record_event(
            session, workload_id, "scaled",
            {"group": "default", "from": 1, "to": 2, "metric": "httpRequestsConcurrency",
             "value": 7.5},
        )  # fmt: skip
    overview = browser.get(f"/console/workloads/{workload_id}").text
    counts = overview.split('id="replica-counts"')[1].split("</dl>")[0]
    assert "<span data-current>1</span> ready of <span data-desired>1</span>" in counts
    events = overview.split('id="scaling-events"')[1].split("</table>")[0]
    assert "<td>1</td><td>2</td><td>httpRequestsConcurrency</td><td>7.5</td>" in events

"""The seed's Registry workflow, and the Console, in headless Chromium against a live server.

One test walks the whole workflow (each step needs the previous one's state, and test workers
must not split it); the others are independent checks.
"""

from __future__ import annotations

import json
import re
import time
from typing import Any

import httpx
from playwright.sync_api import expect

from tests.ui.conftest import TOKEN, LiveServer, free_port, shoot

RUNNING_TIMEOUT = 40_000  # a real process has to start and pass its readiness probe


def sign_in(page: Any, live: LiveServer, next_path: str = "/registry/services") -> None:
    """Open the one-time link `dockyard serve` prints."""
    page.goto(live.sign_in_path(next_path))
    expect(page.locator(".who .username")).to_contain_text("admin")


def payload(name: str, port: int) -> dict[str, Any]:
    return {
        "name": name,
        "description": "Created in the browser test",
        "spec": {
            "containerGroups": [
                {
                    "containers": [
                        {
                            "imageUri": "docker.io/library/python:3.12-slim",
                            "port": port,
                            "primary": True,
                            "entrypoint": ["python3", "-m", "http.server", str(port)],
                            "environmentVars": [{"name": "GREETING", "value": "hello"}],
                            "readinessProbe": {
                                "path": "/",
                                "initialDelaySeconds": 0,
                                "periodSeconds": 1,
                                "timeoutSeconds": 2,
                            },
                        }
                    ]
                }
            ]
        },
    }


def workload_row(page: Any, name: str) -> Any:
    return page.locator("#artifact-workloads tr", has_text=name)


# --- sign-in ---------------------------------------------------------------------------------


def test_every_page_needs_a_signed_in_user(page: Any) -> None:
    for path in ("/registry/services", "/console/workloads", "/console/deployments"):
        page.goto(path)
        expect(page).to_have_url(re.compile(r"/login\?next="))
    page.fill("input[name=token]", "dy_not_a_real_token")
    page.click("form[action='/login'] button[type=submit]")
    expect(page.locator(".flash-error")).to_contain_text("not valid")
    shoot(page, "login")
    page.fill("input[name=token]", TOKEN)
    page.click("form[action='/login'] button[type=submit]")
    expect(page).to_have_url(re.compile(r"/console/deployments$"))  # back where it started
    cookie = next(c for c in page.context.cookies() if c["name"] == "dockyard_session")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Lax"
    page.click("text=Sign out")
    expect(page).to_have_url(re.compile(r"/login"))
    page.goto("/registry/services")
    expect(page).to_have_url(re.compile(r"/login\?next="))
    page.context.add_cookies([cookie])  # the old cookie, replayed: the server ended it
    page.goto("/registry/services")
    expect(page).to_have_url(re.compile(r"/login\?next="))


def test_the_sign_in_link_works_once(page: Any, live_server: LiveServer) -> None:
    link = live_server.sign_in_path("/console/workloads")
    page.goto(link)
    expect(page).to_have_url(re.compile(r"/console/workloads$"))
    expect(page.locator(".who .username")).to_contain_text("admin")
    page.context.clear_cookies()
    page.goto(link)
    expect(page.locator(".flash-error")).to_contain_text("already used")
    page.goto(f"/login?token={TOKEN}")  # a token in the URL only shows the form
    expect(page.locator(".flash-error")).to_contain_text("no longer carry a token")
    page.goto("/registry/services")
    expect(page).to_have_url(re.compile(r"/login\?next="))


def test_a_forged_form_post_is_refused(page: Any, live_server: LiveServer) -> None:
    sign_in(page, live_server)
    with live_server.api() as api:
        created = api.post("/artifacts", json=payload("csrf-target", free_port())).json()
    # Same cookie, no CSRF token: what another site's form would send.
    answer = page.request.post(f"/registry/artifacts/{created['id']}/lock", form={"x": "1"})
    assert "expired" in answer.text()
    with live_server.api() as api:
        assert api.get(f"/artifacts/{created['id']}").json()["status"] == "draft"
        api.delete(f"/artifacts/{created['id']}")
        api.delete(f"/artifactRepositories/{created['artifactRepositoryId']}")


# --- the Registry workflow -------------------------------------------------------------------


def test_registry_workflow(page: Any, live_server: LiveServer) -> None:
    sign_in(page, live_server)
    artifact_url = create_artifact_in_the_panel(page)
    edit_the_draft(page)
    try_then_stop(page, artifact_url)
    lock_and_lose_the_edit_controls(page, artifact_url)
    deploy_the_locked_version(page, artifact_url)
    console_pages(page, live_server)
    repository_page(page)
    deploy_a_draft(page)
    deployments_page(page)


def create_artifact_in_the_panel(page: Any) -> str:
    page.goto("/registry/services")
    expect(page.locator("h1")).to_have_text("Service artifact repositories")
    expect(page.locator("summary", has_text="Filters")).to_be_visible()
    page.click("text=+ Add service artifact")
    panel = page.locator("dialog#add-artifact")
    expect(panel).to_be_visible()
    example = panel.locator("#create-artifact-example")
    expect(example).to_contain_text('curl -X POST "http://127.0.0.1')
    expect(example).to_contain_text("/api/v2/artifacts/")
    expect(example).to_contain_text("Authorization: Bearer $DOCKYARD_TOKEN")
    expect(example).to_contain_text('"readinessProbe"')
    panel.locator("button", has_text="Copy to clipboard").click()
    expect(panel.locator("button.copy")).to_have_text("Copied")
    assert "/api/v2/artifacts/" in page.evaluate("navigator.clipboard.readText()")
    shoot(page, "add-artifact-panel")
    panel.locator("summary", has_text="create the draft from here").click()
    body = payload("ui-service", free_port())
    panel.locator("textarea[name=payload]").fill(json.dumps(body, indent=2))
    panel.locator("button", has_text="Create draft").click()
    expect(page.locator(".flash-ok")).to_contain_text("Draft 'ui-service' created")
    expect(page.locator("h1 .badge")).to_have_text("Draft")
    return page.url.split("?")[0]


def edit_the_draft(page: Any) -> None:
    # Environment variables: edit, add, delete.
    row = page.locator("#env-table tr[data-env=GREETING]")
    row.locator("button", has_text="Edit").click()
    dialog = row.locator("dialog")
    dialog.locator("input[name=value]").fill("bonjour")
    dialog.locator("button", has_text="Save").click()
    expect(page.locator("#env-table tr[data-env=GREETING] .value")).to_have_text("bonjour")
    page.click("text=+ Add environment variable")
    adding = page.locator("dialog#env-add")
    adding.locator("input[name=name]").fill("MODE")
    adding.locator("input[name=value]").fill("test")
    adding.locator("button", has_text="Add").click()
    expect(page.locator("#env-table tr[data-env=MODE] .value")).to_have_text("test")
    page.locator("#env-table tr[data-env=MODE] button", has_text="Delete").click()
    expect(page.locator(".flash-ok")).to_contain_text("deleted")
    expect(page.locator("#env-table tr[data-env=MODE]")).to_have_count(0)
    # A bad name is the API's 422, shown as a message, never a stack trace.
    page.click("text=+ Add environment variable")
    adding.locator("input[name=name]").fill("1-bad name")
    adding.locator("button", has_text="Add").click()
    expect(page.locator(".flash-error")).to_contain_text("environmentVars")
    # Probes: edit the readiness probe, add a liveness probe.
    readiness = page.locator("#probe-table tr[data-probe=readiness]")
    readiness.locator("button", has_text="Edit").click()
    readiness.locator("input[name=failureThreshold]").fill("5")
    readiness.locator("button", has_text="Save").click()
    expect(page.locator("#probe-table tr[data-probe=readiness] td").nth(6)).to_have_text("5")
    liveness = page.locator("#probe-table tr[data-probe=liveness]")
    liveness.locator("button", has_text="Add").click()
    liveness.locator("input[name=path]").fill("/")
    liveness.locator("button", has_text="Save").click()
    cells = page.locator("#probe-table tr[data-probe=liveness] td")
    expect(cells.nth(1)).to_have_text("/")
    expect(cells.nth(3)).to_have_text("30")  # unfilled fields take the defaults
    expect(page.locator("#containers")).to_contain_text("docker.io/library/python:3.12-slim")
    shoot(page, "artifact-assemble")
    # Info: the description is editable on a draft.
    page.click("nav.tabs >> text=Info")
    page.click("button[aria-label='Edit description']")
    page.fill("#description-form textarea", "Serves the current directory")
    page.click("#description-form button[type=submit]")
    expect(page.locator("#description-text")).to_have_text("Serves the current directory")
    for label in ("Artifact type", "Created by", "Last modified", "Artifact repository ID"):
        expect(page.locator("dl.facts dt", has_text=label)).to_be_visible()
    expect(page.locator("dl.facts dt", has_text="Artifact ID")).to_have_count(1)
    shoot(page, "artifact-info")


def try_then_stop(page: Any, artifact_url: str) -> None:
    page.goto(artifact_url)
    actions = page.locator("#artifact-actions")
    for label in ("Test", "Stop", "Lock", "Deploy"):
        expect(actions.locator("button", has_text=re.compile(f"^{label}$"))).to_be_visible()
    actions.locator("button", has_text="Test").click()
    expect(page.locator(".flash-ok")).to_contain_text("Test workload starting")
    row = workload_row(page, "ui-service (test)")
    # The badge turns to running by itself: the page polls, nobody reloads.
    expect(row.locator(".badge")).to_have_text("running", timeout=RUNNING_TIMEOUT)
    expect(row).to_contain_text("/api/v2/endpoints/workloads/")
    expect(row.locator("td").nth(3)).not_to_have_text("Never")  # a draft's test expires
    shoot(page, "artifact-workload")
    # Its Console page offers Promote (it runs a draft) and no deployment (that needs locked).
    console = row.locator("a", has_text="View detailed info").get_attribute("href")
    page.goto(console)
    expect(page.locator("#workload-actions button", has_text="Promote")).to_be_visible()
    expect(page.locator("#workload-actions button", has_text="Create deployment")).to_have_count(0)
    page.goto(f"{artifact_url}?tab=workload")
    # A draft backs one active workload: a second Test is refused with the API's message.
    actions.locator("button", has_text="Test").click()
    expect(page.locator(".flash-error")).to_contain_text("already backs an active workload")
    actions.locator("button", has_text="Stop").click()
    expect(page.locator(".flash-ok")).to_contain_text("Stopping")
    expect(workload_row(page, "ui-service (test)").locator(".badge")).to_have_text(
        "stopped", timeout=RUNNING_TIMEOUT
    )


def lock_and_lose_the_edit_controls(page: Any, artifact_url: str) -> None:
    page.goto(artifact_url)
    page.locator("#artifact-actions button", has_text="Lock").click()
    expect(page.locator(".flash-ok")).to_contain_text("Locked as version 1")
    expect(page.locator("h1 .badge")).to_have_text("Locked · v1")
    actions = page.locator("#artifact-actions")
    for label in ("Test", "Stop", "Lock"):
        expect(actions.locator("button", has_text=re.compile(f"^{label}$"))).to_have_count(0)
    expect(actions.locator("button", has_text="Deploy")).to_be_visible()
    expect(page.locator("text=+ Add environment variable")).to_have_count(0)
    expect(page.locator("#env-table button")).to_have_count(0)
    expect(page.locator("#probe-table button")).to_have_count(0)
    actions.locator("summary").click()
    menu = actions.locator(".menu-items")
    expect(menu.locator("button", has_text="Clone")).to_be_visible()
    expect(menu.locator("button", has_text="Share")).to_be_visible()
    expect(menu.locator("button", has_text="Delete")).to_have_count(0)
    page.click("nav.tabs >> text=Info")
    expect(page.locator("button[aria-label='Edit description']")).to_have_count(0)


def deploy_the_locked_version(page: Any, artifact_url: str) -> None:
    page.goto(artifact_url)
    page.locator("#artifact-actions button", has_text="Deploy").click()
    expect(page.locator(".flash-ok")).to_contain_text("Deployed version 1")
    row = workload_row(page, "ui-service").filter(has_not_text="(test)")
    expect(row.locator(".badge")).to_have_text("running", timeout=RUNNING_TIMEOUT)
    expect(row.locator("td").nth(3)).to_have_text("Never")
    expect(row.locator("a", has_text="View detailed info in Console")).to_have_attribute(
        "target", "_blank"
    )


def console_pages(page: Any, live: LiveServer) -> None:
    page.goto("/console/workloads")
    expect(page.locator("h1")).to_have_text("Deployed Workloads")
    table = page.locator("#workload-list")
    expect(table.locator("tbody tr")).to_have_count(2)
    expect(page.locator("[data-summary-value=requests]")).to_be_visible()
    shoot(page, "console-workloads")
    page.goto("/console/workloads?artifact_status=locked&status=running")
    expect(table.locator("tbody tr")).to_have_count(1)
    expect(table.locator("tbody tr .artifact-locked")).to_have_text("Locked · v1")
    expect(page.locator(".chip", has_text="status: running")).to_be_visible()
    page.goto("/console/workloads?search=(test)")
    expect(table.locator("tbody tr")).to_have_count(1)
    expect(table).to_contain_text("ui-service (test)")
    page.goto("/console/workloads?artifact_status=locked&status=running")
    table.locator("a.rowlink").click()
    # Overview: inline edits, replicas with their probe states.
    expect(page.locator("#replica-table tbody tr").first).to_contain_text("running")
    page.click("button[aria-label='Edit importance']")
    page.select_option("#edit-importance select", "high")
    page.click("#edit-importance button[type=submit]")
    expect(page.locator("[data-field=importance]")).to_have_text("high")
    page.click("button[aria-label='Edit name']")
    page.fill("#edit-name input[name=value]", "ui-service-prod")
    page.click("#edit-name button[type=submit]")
    expect(page.locator("h1")).to_contain_text("ui-service-prod")
    page.click("#workload-tags button:has-text('+ Add new')")
    page.fill("#add-tag input[name=name]", "team")
    page.fill("#add-tag input[name=value]", "ml")
    page.click("#add-tag button[type=submit]")
    expect(page.locator("#workload-tags .tag")).to_have_text(["team: ml×"])
    shoot(page, "workload-overview")
    workload_url = page.url.split("?")[0]
    # Traffic for the charts (through the invoke proxy when this server has it).
    endpoint = page.locator("dl.facts code.endpoint").inner_text()
    for _ in range(3):
        httpx.get(endpoint, headers={"Authorization": f"Bearer {live.token}"}, timeout=10)
    page.goto(f"{workload_url}?tab=endpoints")
    expect(page.locator("#invoke-curl")).to_contain_text(endpoint)
    page.click("button[data-lang-show=example-python]")
    expect(page.locator("#invoke-python")).to_contain_text("httpx.post(ENDPOINT")
    shoot(page, "workload-endpoints")
    page.goto(f"{workload_url}?tab=monitoring")
    expect(page.locator("[data-stats-state]")).not_to_have_text("Loading request statistics…")
    page.wait_for_timeout(500)  # let the charts draw before the picture
    shoot(page, "workload-monitoring")
    page.goto(f"{workload_url}?tab=activity")
    expect(page.locator("[data-event-rows]")).to_contain_text("created")
    expect(page.locator("[data-logs-state]")).to_contain_text("live ·")
    shoot(page, "workload-activity")
    # Stop it here, in the Console: the port is needed by the next deploy.
    page.locator("#workload-actions button", has_text="Stop").click()
    expect(page.locator("h1 .badge")).to_have_text("stopped", timeout=RUNNING_TIMEOUT)
    expect(page.locator("#workload-actions button", has_text="Start")).to_be_visible()


def repository_page(page: Any) -> None:
    page.goto("/registry/services")
    page.locator("#repositories a", has_text="ui-service").click()
    expect(page.locator("nav.tabs a", has_text="Locked")).to_have_attribute("aria-current", "page")
    for column in ("Status", "Creation date", "Last modified"):
        expect(page.locator("#artifacts th", has_text=column)).to_be_visible()
    locked = page.locator("#artifacts tr[data-artifact]")
    expect(locked).to_have_count(1)
    locked.locator("summary").click()
    menu = locked.locator(".menu-items")
    expect(menu.locator("button, a")).to_have_text(["Share", "Clone"])
    shoot(page, "repository")
    menu.locator("button", has_text="Clone").click()
    page.locator("dialog[open] input[name=name]").fill("ui-service-next")
    page.locator("dialog[open] button", has_text="Clone").click()
    expect(page.locator(".flash-ok")).to_contain_text("Cloned as draft 'ui-service-next'")
    page.locator(".crumbs a", has_text="ui-service").click()  # back, on the Draft tab
    expect(page.locator("nav.tabs a", has_text="Draft")).to_have_attribute("aria-current", "page")
    draft = page.locator("#artifacts tr[data-artifact]", has_text="ui-service-next")
    draft.locator("summary").click()
    expect(draft.locator(".menu-items button")).to_have_text(["Share", "Delete"])
    # Deleting a repository that holds a locked version: the rule's message, in the page.
    page.locator("#repository-actions summary").click()
    page.locator("#repository-actions button", has_text="Delete").click()
    expect(page.locator(".flash-error")).to_contain_text("cannot be deleted")


def deploy_a_draft(page: Any) -> None:
    page.locator("#artifacts a", has_text="ui-service-next").click()
    expect(page.locator("h1 .badge")).to_have_text("Draft")
    page.locator("#artifact-actions button", has_text="Deploy").click()
    expect(page.locator(".flash-ok")).to_contain_text("Deployed version 2")
    expect(page.locator("h1 .badge")).to_have_text("Locked · v2")
    row = workload_row(page, "ui-service-next")
    expect(row.locator(".badge")).to_have_text("running", timeout=RUNNING_TIMEOUT)


def deployments_page(page: Any) -> None:
    console = workload_row(page, "ui-service-next").locator("a", has_text="View detailed info")
    page.goto(console.get_attribute("href"))
    actions = page.locator("#workload-actions")
    expect(actions.locator("button", has_text="Promote")).to_have_count(0)  # already locked
    actions.locator("button", has_text="Create deployment").click()
    page.locator("dialog#deployment-dialog input[name=name]").fill("ui-service-live")
    page.locator("dialog#deployment-dialog button", has_text="Create").click()
    expect(page.locator(".flash-ok")).to_contain_text("Deployment created")
    expect(page.locator("h1 .badge")).to_have_text("active", timeout=RUNNING_TIMEOUT)
    expect(page.locator("#audit-verified")).to_contain_text("Chain verifies")
    expect(page.locator("#audit-log tbody")).to_contain_text("create")
    expect(page.locator("#deployment-overview")).to_contain_text("/api/v2/endpoints/deployments/")
    shoot(page, "deployment")
    page.goto("/console/deployments")
    expect(page.locator("h1")).to_have_text("Deployments")
    expect(page.locator("#deployment-list tbody tr")).to_have_count(1)
    expect(page.locator("#deployment-list .badge")).to_have_text("active")
    shoot(page, "deployments")
    page.goto("/registry/services")
    shoot(page, "services")


def test_the_settings_tab_edits_the_autoscaling_policies(
    page: Any, live_server: LiveServer
) -> None:
    with live_server.api() as api:
        body = {"name": "ui-scaled", "artifact": payload("ui-scaled", free_port())}
        created = api.post("/workloads", json=body)
        assert created.status_code == 201, created.text
        workload_id = created.json()["id"]
        try:
            sign_in(page, live_server, f"/console/workloads/{workload_id}")
            expect(page.locator("h1 .badge")).to_have_text("running", timeout=RUNNING_TIMEOUT)
            page.click("nav.tabs >> text=Settings")
            expect(page.locator("#compute-management h2")).to_have_text("Compute management")
            table = page.locator(".autoscaling-table[data-group=default]")
            expect(table).to_contain_text("No autoscaling")
            form = page.locator("#autoscaling-form-default")
            form.locator("input[name=enabled]").check()
            form.locator("input[name=minReplicaCount]").fill("0")
            form.locator("input[name=maxReplicaCount]").fill("4")
            form.locator("input[name=target_httpRequestsConcurrency]").fill("8")
            shoot(page, "workload-settings-autoscaling")
            form.locator("button[type=submit]").click()
            expect(page.locator(".flash-ok")).to_contain_text("rolling out")
            rollout = api.get(f"/workloads/{workload_id}/replacement").json()
            scaling = rollout["runtime"]["containerGroups"][0]["autoscaling"]
            assert (scaling["minReplicaCount"], scaling["maxReplicaCount"]) == (0, 4)
            assert scaling["policies"][0]["scalingMetric"] == "httpRequestsConcurrency"
            # A second change while the first rolls out: the API's refusal, shown on the page.
            form = page.locator("#autoscaling-form-default")
            form.locator("input[name=maxReplicaCount]").fill("2")
            form.locator("button[type=submit]").click()
            expect(page.locator(".flash-error")).to_contain_text("replacement")
        finally:
            api.post(f"/workloads/{workload_id}/stop")
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                if api.get(f"/workloads/{workload_id}").json()["status"] == "stopped":
                    break
                time.sleep(0.3)
            api.delete(f"/workloads/{workload_id}")

"""Who may start workloads on the process runtime: admins, or everyone on an open laptop.

The app runs a real process runtime with its reconciler held, so nothing is spawned unless a
test runs a pass; each test runs twice, with DOCKYARD_PROCESS_RUNTIME_OPEN unset and set.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from dockyard.server.app import create_app
from dockyard.server.settings import Settings
from tests.conftest import ADMIN_TOKEN
from tests.factories import create_user
from tests.server.workloads.conftest import fast_spec

API = "/api/v2"


@pytest.fixture(params=[False, True], ids=["admins-only", "open"])
def open_mode(request: pytest.FixtureRequest) -> bool:
    return request.param


@pytest.fixture
def admin(settings: Settings, open_mode: bool) -> Iterator[TestClient]:
    process = settings.model_copy(update={"runtime": "process", "process_runtime_open": open_mode})
    app = create_app(process, run_reconciler=False)
    with TestClient(app, headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}) as client:
        yield client
    app.state.db.dispose()


def _spec() -> dict[str, Any]:
    return fast_spec(entrypoint=["sleep", "600"])


def _create(client: TestClient, name: str = "app") -> Any:
    return client.post(
        f"{API}/workloads", json={"name": name, "artifact": {"name": name, "spec": _spec()}}
    )


def _refused(response: Any) -> bool:
    return response.status_code == 403 and response.json()["code"] == "runtime_requires_admin"


def _share(admin: TestClient, path: str, user_id: str, role: str = "EDITOR") -> None:
    grant = {"shareRecipientType": "user", "role": role, "id": user_id}
    response = admin.patch(
        f"{path}/sharedRoles", json={"operation": "updateRoles", "roles": [grant]}
    )
    assert response.status_code == 204, response.text


def test_admin_creates_process_workloads_in_both_modes(admin: TestClient) -> None:
    response = _create(admin)
    assert response.status_code == 201, response.text


def test_non_admin_create_needs_the_open_mode(admin: TestClient, open_mode: bool) -> None:
    user: TestClient = create_user(admin)["client"]

    response = _create(user)

    if open_mode:
        assert response.status_code == 201, response.text
    else:
        assert _refused(response), response.text
        assert "DOCKYARD_PROCESS_RUNTIME_OPEN" in response.json()["message"]
        assert admin.get(f"{API}/workloads").json()["data"] == []


def test_non_admin_start_of_a_shared_workload_needs_the_open_mode(
    admin: TestClient, open_mode: bool
) -> None:
    other = create_user(admin)
    workload = _create(admin).json()
    path = f"{API}/workloads/{workload['id']}"
    _share(admin, path, other["user"]["id"])
    assert admin.post(f"{path}/stop").status_code == 202
    reconciler = admin.app.state.reconciler
    reconciler.nudge(workload["id"])
    reconciler.run_pending()
    assert admin.get(path).json()["status"] == "stopped"

    response = other["client"].post(f"{path}/start")

    if open_mode:
        assert response.status_code == 202, response.text
    else:
        assert _refused(response), response.text
        assert admin.get(path).json()["status"] == "stopped"
        assert admin.post(f"{path}/start").status_code == 202


def test_non_admin_replacement_needs_the_open_mode(admin: TestClient, open_mode: bool) -> None:
    other = create_user(admin)
    workload = _create(admin).json()
    path = f"{API}/workloads/{workload['id']}"
    _share(admin, path, other["user"]["id"])
    user: TestClient = other["client"]
    draft = user.post(f"{API}/artifacts", json={"name": "mine", "spec": _spec()})
    assert draft.status_code == 201, draft.text

    response = user.post(f"{path}/replacement", json={"artifactId": draft.json()["id"]})

    if open_mode:
        assert response.status_code in (200, 201, 202), response.text
    else:
        assert _refused(response), response.text


def test_non_admin_start_of_a_deployment_needs_the_open_mode(
    admin: TestClient, open_mode: bool
) -> None:
    other = create_user(admin)
    artifact = admin.post(f"{API}/artifacts", json={"name": "app", "spec": _spec()}).json()
    locked = admin.patch(f"{API}/artifacts/{artifact['id']}", json={"status": "locked"})
    assert locked.status_code == 200, locked.text
    workload = admin.post(f"{API}/workloads", json={"artifactId": artifact["id"]}).json()
    deployment = admin.post(f"{API}/console/deployments", json={"workloadId": workload["id"]})
    assert deployment.status_code == 201, deployment.text
    path = f"{API}/console/deployments/{deployment.json()['id']}"
    _share(admin, path, other["user"]["id"], role="OWNER")
    _share(admin, f"{API}/workloads/{workload['id']}", other["user"]["id"])
    assert admin.post(f"{path}/stop").status_code == 202
    reconciler = admin.app.state.reconciler
    reconciler.nudge(workload["id"])
    reconciler.run_pending()

    response = other["client"].post(f"{path}/start")

    if open_mode:
        assert response.status_code == 202, response.text
    else:
        assert _refused(response), response.text


def test_a_container_without_entrypoint_is_refused_before_it_is_stored(admin: TestClient) -> None:
    spec = fast_spec()
    del spec["containerGroups"][0]["containers"][0]["entrypoint"]
    body = {"name": "image-only", "artifact": {"name": "image-only", "spec": spec}}
    response = admin.post(f"{API}/workloads", json=body)
    assert response.status_code == 422, response.text
    assert response.json()["code"] == "entrypoint_required"
    assert "has no entrypoint" in response.json()["message"]
    assert admin.get(f"{API}/workloads").json()["totalCount"] == 0

"""What a workload may run, for whom, and with whose secrets."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import select

from dockyard.server.workloads.models import Proton
from tests.factories import create_user
from tests.server.workloads.conftest import Fake, fast_spec

ARTIFACTS = "/api/v2/artifacts"
WORKLOADS = "/api/v2/workloads"


def _share(client: TestClient, path: str, user_id: str, role: str) -> None:
    body = {
        "operation": "updateRoles",
        "roles": [{"shareRecipientType": "user", "id": user_id, "role": role}],
    }
    response = client.patch(f"{path}/sharedRoles", json=body)
    assert response.status_code == 204, response.text


def _credential(client: TestClient, token: str) -> str:
    body = {"name": "api", "credentialType": "api_token", "apiToken": token}
    response = client.post("/api/v2/credentials", json=body)
    assert response.status_code == 201, response.text
    return response.json()["credentialId"]


def _spec_with_secrets(*credentials: tuple[str, str]) -> dict[str, Any]:
    """A spec with one `dr-credential` variable per (variable name, credential id)."""
    spec = fast_spec()
    spec["containerGroups"][0]["containers"][0]["environmentVars"] = [
        {"name": name, "source": "dr-credential", "drCredentialId": cred, "key": "apiToken"}
        for name, cred in credentials
    ]
    return spec


def _artifact(client: TestClient, spec: dict[str, Any], *, locked: bool = False) -> str:
    body = {"name": "app", "spec": spec, "status": "locked" if locked else "draft"}
    response = client.post(ARTIFACTS, json=body)
    assert response.status_code == 201, response.text
    return response.json()["id"]


def _started_env(fake: Fake, workload_id: str) -> dict[str, str]:
    with fake.app.state.db.unit_of_work(write=False) as session:
        proton_id = session.scalar(
            select(Proton.id).where(Proton.workload_id == workload_id, Proton.role == "active")
        )
    spec = fake.runtime.spec_of(proton_id)
    assert spec is not None, "the workload was not started"
    return dict(spec.groups[0].containers[0].env)


def test_a_viewer_cannot_run_a_draft_but_may_run_a_locked_version(client: TestClient) -> None:
    owner = create_user(client, "owner")
    viewer = create_user(client, "viewer")
    draft = _artifact(owner["client"], fast_spec())
    locked = _artifact(owner["client"], fast_spec(), locked=True)
    for artifact_id in (draft, locked):
        _share(owner["client"], f"{ARTIFACTS}/{artifact_id}", viewer["user"]["id"], "READ_ONLY")
    refused = viewer["client"].post(WORKLOADS, json={"artifactId": draft})
    assert (refused.status_code, refused.json()["code"]) == (403, "forbidden")
    assert viewer["client"].post(WORKLOADS, json={"artifactId": locked}).status_code == 201
    # The owner's own draft is still theirs to run: the viewer did not take it.
    assert owner["client"].post(WORKLOADS, json={"artifactId": draft}).status_code == 201


def test_a_viewer_cannot_replace_onto_a_draft(client: TestClient, fake: Fake) -> None:
    owner = create_user(client, "owner")
    viewer = create_user(client, "viewer")
    own_draft = _artifact(viewer["client"], fast_spec())
    workload = viewer["client"].post(WORKLOADS, json={"artifactId": own_draft}).json()
    fake.advance(3)
    draft = _artifact(owner["client"], fast_spec())
    _share(owner["client"], f"{ARTIFACTS}/{draft}", viewer["user"]["id"], "READ_ONLY")
    refused = viewer["client"].post(
        f"{WORKLOADS}/{workload['id']}/replacement", json={"artifactId": draft}
    )
    assert (refused.status_code, refused.json()["code"]) == (403, "forbidden")


def test_draft_in_use_names_only_workloads_the_caller_can_see(client: TestClient) -> None:
    owner = create_user(client, "owner")
    editor = create_user(client, "editor")
    draft = _artifact(owner["client"], fast_spec())
    _share(owner["client"], f"{ARTIFACTS}/{draft}", editor["user"]["id"], "EDITOR")
    theirs = editor["client"].post(WORKLOADS, json={"artifactId": draft, "name": "hidden"})
    assert theirs.status_code == 201
    refused = owner["client"].post(WORKLOADS, json={"artifactId": draft})
    assert (refused.status_code, refused.json()["code"]) == (409, "draft_artifact_in_use")
    assert refused.json()["blockers"] == []
    assert theirs.json()["id"] not in refused.text and "hidden" not in refused.text
    # Deleting the draft is refused the same way: in use, by nothing the owner may see.
    blocked = owner["client"].delete(f"{ARTIFACTS}/{draft}")
    assert (blocked.status_code, blocked.json()["code"]) == (409, "artifact_in_use")
    assert blocked.json()["blockers"] == [] and "hidden" not in blocked.text
    # Admins see everything, and are told everything.
    shown = client.post(WORKLOADS, json={"artifactId": draft})
    assert [b["id"] for b in shown.json()["blockers"]] == [theirs.json()["id"]]


def test_a_workload_runs_only_credentials_its_creator_may_use(client: TestClient) -> None:
    alice = create_user(client, "alice")
    bob = create_user(client, "bob")
    bobs = _credential(bob["client"], "bob-secret")
    # The admin may reference anyone's credential; a non-admin running that artifact may not.
    published = _artifact(client, _spec_with_secrets(("TOKEN", bobs)), locked=True)
    for user in (alice, bob):
        _share(client, f"{ARTIFACTS}/{published}", user["user"]["id"], "READ_ONLY")
    refused = alice["client"].post(WORKLOADS, json={"artifactId": published})
    assert (refused.status_code, refused.json()["code"]) == (422, "credential_not_usable")
    assert bobs in refused.json()["message"]
    assert bob["client"].post(WORKLOADS, json={"artifactId": published}).status_code == 201


def test_secrets_come_only_from_the_creators_credentials(client: TestClient, fake: Fake) -> None:
    alice = create_user(client, "alice")
    editor = create_user(client, "editor")
    alices = _credential(alice["client"], "alice-secret")
    editors = _credential(editor["client"], "editor-secret")
    draft = _artifact(alice["client"], _spec_with_secrets(("MINE", alices)))
    url = f"{ARTIFACTS}/{draft}"
    workload = alice["client"].post(WORKLOADS, json={"artifactId": draft}).json()
    fake.advance(3)
    assert _started_env(fake, workload["id"])["MINE"] == "alice-secret"

    # An editor may not keep (or add) the creator's credential in a spec they write, such as
    # one whose entrypoint prints it.
    _share(alice["client"], url, editor["user"]["id"], "EDITOR")
    leaky = _spec_with_secrets(("MINE", alices))
    leaky["containerGroups"][0]["containers"][0]["entrypoint"] = ["sh", "-c", "echo $MINE"]
    kept = editor["client"].patch(url, json={"spec": leaky})
    assert (kept.status_code, kept.json()["code"]) == (422, "credential_not_usable")
    assert alices in kept.json()["message"]
    assert editor["client"].put(url, json={"name": "app", "spec": leaky}).status_code == 422
    assert editor["client"].patch(url, json={"name": "renamed"}).status_code == 200

    # Their own credential is theirs to add, but a workload of alice's never receives it.
    edited = editor["client"].patch(url, json={"spec": _spec_with_secrets(("THEIRS", editors))})
    assert edited.status_code == 200, edited.text
    assert alice["client"].post(f"{WORKLOADS}/{workload['id']}/stop").status_code == 202
    fake.advance(3)
    assert alice["client"].post(f"{WORKLOADS}/{workload['id']}/start").status_code == 202
    fake.advance(3)
    env = _started_env(fake, workload["id"])
    assert "THEIRS" not in env and "MINE" not in env

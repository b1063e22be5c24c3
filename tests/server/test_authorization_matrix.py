"""Who may do what: every sharing role × every action × every kind of object.

Each table row is an action; its columns give the status each kind of caller gets:

    creator   made the object (and owns its repository, or its workload)
    OWNER     holds a shared OWNER grant on the object itself
    editor    EDITOR, READ_WRITE or USER (the same rights)
    CONSUMER  invoke, and see
    viewer    READ_ONLY or OBSERVER (the same rights)
    none      no grant at all
    admin     an administrator

A list is 200 when the object is in the caller's page and 404 when it is not. Every caller
gets a world of their own (the creator's objects, shared with them in their role), so the
actions of one caller never change what another finds. Invoke goes through the real proxy to a
real upstream; the fake runtime stands in for containers, and every table runs on SQLite and
PostgreSQL.
"""

# ruff: noqa: E501  (the tables read best one action per line)

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from dockyard.server.workloads.models import Proton, Replica, Workload
from tests.conftest import ADMIN_TOKEN
from tests.factories import create_user, service_spec
from tests.server.proxy.upstreams import LoopThread, Upstream

COLUMNS = ("creator", "OWNER", "editor", "CONSUMER", "viewer", "none", "admin")
# Every role of the reference Dockyard gives, with the column that states its rights.
ACTORS = {
    "creator": "creator",
    "OWNER": "OWNER",
    "EDITOR": "editor",
    "READ_WRITE": "editor",
    "USER": "editor",
    "CONSUMER": "CONSUMER",
    "READ_ONLY": "viewer",
    "OBSERVER": "viewer",
    "none": "none",
    "admin": "admin",
}

ARTIFACTS = "/api/v2/artifacts"
REPOSITORIES = "/api/v2/artifactRepositories"
WORKLOADS = "/api/v2/workloads"
DEPLOYMENTS = "/api/v2/console/deployments"
CREDENTIALS = "/api/v2/credentials"

Action = Callable[["World"], httpx.Response | int]


@dataclass
class World:
    """One caller's copy of the creator's objects."""

    app: Any
    creator: TestClient
    caller: TestClient
    caller_id: str
    caller_token: str
    upstream_port: int
    # Invoke goes through this client, which holds the app's one event loop: the proxy keeps
    # upstream connections open across requests (a client of its own would run each request
    # on a new loop). The caller's token is sent with each request.
    host: TestClient
    ids: dict[str, str] = field(default_factory=dict)

    def __getitem__(self, name: str) -> str:
        return self.ids[name]


# --- building worlds ---------------------------------------------------------------------


def _post(client: TestClient, path: str, body: dict[str, Any]) -> dict[str, Any]:
    response = client.post(path, json=body)
    assert response.status_code in (200, 201), response.text
    return response.json()


def _artifact(client: TestClient, name: str, *, locked: bool = False, repo: str | None = None):
    body: dict[str, Any] = {"name": name, "spec": service_spec()}
    body["status"] = "locked" if locked else "draft"
    if repo is not None:
        body["artifactRepositoryId"] = repo
    return _post(client, ARTIFACTS, body)


def _workload(client: TestClient, artifact_id: str) -> str:
    return _post(client, WORKLOADS, {"artifactId": artifact_id})["id"]


def _share(client: TestClient, path: str, user_id: str, role: str) -> None:
    body = {
        "operation": "updateRoles",
        "roles": [{"shareRecipientType": "user", "id": user_id, "role": role}],
    }
    response = client.patch(f"{path}/sharedRoles", json=body)
    assert response.status_code == 204, response.text


def _serve(app: Any, workload_id: str, port: int) -> None:
    """Give the workload one ready replica on the test upstream (the reconciler is off)."""
    with app.state.db.unit_of_work() as session:
        proton_id = session.scalar(
            select(Proton.id).where(Proton.workload_id == workload_id, Proton.role == "active")
        )
        session.add(
            Replica(
                proton_id=proton_id,
                group_name="default",
                index=0,
                phase="running",
                host="127.0.0.1",
                port=port,
                ready=True,
            )
        )
        session.get(Workload, workload_id).status = "running"


def _sync_routes(app: Any) -> None:
    table = app.state.routes
    before = table.version
    table.poke()
    deadline = time.monotonic() + 10
    while table.version < before + 2 and time.monotonic() < deadline:
        time.sleep(0.01)


# --- actions -----------------------------------------------------------------------------


def listed(client: TestClient, path: str, object_id: str, **params: Any) -> int:
    """200 when the object is on the caller's page of the list, else 404."""
    response = client.get(path, params={"limit": 100, **params})
    assert response.status_code == 200, response.text
    return 200 if object_id in {item["id"] for item in response.json()["data"]} else 404


def invoke(world: World, path: str) -> httpx.Response:
    headers = {"Authorization": f"Bearer {world.caller_token}"}
    return world.host.get(f"/api/v2/endpoints/{path}/echo", headers=headers)


SHARE_BODY = {
    "operation": "updateRoles",
    "roles": [{"shareRecipientType": "user", "username": "bystander", "role": "READ_ONLY"}],
}


# --- the tables --------------------------------------------------------------------------
# fmt: off
#                                            creator OWNER editor CONSUMER viewer none admin

REPOSITORY: dict[str, tuple[tuple[int, ...], Action]] = {
    "read": ((200, 200, 200, 200, 200, 404, 200), lambda w: w.caller.get(f"{REPOSITORIES}/{w['repo']}")),
    "list": ((200, 200, 200, 200, 200, 404, 200), lambda w: listed(w.caller, REPOSITORIES, w["repo"])),
    "update": ((200, 200, 200, 403, 403, 404, 200), lambda w: w.caller.patch(f"{REPOSITORIES}/{w['repo']}", json={"description": "x"})),
    "see grants": ((200, 200, 200, 200, 200, 404, 200), lambda w: w.caller.get(f"{REPOSITORIES}/{w['repo']}/sharedRoles")),
    "share": ((204, 204, 403, 403, 403, 404, 204), lambda w: w.caller.patch(f"{REPOSITORIES}/{w['repo']}/sharedRoles", json=SHARE_BODY)),
    "add an artifact": ((201, 201, 201, 403, 403, 404, 201), lambda w: w.caller.post(ARTIFACTS, json={"name": "added", "spec": service_spec(), "artifactRepositoryId": w["repo"]})),
    "see its artifacts": ((200, 200, 200, 200, 200, 404, 200), lambda w: w.caller.get(f"{ARTIFACTS}/{w['in_repo']}")),
    "delete": ((204, 204, 403, 403, 403, 404, 204), lambda w: w.caller.delete(f"{REPOSITORIES}/{w['repo']}")),
}

DRAFT: dict[str, tuple[tuple[int, ...], Action]] = {
    "read": ((200, 200, 200, 200, 200, 404, 200), lambda w: w.caller.get(f"{ARTIFACTS}/{w['draft']}")),
    "list": ((200, 200, 200, 200, 200, 404, 200), lambda w: listed(w.caller, ARTIFACTS, w["draft"])),
    "update": ((200, 200, 200, 403, 403, 404, 200), lambda w: w.caller.patch(f"{ARTIFACTS}/{w['draft']}", json={"description": "x"})),
    "replace (PUT)": ((200, 200, 200, 403, 403, 404, 200), lambda w: w.caller.put(f"{ARTIFACTS}/{w['draft']}", json={"name": "put", "spec": service_spec()})),
    "see grants": ((200, 200, 200, 200, 200, 404, 200), lambda w: w.caller.get(f"{ARTIFACTS}/{w['draft']}/sharedRoles")),
    "share": ((204, 204, 403, 403, 403, 404, 204), lambda w: w.caller.patch(f"{ARTIFACTS}/{w['draft']}/sharedRoles", json=SHARE_BODY)),
    # A clone lands in the artifact's repository: only the creator (and admins) may add there.
    "clone": ((200, 403, 403, 403, 403, 404, 200), lambda w: w.caller.post(f"{ARTIFACTS}/{w['draft']}/clone", json={"name": "c"})),
    "run as a workload": ((201, 201, 201, 403, 403, 404, 201), lambda w: w.caller.post(WORKLOADS, json={"artifactId": w["draft_to_run"]})),
    "replace a workload onto it": ((202, 202, 202, 403, 403, 404, 202), lambda w: w.caller.post(f"{WORKLOADS}/{w['own_draft_workload']}/replacement", json={"artifactId": w["draft_to_replace"]})),
    "lock": ((200, 200, 200, 403, 403, 404, 200), lambda w: w.caller.patch(f"{ARTIFACTS}/{w['draft_to_lock']}", json={"status": "locked"})),
    "delete": ((204, 204, 403, 403, 403, 404, 204), lambda w: w.caller.delete(f"{ARTIFACTS}/{w['draft']}")),
}

LOCKED: dict[str, tuple[tuple[int, ...], Action]] = {
    "read": ((200, 200, 200, 200, 200, 404, 200), lambda w: w.caller.get(f"{ARTIFACTS}/{w['locked']}")),
    "list": ((200, 200, 200, 200, 200, 404, 200), lambda w: listed(w.caller, ARTIFACTS, w["locked"])),
    "change its spec": ((409, 409, 409, 403, 403, 404, 409), lambda w: w.caller.patch(f"{ARTIFACTS}/{w['locked']}", json={"name": "x"})),
    "change its tags": ((200, 200, 200, 403, 403, 404, 200), lambda w: w.caller.patch(f"{ARTIFACTS}/{w['locked']}", json={"tags": [{"name": "k", "value": "v"}]})),
    "share": ((204, 204, 403, 403, 403, 404, 204), lambda w: w.caller.patch(f"{ARTIFACTS}/{w['locked']}/sharedRoles", json=SHARE_BODY)),
    "clone": ((200, 403, 403, 403, 403, 404, 200), lambda w: w.caller.post(f"{ARTIFACTS}/{w['locked']}/clone", json={"name": "c"})),
    # A published version is meant to be run: seeing it is enough.
    "run as a workload": ((201, 201, 201, 201, 201, 404, 201), lambda w: w.caller.post(WORKLOADS, json={"artifactId": w["locked"]})),
    "replace a workload onto it": ((202, 202, 202, 202, 202, 404, 202), lambda w: w.caller.post(f"{WORKLOADS}/{w['own_locked_workload']}/replacement", json={"artifactId": w["locked"]})),
    "delete": ((409, 409, 403, 403, 403, 404, 409), lambda w: w.caller.delete(f"{ARTIFACTS}/{w['locked']}")),
}

WORKLOAD: dict[str, tuple[tuple[int, ...], Action]] = {
    "read": ((200, 200, 200, 200, 200, 404, 200), lambda w: w.caller.get(f"{WORKLOADS}/{w['workload']}")),
    "list": ((200, 200, 200, 200, 200, 404, 200), lambda w: listed(w.caller, WORKLOADS, w["workload"])),
    "read its events": ((200, 200, 200, 200, 200, 404, 200), lambda w: w.caller.get(f"{WORKLOADS}/{w['workload']}/events")),
    "update": ((200, 200, 200, 403, 403, 404, 200), lambda w: w.caller.patch(f"{WORKLOADS}/{w['workload']}", json={"description": "x"})),
    "see grants": ((200, 200, 200, 200, 200, 404, 200), lambda w: w.caller.get(f"{WORKLOADS}/{w['workload']}/sharedRoles")),
    "share": ((204, 204, 403, 403, 403, 404, 204), lambda w: w.caller.patch(f"{WORKLOADS}/{w['workload']}/sharedRoles", json=SHARE_BODY)),
    "invoke": ((200, 200, 200, 200, 403, 404, 200), lambda w: invoke(w, f"workloads/{w['workload']}")),
    "replace onto a version": ((202, 202, 202, 403, 403, 404, 202), lambda w: w.caller.post(f"{WORKLOADS}/{w['workload']}/replacement", json={"artifactId": w["next_version"]})),
    "put a deployment in front": ((201, 201, 201, 403, 403, 404, 201), lambda w: w.caller.post(DEPLOYMENTS, json={"workloadId": w["workload"]})),
    "start": ((202, 202, 202, 403, 403, 404, 202), lambda w: w.caller.post(f"{WORKLOADS}/{w['workload']}/start")),
    "stop": ((202, 202, 202, 403, 403, 404, 202), lambda w: w.caller.post(f"{WORKLOADS}/{w['workload']}/stop")),
    "delete": ((204, 204, 403, 403, 403, 404, 204), lambda w: w.caller.delete(f"{WORKLOADS}/{w['spare_workload']}")),
}

DEPLOYMENT: dict[str, tuple[tuple[int, ...], Action]] = {
    "read": ((200, 200, 200, 200, 200, 404, 200), lambda w: w.caller.get(f"{DEPLOYMENTS}/{w['deployment']}")),
    "list": ((200, 200, 200, 200, 200, 404, 200), lambda w: listed(w.caller, DEPLOYMENTS, w["deployment"])),
    "audit log": ((200, 200, 200, 200, 200, 404, 200), lambda w: w.caller.get(f"{DEPLOYMENTS}/{w['deployment']}/auditLog")),
    "update": ((200, 200, 200, 403, 403, 404, 200), lambda w: w.caller.patch(f"{DEPLOYMENTS}/{w['deployment']}", json={"description": "x"})),
    "see grants": ((200, 200, 200, 200, 200, 404, 200), lambda w: w.caller.get(f"{DEPLOYMENTS}/{w['deployment']}/sharedRoles")),
    "share": ((204, 204, 403, 403, 403, 404, 204), lambda w: w.caller.patch(f"{DEPLOYMENTS}/{w['deployment']}/sharedRoles", json=SHARE_BODY)),
    "invoke": ((200, 200, 200, 200, 403, 404, 200), lambda w: invoke(w, f"deployments/{w['deployment']}")),
    # Stop and start act on the workload behind it, which only its creator may change here.
    "start": ((202, 403, 403, 403, 403, 404, 202), lambda w: w.caller.post(f"{DEPLOYMENTS}/{w['deployment']}/start")),
    "stop": ((202, 403, 403, 403, 403, 404, 202), lambda w: w.caller.post(f"{DEPLOYMENTS}/{w['deployment']}/stop")),
    # Re-pointed at a workload of the caller's own: the deployment's own right decides.
    "re-point to another workload": ((200, 200, 200, 403, 403, 404, 200), lambda w: w.caller.patch(f"{DEPLOYMENTS}/{w['deployment_to_repoint']}", json={"workloadId": w["own_locked_workload"]})),
    "delete": ((204, 204, 403, 403, 403, 404, 204), lambda w: w.caller.delete(f"{DEPLOYMENTS}/{w['deployment']}")),
}

# fmt: on


# --- what each table's world holds ---------------------------------------------------------


def repository_world(world: World, share: Callable[[str], None]) -> None:
    artifact = _artifact(world.creator, "in-repo")
    world.ids["repo"] = artifact["artifactRepositoryId"]
    world.ids["in_repo"] = artifact["id"]
    share(f"{REPOSITORIES}/{world['repo']}")


def draft_world(world: World, share: Callable[[str], None]) -> None:
    # The artifacts share one repository; each is shared on its own, not through it.
    first = _artifact(world.creator, "draft")
    repo = first["artifactRepositoryId"]
    world.ids["draft"] = first["id"]
    for name in ("draft_to_run", "draft_to_replace", "draft_to_lock"):
        world.ids[name] = _artifact(world.creator, name, repo=repo)["id"]
    for name in ("draft", "draft_to_run", "draft_to_replace", "draft_to_lock"):
        share(f"{ARTIFACTS}/{world[name]}")
    own = _post(world.caller, WORKLOADS, {"artifact": {"name": "own", "spec": service_spec()}})
    world.ids["own_draft_workload"] = own["id"]


def locked_world(world: World, share: Callable[[str], None]) -> None:
    world.ids["locked"] = _artifact(world.creator, "locked", locked=True)["id"]
    share(f"{ARTIFACTS}/{world['locked']}")
    own = _artifact(world.caller, "own", locked=True)["id"]
    world.ids["own_locked_workload"] = _workload(world.caller, own)


def workload_world(world: World, share: Callable[[str], None]) -> None:
    first = _artifact(world.creator, "svc", locked=True)
    second = _artifact(world.creator, "svc", locked=True, repo=first["artifactRepositoryId"])
    world.ids["workload"] = _workload(world.creator, first["id"])
    world.ids["spare_workload"] = _workload(world.creator, first["id"])
    world.ids["next_version"] = second["id"]
    # The caller may see the next version (as a consumer of the repository would).
    share(f"{ARTIFACTS}/{second['id']}")
    share(f"{WORKLOADS}/{world['workload']}")
    share(f"{WORKLOADS}/{world['spare_workload']}")
    _serve(world.app, world["workload"], world.upstream_port)


def deployment_world(world: World, share: Callable[[str], None]) -> None:
    artifact = _artifact(world.creator, "svc", locked=True)
    workload = _workload(world.creator, artifact["id"])
    other = _workload(world.creator, artifact["id"])
    world.ids["deployment"] = _post(world.creator, DEPLOYMENTS, {"workloadId": workload})["id"]
    # Once pointed at the caller's own workload, a deployment is the caller's too (owners of
    # a workload own what is in front of it): that one gets a deployment of its own.
    repointed = _post(world.creator, DEPLOYMENTS, {"workloadId": other})["id"]
    world.ids["deployment_to_repoint"] = repointed
    share(f"{DEPLOYMENTS}/{world['deployment']}")
    share(f"{DEPLOYMENTS}/{repointed}")
    _serve(world.app, workload, world.upstream_port)
    own = _artifact(world.caller, "own", locked=True)["id"]
    world.ids["own_locked_workload"] = _workload(world.caller, own)


TABLES = {
    "repository": (REPOSITORY, repository_world),
    "draft artifact": (DRAFT, draft_world),
    "locked artifact": (LOCKED, locked_world),
    "workload": (WORKLOAD, workload_world),
    "deployment": (DEPLOYMENT, deployment_world),
}


# --- running them --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def upstream() -> Iterator[Upstream]:
    loops = LoopThread()
    server = Upstream(loops, "matrix")
    yield server
    server.stop()
    loops.close()


def _status(result: httpx.Response | int) -> int:
    return result if isinstance(result, int) else result.status_code


@pytest.mark.parametrize("kind", list(TABLES))
def test_every_role_gets_what_its_rights_allow(
    client: TestClient, upstream: Upstream, kind: str
) -> None:
    table, build = TABLES[kind]
    creator = create_user(client, "creator")
    create_user(client, "bystander")  # the recipient of every "share" action
    mismatches: list[str] = []
    for actor, column in ACTORS.items():
        if actor == "creator":
            made = creator
        elif actor == "admin":
            me = client.get("/api/v2/users/me").json()
            made = {"client": client, "user": me, "token": ADMIN_TOKEN}
        else:
            made = create_user(client, f"as-{actor.lower().replace('_', '-')}")
        caller, caller_id = made["client"], made["user"]["id"]
        world = World(
            app=client.app,
            creator=creator["client"],
            caller=caller,
            caller_id=caller_id,
            caller_token=made["token"],
            upstream_port=upstream.port,
            host=client,
        )

        def share(path: str, role: str = actor, user_id: str = caller_id) -> None:
            if role in ("creator", "none", "admin"):
                return
            _share(creator["client"], path, user_id, role)

        build(world, share)
        _sync_routes(client.app)
        index = COLUMNS.index(column)
        for action, (expected, act) in table.items():
            got = _status(act(world))
            if got != expected[index]:
                mismatches.append(f"{actor:>10} {action}: got {got}, expected {expected[index]}")
    assert not mismatches, f"{kind}:\n" + "\n".join(mismatches)


# Credentials are never shared: their owner uses them, admins see them, nobody else does.
CredentialAction = Callable[[TestClient, str], httpx.Response | int]

# fmt: off
#                                                  owner other admin
CREDENTIAL: dict[str, tuple[tuple[int, ...], CredentialAction]] = {
    "read": ((200, 404, 200), lambda caller, cred: caller.get(f"{CREDENTIALS}/{cred}")),
    "list": ((200, 404, 200), lambda caller, cred: _listed_credential(caller, cred)),
    "reference in a spec": ((201, 422, 201), lambda caller, cred: caller.post(ARTIFACTS, json={"name": "a", "spec": _spec_using(cred)})),
    "delete": ((204, 404, 204), lambda caller, cred: caller.delete(f"{CREDENTIALS}/{cred}")),
}
# fmt: on


def test_credentials_belong_to_their_owner(client: TestClient) -> None:
    owner = create_user(client, "owner")
    other = create_user(client, "other")
    callers = {"owner": owner["client"], "other": other["client"], "admin": client}
    mismatches: list[str] = []
    for index, (name, caller) in enumerate(callers.items()):
        body = {"name": "db", "credentialType": "api_token", "apiToken": "t"}
        credential = _post(owner["client"], CREDENTIALS, body)["credentialId"]
        for action, (expected, act) in CREDENTIAL.items():
            got = _status(act(caller, credential))
            if got != expected[index]:
                mismatches.append(f"{name} {action}: got {got}, expected {expected[index]}")
    assert not mismatches, "\n".join(mismatches)


def _spec_using(credential_id: str) -> dict[str, Any]:
    spec = service_spec()
    spec["containerGroups"][0]["containers"][0]["environmentVars"] = [
        {"name": "T", "source": "dr-credential", "drCredentialId": credential_id, "key": "apiToken"}
    ]
    return spec


def _listed_credential(client: TestClient, credential_id: str) -> int:
    response = client.get(CREDENTIALS, params={"limit": 100})
    assert response.status_code == 200, response.text
    ids = {item["credentialId"] for item in response.json()["data"]}
    return 200 if credential_id in ids else 404

"""The production half of the lifecycle for real: the seed tutorial end to end through a
deployment, new versions rolled out under steady load with no failed request, and a server
killed in the middle of a replacement."""

from __future__ import annotations

from typing import Any

from tests.e2e.conftest import Engine, Server, wait_for
from tests.e2e.test_workloads import wait_status
from tests.support.load import LoadLoop


def _invoke(server: Server, path: str) -> str:
    response = server.api.get(f"/endpoints/{path}")
    assert response.status_code == 200, response.text
    return response.json()["greeting"]


def _new_version(server: Server, engine: Engine, repository_id: str, greeting: str) -> dict:
    body = {
        "name": "tutorial",
        "spec": engine.web(greeting),
        "artifactRepositoryId": repository_id,
        "status": "locked",
    }
    response = server.api.post("/registry/artifacts", json=body)
    assert response.status_code == 201, response.text
    return response.json()


def test_seed_tutorial_and_rollouts_without_a_failed_request(
    server: Server, engine: Engine
) -> None:
    # Step 1: a development workload with an inline draft artifact, on the old paths.
    body = {"name": "tutorial", "artifact": {"name": "tutorial", "spec": engine.web("v1")}}
    created = server.api.post("/console/workloads/", json=body)
    assert created.status_code == 201, created.text
    workload_id, artifact_id = created.json()["id"], created.json()["artifactId"]
    wait_status(server, workload_id, "running")
    assert _invoke(server, f"workloads/{workload_id}/") == "v1"

    # Step 2: iterate — PATCH metadata, PUT a changed spec, restart, see the change.
    patched = server.api.patch(f"/registry/artifacts/{artifact_id}", json={"description": "dev"})
    assert patched.status_code == 200
    put = server.api.put(
        f"/registry/artifacts/{artifact_id}",
        json={"name": "tutorial", "spec": engine.web("v2")},
    )
    assert put.status_code == 200, put.text
    assert server.api.post(f"/console/workloads/{workload_id}/stop").status_code == 202
    wait_status(server, workload_id, "stopped")
    assert server.api.post(f"/console/workloads/{workload_id}/start").status_code == 202
    wait_status(server, workload_id, "running")
    assert _invoke(server, f"workloads/{workload_id}/") == "v2"

    # Step 3: lock it (the older API's word is "registered").
    locked = server.api.patch(f"/registry/artifacts/{artifact_id}", json={"status": "registered"})
    assert locked.status_code == 200 and locked.json()["version"] == 1
    assert server.api.get(f"/workloads/{workload_id}").json()["expiresAt"] is None

    # Step 4: the governed deployment, called through its own stable endpoint.
    deployment = server.api.post("/console/deployments/", json={"workloadId": workload_id})
    assert deployment.status_code == 201, deployment.text
    deployment_id = deployment.json()["id"]
    endpoint = f"{server.url}/api/v2/endpoints/deployments/{deployment_id}/"
    wait_for("the deployment to be active", lambda: _active(server, deployment_id))
    repository_id = locked.json()["artifactRepositoryId"]

    with LoadLoop(endpoint, server.token) as load:
        # A new locked version on a new workload; the deployment switches once it runs.
        v3 = _new_version(server, engine, repository_id, "v3")
        second = server.api.post("/workloads", json={"artifactId": v3["id"]}).json()
        switch = server.api.patch(
            f"/console/deployments/{deployment_id}", json={"workloadId": second["id"]}
        )
        assert switch.status_code == 200, switch.text
        wait_for(
            "the deployment to switch",
            lambda: _deployment(server, deployment_id)["workloadId"] == second["id"],
            timeout=60,
        )
        wait_for("v3 to answer", lambda: load.greetings["v3"] > 20, timeout=30)
        # And a rolling replacement of that workload onto the next version.
        v4 = _new_version(server, engine, repository_id, "v4")
        started = server.api.post(
            f"/workloads/{second['id']}/replacement",
            json={"artifactId": v4["id"], "strategy": "rolling"},
        )
        assert started.status_code == 202, started.text
        wait_for(
            "the replacement to complete",
            lambda: _history(server, second["id"])[0]["status"] == "completed",
            timeout=90,
        )
        wait_for("v4 to answer", lambda: load.greetings["v4"] > 20, timeout=30)
    assert load.failures == {}, f"failed requests during the rollouts: {load.failures}"
    assert load.statuses[200] > 100
    assert set(load.greetings) <= {"v2", "v3", "v4"}

    # Who did what: the audit log, its chain verified.
    log = server.api.get(f"/console/deployments/{deployment_id}/auditLog").json()
    assert log["verified"] is True
    actions = [entry["action"] for entry in log["data"]]
    assert actions[:2] == ["create", "switch_requested"] and "switch_done" in actions
    server.api.delete(f"/console/deployments/{deployment_id}")


def test_kill_9_in_the_middle_of_a_replacement(server: Server, engine: Engine) -> None:
    first = server.api.post(
        "/artifacts", json={"name": "k9", "spec": engine.web("one"), "status": "locked"}
    ).json()
    workload = server.api.post("/workloads", json={"artifactId": first["id"]}).json()
    wait_status(server, workload["id"], "running")
    before = len(engine.objects(workload["id"]))
    second = _new_version(server, engine, first["artifactRepositoryId"], "two")
    started = server.api.post(
        f"/workloads/{workload['id']}/replacement",
        json={"artifactId": second["id"], "strategy": "rolling"},
    )
    assert started.status_code == 202
    wait_for(
        "the candidate to start",
        lambda: len(engine.objects(workload["id"])) > before,
        timeout=30,
    )
    server.kill9()
    server.start()
    # Serving resumes at once: the old or the new version answers.
    assert _invoke(server, f"workloads/{workload['id']}/") in ("one", "two")
    wait_for(
        "the replacement to finish after the restart",
        lambda: _history(server, workload["id"])[0]["status"] in ("completed", "errored"),
        timeout=90,
        context=lambda: (
            _history(server, workload["id"])[:1],
            server.api.get(f"/workloads/{workload['id']}/events?limit=8").json()["data"],
            server.log()[-2000:],
        ),
    )
    assert _history(server, workload["id"])[0]["status"] == "completed"
    assert _invoke(server, f"workloads/{workload['id']}/") == "two"
    # Nothing left behind: exactly one proton's worth of processes or containers.
    wait_for(
        "the old version's objects to go",
        lambda: len(engine.objects(workload["id"])) == before,
        timeout=30,
    )


def _deployment(server: Server, deployment_id: str) -> dict[str, Any]:
    return server.api.get(f"/console/deployments/{deployment_id}").json()


def _active(server: Server, deployment_id: str) -> bool:
    return _deployment(server, deployment_id)["status"] == "active"


def _history(server: Server, workload_id: str) -> list[dict[str, Any]]:
    return server.api.get(f"/workloads/{workload_id}/history").json()["data"] or [{"status": ""}]

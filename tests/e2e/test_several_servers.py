"""Two `dockyard serve` processes on one PostgreSQL database and one container engine: either
one serves the API and the invoke path, and when one dies the other keeps its workloads
healthy, with nothing started twice and nothing left behind."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.conftest import PG_URL, new_postgres_database, require_service
from tests.e2e.conftest import PodmanEngine, Server, wait_for


@pytest.fixture
def shared_database() -> Iterator[str]:
    require_service(PG_URL is not None, "several servers need DOCKYARD_TEST_DATABASE_URL")
    with new_postgres_database("dockyard_e2e") as url:
        yield url


@pytest.fixture(autouse=True)
def _clean_up() -> None:
    """This module's servers are its own (below), not the per-engine ones of conftest."""


@pytest.fixture
def podman(docker_url: str) -> PodmanEngine:
    return PodmanEngine(docker_url)


@pytest.fixture
def servers(
    shared_database: str, podman: PodmanEngine, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Server, Server]]:
    env = {**podman.server_env(), "DOCKYARD_DATABASE_URL": shared_database}
    first = Server(tmp_path_factory.mktemp("home-a"), env)
    second = Server(tmp_path_factory.mktemp("home-b"), env, token=first.token)
    first.start()
    second.start()
    try:
        yield first, second
    finally:
        # Whatever the test left, deleted through a server still alive (either may be dead).
        alive = next((s for s in (first, second) if s.process and s.process.poll() is None), None)
        if alive is not None:
            for workload in alive.api.get("/workloads").json().get("data", []):
                alive.api.delete(f"/workloads/{workload['id']}")
        first.stop()
        second.stop()


def _status(server: Server, workload_id: str) -> str:
    return server.api.get(f"/workloads/{workload_id}").json()["status"]


def _greeting(server: Server, workload_id: str) -> str | None:
    answer = server.api.get(f"/endpoints/workloads/{workload_id}/")
    return answer.json()["greeting"] if answer.status_code == 200 else None


def test_the_survivor_keeps_the_workloads_of_a_dead_server(
    servers: tuple[Server, Server], podman: PodmanEngine
) -> None:
    first, second = servers
    artifact = first.api.post(
        "/artifacts", json={"name": "shared", "spec": podman.web("both"), "status": "locked"}
    ).json()
    workload = first.api.post("/workloads", json={"artifactId": artifact["id"]}).json()
    wait_for("the workload to run", lambda: _status(first, workload["id"]) == "running", 60)
    # Both servers route to it: each one's routing table is read from the shared database (the
    # server whose reconciler did not make the change learns it at its next refresh).
    for server in (first, second):
        assert wait_for("an answer", lambda s=server: _greeting(s, workload["id"])) == "both"
    running = podman.objects(workload["id"])
    assert len(running) == 2  # one replica: its network container and its primary

    first.kill9()
    podman.kill_primary(workload["id"])
    wait_for(
        "the survivor to restart the killed container",
        lambda: (
            _greeting(second, workload["id"]) == "both"
            and any(e["eventType"] == "replica_restarted" for e in _events(second, workload["id"]))
        ),
        60,
    )
    assert len(podman.objects(workload["id"])) == 2  # restarted in place, nothing doubled

    # Deleting through the survivor removes what the dead server had started.
    assert second.api.delete(f"/workloads/{workload['id']}").status_code == 204
    wait_for("the containers to go", lambda: not podman.all_objects(workload["id"]), 60)


def _events(server: Server, workload_id: str) -> list[dict]:
    return server.api.get(f"/workloads/{workload_id}/events").json()["data"]


def test_the_autoscaler_sums_the_load_of_every_server(
    servers: tuple[Server, Server], podman: PodmanEngine
) -> None:
    # Two requests in flight through each server against a target of three per replica: no
    # server alone sees enough to scale, the two together do.
    from tests.e2e.test_autoscaling import _group, _slow_spec
    from tests.support.load import ParallelLoad

    first, second = servers
    spec, slow_path = _slow_spec(podman)
    scaling = {
        "minReplicaCount": 1,
        "maxReplicaCount": 3,
        "policies": [{"scalingMetric": "httpRequestsConcurrency", "target": 3}],
    }
    runtime = {"containerGroups": [{"name": "default", "autoscaling": scaling}]}
    body = {"artifact": {"name": "summed", "spec": spec}, "runtime": runtime}
    created = first.api.post("/workloads", json=body)
    assert created.status_code == 201, created.text
    workload_id = created.json()["id"]
    wait_for("one replica", lambda: _group(first, workload_id)["currentReplicaCount"] == 1, 120)
    paths = [f"{s.url}/api/v2/endpoints/workloads/{workload_id}/{slow_path}" for s in servers]
    with ParallelLoad(paths[0], first.token, 2), ParallelLoad(paths[1], second.token, 2):
        wait_for(
            "a second replica",
            lambda: _group(first, workload_id)["desiredReplicaCount"] >= 2,
            timeout=120,
            context=lambda: _group(first, workload_id),
        )
    scaled = [
        e["details"]
        for e in first.api.get(f"/workloads/{workload_id}/events").json()["data"]
        if e["eventType"] == "scaled"
    ]
    assert scaled and scaled[-1]["from"] == 1 and scaled[-1]["value"] > 3

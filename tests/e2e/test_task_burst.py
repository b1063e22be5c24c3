"""Many tasks at once on the private Podman, through a real `dockyard serve`: their starts
overlap on the engine, and a task's end is learnt from the engine's events, not by looking.

This server looks at every workload only once a minute unless told, so a task's end seen
within seconds was reported by the engine."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest

from tests.e2e.conftest import BUSYBOX_IMAGE, PodmanEngine, Server, wait_for

SWEEP_SECONDS = 60
TASKS = 6


@pytest.fixture(scope="module")
def engine(docker_url: str) -> PodmanEngine:
    # Podman alone: the process runtime has no event stream, and its replicas start one at a
    # time under its lock. The shared clean-up after each test uses this engine too.
    return PodmanEngine(docker_url)


@pytest.fixture(scope="module")
def server(engine: PodmanEngine, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    home = tmp_path_factory.mktemp("task-burst")
    env = {
        **engine.server_env(),
        "DOCKYARD_RECONCILE_SWEEP_SECONDS": str(SWEEP_SECONDS),
        "DOCKYARD_RECONCILE_WORKERS": "4",
    }
    running = Server(home, env)
    running.start()
    try:
        yield running
    finally:
        running.stop()


def _task(script: str) -> dict[str, Any]:
    container = {
        "name": "main",
        "primary": True,
        "imageUri": BUSYBOX_IMAGE,
        "entrypoint": ["sh", "-c", script],
    }
    spec = {"containerGroups": [{"name": "default", "containers": [container]}]}
    return {"artifact": {"name": "burst", "spec": spec}}


def _submit(server: Server, script: str) -> str:
    created = server.api.post("/workloads", json=_task(script))
    assert created.status_code == 201, created.text
    return created.json()["id"]


def _status(server: Server, workload_id: str) -> str:
    return server.api.get(f"/workloads/{workload_id}").json()["status"]


def test_tasks_submitted_together_start_side_by_side(server: Server, engine: PodmanEngine):
    since = int(time.time()) - 1
    ids = [_submit(server, "echo done") for _ in range(TASKS)]
    for workload_id in ids:
        wait_for("the tasks to succeed", lambda w=workload_id: _status(server, w) == "succeeded")
    # When the engine created and started each task's container, from its own events.
    events = engine.client.api.events(
        since=since, until=int(time.time()) + 1, decode=True, filters={"type": ["container"]}
    )
    created: dict[str, int] = {}
    started: dict[str, int] = {}
    for event in events:
        labels = event.get("Actor", {}).get("Attributes", {})
        if labels.get("dockyard.workload") not in ids:
            continue
        moments = {"create": created, "start": started}.get(event.get("Action", ""))
        if moments is not None:
            moments.setdefault(labels["dockyard.workload"], event["timeNano"])
    assert set(created) == set(started) == set(ids)
    # One start after the other would create each container after the previous one started;
    # side by side, some container is created while another is still on its way up.
    overlapping = [
        (a, b) for a in ids for b in ids if a != b and created[a] <= created[b] < started[a]
    ]
    assert overlapping, (created, started)
    # Each task's replica is its one container: no network container to make.
    for workload_id in ids:
        assert len(engine.all_objects(workload_id)) == 1


def test_a_tasks_end_is_learnt_from_the_engine(server: Server, engine: PodmanEngine):
    workload_id = _submit(server, "sleep 3; echo done")
    wait_for("the task to run", lambda: _status(server, workload_id) == "running", 30)
    # Running, and not looked at again for a minute: only the engine's report of the exit
    # can end it sooner.
    ended = wait_for(
        "the task to succeed",
        lambda: _status(server, workload_id) == "succeeded",
        SWEEP_SECONDS / 3,
    )
    assert ended
    logs = server.api.get(f"/workloads/{workload_id}/logs").json()["data"]
    assert [entry["message"] for entry in logs] == ["done"]

"""Autoscaling on a real `dockyard serve`, on the process runtime and the private Podman.

The workload's handler sleeps a second per request, so a bounded client controls how many
requests are in flight. With shortened windows: load adds a replica, the calm after it
removes it (after the stabilization window, drained), idleness takes the workload to zero,
and a request at zero wakes it and is served. Bounds are generous: this checks behaviour, and
the benchmark (bench/autoscale.py) measures speed.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.e2e.conftest import Engine, PodmanEngine, Server, wait_for
from tests.support.load import ParallelLoad

SLOW_SECONDS = 1.0
LOAD_CLIENTS = 4


@pytest.fixture(scope="module")
def server(engine: Engine, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    home = tmp_path_factory.mktemp(f"autoscale-{engine.name}")
    running = Server(
        home,
        {
            **engine.server_env(),
            "DOCKYARD_SCALE_DOWN_STABILIZATION_SECONDS": "4",
            "DOCKYARD_SCALE_TO_ZERO_IDLE_SECONDS": "6",
            "DOCKYARD_DRAIN_SECONDS": "10",
            "DOCKYARD_LOAD_REPORT_SECONDS": "0.25",
            "DOCKYARD_SCALE_INTERVAL_SECONDS": "0.5",
        },
    )
    running.start()
    try:
        yield running
    finally:
        running.stop()


def _slow_spec(engine: Engine) -> tuple[dict[str, Any], str]:
    """The engine's web app with a handler that sleeps, and the path that reaches it."""
    spec = engine.web("scaled")
    primary = spec["containerGroups"][0]["containers"][0]
    if isinstance(engine, PodmanEngine):
        # busybox httpd runs CGI scripts from cgi-bin: one that sleeps before it answers
        # (its header lines end in CRLF, as HTTP wants; httpd passes them on as written).
        script = (
            f"#!/bin/sh\nsleep {SLOW_SECONDS:g}\n"
            "printf 'Content-Type: text/plain\\r\\nContent-Length: 8\\r\\n\\r\\nslow ok\\n'\n"
        )
        cgi = (
            "mkdir -p /tmp/www/cgi-bin && "
            f"cat > /tmp/www/cgi-bin/slow <<'EOF'\n{script}EOF\n"
            "chmod +x /tmp/www/cgi-bin/slow && "
        )
        primary["entrypoint"][-1] = cgi + primary["entrypoint"][-1]
        return spec, "cgi-bin/slow"
    primary["environmentVars"].append({"name": "SLOW_SECONDS", "value": f"{SLOW_SECONDS:g}"})
    return spec, "slow"


def _group(server: Server, workload_id: str) -> dict[str, Any]:
    body = server.api.get(f"/workloads/{workload_id}").json()
    return {"status": body["status"], **body["runtime"]["containerGroups"][0]}


def test_scale_up_down_to_zero_and_wake(server: Server, engine: Engine) -> None:
    spec, slow_path = _slow_spec(engine)
    scaling = {
        "minReplicaCount": 0,
        "maxReplicaCount": 3,
        "policies": [{"scalingMetric": "httpRequestsConcurrency", "target": 1}],
    }
    response = server.api.post(
        "/workloads",
        json={
            "name": "scaled",
            "artifact": {"name": "scaled", "spec": spec},
            "runtime": {"containerGroups": [{"name": "default", "autoscaling": scaling}]},
        },
    )
    assert response.status_code == 201, response.text
    workload_id = response.json()["id"]
    endpoint = response.json()["endpoint"]
    wait_for(
        "the workload to run one replica",
        lambda: (
            (g := _group(server, workload_id))["status"] == "running"
            and g["currentReplicaCount"] == 1
        ),
        timeout=120,
        context=lambda: _group(server, workload_id),
    )

    # Four clients keep four requests in flight against a target of one per replica.
    with ParallelLoad(endpoint + slow_path, server.token, LOAD_CLIENTS) as load:
        wait_for(
            "a second replica to serve",
            lambda: _group(server, workload_id)["currentReplicaCount"] >= 2,
            timeout=120,
            context=lambda: _group(server, workload_id),
        )
        assert _group(server, workload_id)["status"] == "running"
    assert load.statuses and set(load.statuses) == {200}, load.statuses  # nothing failed

    # The calm: after the stabilization window, one replica, the others drained away; then,
    # idle past the idle window, none at all, and the workload still running.
    wait_for(
        "the workload to scale to zero",
        lambda: (
            (g := _group(server, workload_id))["desiredReplicaCount"] == 0
            and g["currentReplicaCount"] == 0
        ),
        timeout=120,
        context=lambda: _group(server, workload_id),
    )
    wait_for("its replicas to stop", lambda: not engine.own_objects(workload_id), timeout=60)
    assert _group(server, workload_id)["status"] == "running"
    scaled = [
        (e["details"]["from"], e["details"]["to"])
        for e in reversed(server.api.get(f"/workloads/{workload_id}/events").json()["data"])
        if e["eventType"] == "scaled"
    ]
    assert scaled[0][0] == 1 and scaled[0][1] >= 2  # up under load
    assert scaled[-1][1] == 0  # down to zero at last

    # A request at zero is held while a replica wakes, then served.
    answer = httpx.get(endpoint, headers={"Authorization": f"Bearer {server.token}"}, timeout=120)
    assert answer.status_code == 200, answer.text
    assert answer.json()["greeting"] == "scaled"
    assert _group(server, workload_id)["desiredReplicaCount"] == 1

"""Workloads for real: a `dockyard serve` subprocess running processes or Podman containers.

Every wait polls with a generous bound; the server runs with small back-off and sweep settings
(see conftest.Server).
"""

from __future__ import annotations

import json
import sys
import time
from datetime import UTC, datetime
from typing import Any

import pytest

from tests.e2e.conftest import Engine, PodmanEngine, Server, wait_for


def create(server: Server, spec: dict[str, Any], *, path: str = "/workloads", **body: Any) -> dict:
    response = server.api.post(path, json={"artifact": {"name": "e2e", "spec": spec}, **body})
    assert response.status_code == 201, response.text
    return response.json()


def workload(server: Server, workload_id: str) -> dict[str, Any]:
    response = server.api.get(f"/workloads/{workload_id}")
    assert response.status_code == 200, response.text
    return response.json()


def wait_status(server: Server, workload_id: str, status: str, timeout: float = 40) -> dict:
    def check() -> dict | None:
        body = workload(server, workload_id)
        if body["status"] == "errored" and status != "errored":
            pytest.fail(f"workload errored: {events(server, workload_id)[:5]}")
        return body if body["status"] == status else None

    def context() -> dict[str, Any]:
        return {
            "workload": workload(server, workload_id),
            "events": events(server, workload_id)[:8],
            "log": server.log()[-2000:],
        }

    return wait_for(f"workload {workload_id} to be {status}", check, timeout, context=context)


def events(server: Server, workload_id: str) -> list[dict[str, Any]]:
    return server.api.get(f"/workloads/{workload_id}/events").json()["data"]


def replicas(server: Server, workload_id: str) -> list[dict[str, Any]]:
    proton_id = workload(server, workload_id)["protonId"]
    response = server.api.get(f"/workloads/{workload_id}/protons/{proton_id}/statusDetails")
    return response.json()["replicas"] if response.status_code == 200 else []


def proton(server: Server, workload_id: str) -> dict[str, Any]:
    proton_id = workload(server, workload_id)["protonId"]
    return server.api.get(f"/workloads/{workload_id}/protons/{proton_id}").json()


def greetings(server: Server, engine: Engine, workload_id: str) -> list[str]:
    return [engine.greeting(replica["address"]) for replica in replicas(server, workload_id)]


def test_replicas_stop_start_logs_and_delete(server: Server, engine: Engine) -> None:
    runtime = {"containerGroups": [{"name": "default", "replicaCount": 2}]}
    body = create(server, engine.web("hi"), runtime=runtime)
    wait_status(server, body["id"], "running")
    found = replicas(server, body["id"])
    assert [r["name"] for r in found] == ["default-0", "default-1"]
    assert len({r["address"] for r in found}) == 2
    assert greetings(server, engine, body["id"]) == ["hi", "hi"]
    logs = server.api.get(f"/workloads/{body['id']}/logs", params={"includes": "listening"})
    assert {e["replica"] for e in logs.json()["data"]} == {"default-0", "default-1"}
    running = engine.objects(body["id"])
    assert running
    if engine.name == "process":  # it says what it cannot honour rather than pretend
        warnings = [e for e in events(server, body["id"]) if e["eventType"] == "runtime_warning"]
        assert any("is not used" in e["details"]["reason"] for e in warnings), warnings

    assert server.api.post(f"/workloads/{body['id']}/stop").status_code == 202
    wait_status(server, body["id"], "stopped")
    wait_for("nothing to run after stop", lambda: not engine.objects(body["id"]), 20)
    assert server.api.post(f"/workloads/{body['id']}/start").status_code == 202
    wait_status(server, body["id"], "running")
    assert greetings(server, engine, body["id"]) == ["hi", "hi"]

    assert server.api.delete(f"/workloads/{body['id']}").status_code == 204
    assert server.api.get(f"/workloads/{body['id']}").status_code == 404
    leftovers = engine.all_objects if isinstance(engine, PodmanEngine) else engine.objects
    wait_for("the deleted workload to leave nothing", lambda: not leftovers(body["id"]), 30)


def test_a_killed_primary_is_restarted(server: Server, engine: Engine) -> None:
    body = create(server, engine.web())
    wait_status(server, body["id"], "running")
    engine.kill_primary(body["id"])

    def restarted() -> bool:
        kinds = [e["eventType"] for e in events(server, body["id"])]
        return "replica_restarted" in kinds

    wait_for("a replica_restarted event", restarted, 30)
    wait_status(server, body["id"], "running")
    wait_for(
        "the restart to be counted",
        lambda: replicas(server, body["id"])[0]["containers"][0]["restartCount"] >= 1,
        10,
    )
    assert greetings(server, engine, body["id"]) == ["hello"]


def test_a_failing_liveness_probe_restarts_the_container(server: Server, engine: Engine) -> None:
    body = create(server, engine.web(livenessProbe={"path": "/missing", "failureThreshold": 2}))

    def restarted_by_liveness() -> list[dict]:
        return [
            e
            for e in events(server, body["id"])
            if e["eventType"] == "replica_restarted" and "liveness" in e["details"]["reason"]
        ]

    found = wait_for("a restart caused by the liveness probe", restarted_by_liveness, 40)
    assert "404" in found[0]["details"]["reason"]


def test_a_readiness_probe_that_404s_says_why_the_workload_is_not_running(
    server: Server, engine: Engine
) -> None:
    spec = engine.web()
    spec["containerGroups"][0]["containers"][0]["readinessProbe"]["path"] = "/missing"
    spec["containerGroups"][0]["containers"][0]["readinessProbe"]["failureThreshold"] = 2
    body = create(server, spec)

    def told() -> list[dict]:
        return [e for e in events(server, body["id"]) if e["eventType"] == "probe_failed"]

    found = wait_for("an event saying the readiness probe fails", told, 40)
    assert "readiness probe GET /missing" in found[0]["details"]["reason"]
    assert "404" in found[0]["details"]["reason"]
    assert workload(server, body["id"])["status"] == "launching"
    (replica,) = replicas(server, body["id"])
    assert "404" in (replica["message"] or ""), replica
    # No traffic goes to a replica that is not ready.
    invoked = server.api.get(f"/endpoints/workloads/{body['id']}/")
    assert invoked.status_code == 503 and invoked.json()["code"] == "no_ready_replica"


def test_a_crash_looping_container_ends_errored(server: Server, engine: Engine) -> None:
    body = create(server, engine.crashing())
    wait_status(server, body["id"], "errored", timeout=60)
    reasons = [e["details"].get("reason", "") for e in events(server, body["id"])]
    assert any("restarted 3 times" in reason for reason in reasons), reasons
    tail = proton(server, body["id"])["statusDetails"]["logTail"]
    assert any("cannot start: crash mode" in line for line in tail), tail
    # The workload itself says why, and GET reads the primary's output from the engine.
    details = workload(server, body["id"])["statusDetails"]
    assert details["reason"] == "crash_loop", details
    assert "restarted 3 times" in details["message"] and "exited with code 3" in details["message"]
    assert any("cannot start: crash mode" in line for line in details["logTail"]), details
    # Errored is sticky: the container is not restarted again.
    count = len(events(server, body["id"]))
    time.sleep(2)
    assert len(events(server, body["id"])) == count


def test_a_sidecar_reaches_the_primary_on_localhost(server: Server, engine: Engine) -> None:
    spec = engine.web()
    primary = spec["containerGroups"][0]["containers"][0]
    url = f"http://127.0.0.1:{primary['port']}/healthz"
    if isinstance(engine, PodmanEngine):
        # Containers of a replica share its network namespace: localhost is the primary.
        poll = [
            "sh",
            "-c",
            f"while true; do wget -q -O /dev/null {url} "
            "&& echo sidecar reached primary; sleep 0.5; done",
        ]
    else:
        # Processes share the host's network: localhost is the primary there too.
        loop = (
            "import time, urllib.request as r\n"
            "while True:\n"
            "    try:\n"
            f"        r.urlopen({url!r}, timeout=2); print('sidecar reached primary', flush=True)\n"
            "    except OSError:\n"
            "        pass\n"
            "    time.sleep(0.5)\n"
        )
        poll = [sys.executable, "-c", loop]
    spec["containerGroups"][0]["containers"].append(
        {"name": "poller", "imageUri": "localhost/dockyard-test-bb:1", "entrypoint": poll}
    )
    body = create(server, spec)
    wait_status(server, body["id"], "running")

    def reached() -> list:
        response = server.api.get(
            f"/workloads/{body['id']}/logs", params={"includes": "sidecar reached primary"}
        )
        return response.json()["data"]

    wait_for("the sidecar's log line", reached, 20)


def test_kill_9_of_the_server_adopts_what_runs(server: Server, engine: Engine) -> None:
    runtime = {"containerGroups": [{"name": "default", "replicaCount": 2}]}
    body = create(server, engine.web("kept"), runtime=runtime)
    wait_status(server, body["id"], "running")
    before = engine.objects(body["id"])
    addresses = [r["address"] for r in replicas(server, body["id"])]

    server.kill9()
    assert engine.objects(body["id"]) == before  # the workload outlives the server
    server.start()
    wait_status(server, body["id"], "running")
    # A few sweeps later (1 s each) nothing was duplicated, restarted or lost.
    deadline = time.monotonic() + 3
    while time.monotonic() < deadline:
        assert engine.objects(body["id"]) == before
        time.sleep(0.5)
    assert [r["address"] for r in replicas(server, body["id"])] == addresses
    assert greetings(server, engine, body["id"]) == ["kept", "kept"]
    kinds = [e["eventType"] for e in events(server, body["id"])]
    assert kinds.count("replica_started") == 2 and "replica_restarted" not in kinds


def test_seed_tutorial_development_phase(server: Server, engine: Engine) -> None:
    # Step 1: a development workload with an inline (draft) artifact, on the old paths.
    body = create(server, engine.web("v1"), path="/console/workloads")
    artifact_id = body["artifactId"]
    assert server.api.get(f"/registry/artifacts/{artifact_id}").json()["status"] == "draft"
    wait_status(server, body["id"], "running")
    assert greetings(server, engine, body["id"]) == ["v1"]

    # Step 2b: replace the artifact's spec with PUT; the running containers keep the old one.
    response = server.api.put(
        f"/registry/artifacts/{artifact_id}", json={"name": "e2e", "spec": engine.web("v2")}
    )
    assert response.status_code == 200, response.text
    assert greetings(server, engine, body["id"]) == ["v1"]

    # Step 2c: stop, then start, to apply the change.
    assert server.api.post(f"/console/workloads/{body['id']}/stop").status_code == 202
    wait_status(server, body["id"], "stopped")
    assert server.api.post(f"/console/workloads/{body['id']}/start").status_code == 202
    wait_status(server, body["id"], "running")
    assert greetings(server, engine, body["id"]) == ["v2"]


def test_a_missing_image_or_command_ends_errored_with_the_reason(
    server: Server, engine: Engine
) -> None:
    spec = engine.web()
    container = spec["containerGroups"][0]["containers"][0]
    if isinstance(engine, PodmanEngine):
        container["imageUri"] = "localhost/dockyard-test-missing:1"
        expected, reason = "dockyard-test-missing", "image_pull_failed"
    else:
        container["entrypoint"] = ["/nonexistent/dockyard-test-command"]
        expected, reason = "exited with code", "crash_loop"
    body = create(server, spec)
    wait_status(server, body["id"], "errored", timeout=60)
    errored = [e for e in events(server, body["id"]) if e["details"].get("to") == "errored"]
    assert expected in errored[0]["details"]["reason"], errored
    assert proton(server, body["id"])["statusDetails"]["logTail"]
    # statusDetails names the reason and carries the engine's own words.
    details = workload(server, body["id"])["statusDetails"]
    assert details["reason"] == reason, details
    assert details["message"] == errored[0]["details"]["reason"]
    assert expected in details["message"]
    if isinstance(engine, PodmanEngine):
        assert "could not be pulled" in details["message"]  # the engine's cause follows
    # Invoking it says it is errored and why, with no Retry-After.
    answer = server.api.get(f"/endpoints/workloads/{body['id']}/")
    assert answer.status_code == 503
    assert f"errored ({reason})" in answer.json()["message"]
    assert "retry-after" not in answer.headers


def test_logs_follow_streams_lines_as_they_are_written(server: Server, engine: Engine) -> None:
    body = create(server, engine.web())
    wait_status(server, body["id"], "running")
    began = time.time()
    entries = []
    with server.api.stream(
        "GET", f"/workloads/{body['id']}/logs", params={"follow": "true", "timeout": 4, "limit": 1}
    ) as response:
        assert response.status_code == 200
        for line in response.iter_lines():
            if line:
                entries.append(json.loads(line))
    # The backlog line, then the request lines the probes cause every second while following.
    assert len(entries) >= 3, entries
    assert entries == sorted(entries, key=lambda e: e["timestamp"])
    fresh = [e for e in entries[1:] if e["timestamp"] >= _rfc3339(began)]
    assert fresh, entries


def _rfc3339(moment: float) -> str:
    return datetime.fromtimestamp(moment, UTC).isoformat().replace("+00:00", "Z")

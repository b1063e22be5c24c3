"""Tasks end to end: a real `dockyard serve`, Podman containers and local processes, driven
the way the hosted platform's code-sandbox clients drive the Workload API.

`OlderSandboxClient` follows the older release's four steps literally (paths and their
slashes, both auth headers, `workloadId`/`id`, status handling, the OTel logs endpoint, a
DELETE in `finally` that accepts 404); `run_current_client` sends what the current release
sends (a `service` artifact on port 8080, no probes, no entrypoint, resources in the
workload's runtime). Neither is the hosted client's code; both speak its contract.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

from tests.e2e.conftest import Engine, PodmanEngine, ProcessEngine, Server, wait_for
from tests.support.images import SANDBOX_IMAGE, ensure_sandbox_image

TERMINAL_OK = ("succeeded", "completed")
TERMINAL_BAD = ("failed", "errored", "stopped")
HARDENED = {
    "readOnlyRootFilesystem": True,
    "allowPrivilegeEscalation": False,
    "capabilities": {"drop": ["ALL"]},
    "seccompProfile": {"type": "RuntimeDefault"},
}
CAP_SECONDS = 6


@pytest.fixture(scope="module")
def server(engine: Engine, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    # This module's own server: a short run cap, so "past the cap" takes seconds.
    home = tmp_path_factory.mktemp(f"tasks-{engine.name}")
    running = Server(home, {**engine.server_env(), "DOCKYARD_TASK_MAX_SECONDS": str(CAP_SECONDS)})
    running.start()
    if isinstance(engine, PodmanEngine):
        ensure_sandbox_image(engine.client)
    try:
        yield running
    finally:
        running.stop()


@dataclass
class Run:
    workload_id: str
    status: str
    exit_code: int | None
    stdout: list[str]
    stderr: list[str]
    body: dict[str, Any] = field(default_factory=dict)

    @property
    def result(self) -> str | None:
        return self.stdout[-1] if self.stdout else None


class OlderSandboxClient:
    """The older sandbox client's side of the contract, step by step."""

    def __init__(self, server: Server) -> None:
        token = server.token
        self.http = httpx.Client(
            base_url=server.url,
            headers={"Authorization": f"Bearer {token}", "x-datarobot-api-key": token},
            timeout=15,
        )
        self.seen_ids: list[str] = []

    def run(
        self,
        code: str,
        *,
        security: dict[str, Any] | None = None,
        timeout: float = 60,
        while_running: Any = None,
    ) -> Run:
        container: dict[str, Any] = {
            "imageUri": SANDBOX_IMAGE,
            "primary": True,
            "resourceRequest": {"cpu": 1, "memory": 536870912},
            "environmentVars": [{"name": "SANDBOX_CODE", "value": code}],
        }
        if security is not None:
            container["securityContext"] = security
        body = {
            "name": "sandbox",
            "artifact": {
                "name": "sandbox",
                "spec": {"containerGroups": [{"containers": [container]}]},
            },
            "runtime": {"replicaCount": 1},
        }
        # 1. create, on the old path with its trailing slash
        created = self.http.post("/api/v2/console/workloads/", json=body)
        assert created.status_code == 201, created.text
        answer = created.json()
        workload_id = answer.get("workloadId") or answer["id"]
        self.seen_ids.append(workload_id)
        try:
            # 2. poll, without the slash, with back-off, until a terminal status
            delay, deadline = 0.05, time.monotonic() + timeout
            while True:
                polled = self.http.get(f"/api/v2/console/workloads/{workload_id}")
                assert polled.status_code == 200, polled.text
                workload = polled.json()
                status = workload["status"].lower()
                if status in TERMINAL_OK + TERMINAL_BAD:
                    break
                if while_running is not None and status == "running":
                    while_running(self, workload_id)
                    while_running = None
                assert time.monotonic() < deadline, f"still {status} after {timeout} s"
                time.sleep(delay)
                delay = min(delay * 1.5, 1.0)
            # 3. the OTel logs: ERROR and above are stderr, the rest stdout
            logs = self.http.get(f"/api/v2/otel/workload/{workload_id}/logs/")
            assert logs.status_code == 200, logs.text
            page = logs.json()
            assert set(page) >= {"count", "next", "previous", "data"}
            entries = list(reversed(page["data"]))  # newest first on the wire
            stderr = [e["message"] for e in entries if e["level"] in ("ERROR", "CRITICAL")]
            stdout = [e["message"] for e in entries if e["level"] not in ("ERROR", "CRITICAL")]
            return Run(workload_id, status, workload.get("exitCode"), stdout, stderr, workload)
        finally:
            # 4. always delete; a 404 is fine
            gone = self.http.delete(f"/api/v2/console/workloads/{workload_id}")
            assert gone.status_code in (204, 404), gone.text


def run_current_client(server: Server, engine: Engine, code: str, exit_code: int) -> Run:
    """The current client: a service artifact on port 8080, no probes, a program that exits."""
    container: dict[str, Any] = {
        "name": "sandbox",
        "primary": True,
        "port": 8080,
        "environmentVars": [{"name": "SANDBOX_CODE", "value": code}],
    }
    if isinstance(engine, ProcessEngine):
        script = (
            "import os, subprocess, sys; "
            f"subprocess.run(['sh', '-c', os.environ['SANDBOX_CODE']]); sys.exit({exit_code})"
        )
        container.update(
            imageUri="docker.io/library/python:3.12-slim", entrypoint=[sys.executable, "-c", script]
        )
    else:
        container["imageUri"] = SANDBOX_IMAGE
        container["environmentVars"][0]["value"] = f"{code}; exit {exit_code}"
    spec = {"containerGroups": [{"name": "default", "containers": [container]}]}
    sized = {"name": "sandbox", "resourceAllocation": {"cpu": 1, "memory": "512MB"}}
    body = {
        "name": "sandbox",
        "artifact": {"name": "sandbox", "type": "service", "spec": spec},
        "runtime": {
            "containerGroups": [{"name": "default", "replicaCount": 1, "containers": [sized]}]
        },
    }
    created = server.api.post("/workloads/", json=body)
    assert created.status_code == 201, created.text
    workload_id = created.json()["id"]
    try:
        workload = wait_for(
            "the program to end",
            lambda: _terminal(server.api.get(f"/workloads/{workload_id}").json()),
            60,
        )
        entries = list(
            reversed(server.api.get(f"/otel/workload/{workload_id}/logs/").json()["data"])
        )
        stdout = [e["message"] for e in entries if e["level"] == "INFO"]
        stderr = [e["message"] for e in entries if e["level"] == "ERROR"]
        return Run(workload_id, workload["status"], workload["exitCode"], stdout, stderr, workload)
    finally:
        assert server.api.delete(f"/workloads/{workload_id}").status_code in (204, 404)


def _terminal(workload: dict[str, Any]) -> dict[str, Any] | None:
    return workload if workload["status"] in TERMINAL_OK + TERMINAL_BAD else None


# The older client sends no entrypoint: the image's own command must run, which only an
# engine that runs images does. Its tests are made for Podman alone, not skipped elsewhere.
PODMAN_ONLY = pytest.mark.parametrize("engine", ["podman"], indirect=True)


def _podman_only(engine: Engine) -> PodmanEngine:
    assert isinstance(engine, PodmanEngine)
    return engine


def _left_behind(engine: Engine, workload_id: str) -> set[str]:
    if isinstance(engine, PodmanEngine):
        return engine.all_objects(workload_id)
    return engine.objects(workload_id)


# --- the older client ----------------------------------------------------------------------


@PODMAN_ONLY
def test_older_client_a_task_that_exits_zero_with_a_result_line(server: Server, engine: Engine):
    podman = _podman_only(engine)
    client = OlderSandboxClient(server)
    code = (
        "echo working; echo 'ERROR: not really' ; echo 'a warning' >&2; "
        "printf 'tick'; sleep 0.3; echo ' tock'; printf '{\"result\": 42}'"
    )
    run = client.run(code)
    assert run.status == "succeeded" and run.exit_code == 0
    # Every line whole, in order, levels from the stream (the ERROR word is stdout's text).
    assert run.stdout == ["working", "ERROR: not really", "tick tock", '{"result": 42}']
    assert run.stderr == ["a warning"]
    assert run.body["statusDetails"]["logTail"][-1] == '{"result": 42}'
    wait_for("nothing left after DELETE", lambda: not _left_behind(podman, run.workload_id), 30)


@PODMAN_ONLY
def test_older_client_a_task_that_exits_one(server: Server, engine: Engine):
    _podman_only(engine)
    run = OlderSandboxClient(server).run("echo partial; echo 'Traceback: boom' >&2; exit 1")
    assert run.status == "failed" and run.exit_code == 1
    assert run.body["statusDetails"]["reason"] == "exit_nonzero"
    assert run.stdout == ["partial"] and run.stderr == ["Traceback: boom"]


@PODMAN_ONLY
def test_older_client_a_task_past_the_cap(server: Server, engine: Engine):
    _podman_only(engine)
    started = time.monotonic()
    run = OlderSandboxClient(server).run("echo start; sleep 120; echo never", timeout=60)
    assert run.status == "failed" and run.exit_code is None
    assert run.body["statusDetails"]["reason"] == "deadline_exceeded"
    assert run.stdout == ["start"]
    assert time.monotonic() - started < 60


@PODMAN_ONLY
def test_older_client_a_task_deleted_while_running(server: Server, engine: Engine):
    podman = _podman_only(engine)
    client = OlderSandboxClient(server)

    def delete_now(client: OlderSandboxClient, workload_id: str) -> None:
        assert client.http.delete(f"/api/v2/console/workloads/{workload_id}").status_code == 204

    with pytest.raises(AssertionError, match="404"):
        # The client's next poll finds it gone (a 404), and its `finally` deletes again: 404.
        client.run("echo start; sleep 120", while_running=delete_now)
    workload_id = client.seen_ids[-1]
    wait_for("nothing left after DELETE", lambda: not _left_behind(podman, workload_id), 30)


@PODMAN_ONLY
def test_older_client_hardening_holds(server: Server, engine: Engine):
    _podman_only(engine)
    client = OlderSandboxClient(server)
    written = client.run("echo x > /evil && echo wrote", security=HARDENED)
    assert written.status == "failed" and written.exit_code != 0
    assert any("Read-only file system" in line for line in written.stderr), written
    caps = client.run("grep -E 'CapEff|NoNewPrivs' /proc/self/status", security=HARDENED)
    assert caps.status == "succeeded"
    assert caps.stdout == ["CapEff:\t0000000000000000", "NoNewPrivs:\t1"]


# --- the current client --------------------------------------------------------------------


def test_current_client_a_program_that_exits(server: Server, engine: Engine):
    ok = run_current_client(server, engine, "echo computing; echo 'result=7'", 0)
    assert ok.status == "succeeded" and ok.exit_code == 0
    assert ok.result == "result=7"
    timed_out = run_current_client(server, engine, "echo 'took too long' >&2", 124)
    assert timed_out.status == "failed" and timed_out.exit_code == 124
    assert timed_out.stderr == ["took too long"]


# --- declared tasks on both engines --------------------------------------------------------


def test_a_declared_task_runs_once_and_runs_again_on_start(server: Server, engine: Engine):
    if isinstance(engine, ProcessEngine):
        command = [sys.executable, "-c", "import sys; print('ran'); sys.exit(0)"]
        container = {"imageUri": "docker.io/library/python:3.12-slim", "entrypoint": command}
    else:
        container = {"imageUri": SANDBOX_IMAGE, "entrypoint": ["sh", "-c", "echo ran"]}
    spec = {"containerGroups": [{"containers": [{"primary": True, "name": "main", **container}]}]}
    created = server.api.post("/workloads", json={"artifact": {"name": "once", "spec": spec}})
    assert created.status_code == 201, created.text
    workload = created.json()
    assert workload["endpoint"] is None
    done = wait_for(
        "the task to succeed",
        lambda: _terminal(server.api.get(f"/workloads/{workload['id']}").json()),
        60,
    )
    assert done["status"] == "succeeded" and done["exitCode"] == 0
    invoked = server.api.get(f"/endpoints/workloads/{workload['id']}/")
    assert invoked.status_code == 409 and invoked.json()["code"] == "workload_not_invokable"
    assert server.api.post(f"/workloads/{workload['id']}/stop").status_code == 202
    assert server.api.get(f"/workloads/{workload['id']}").json()["status"] == "succeeded"
    assert server.api.post(f"/workloads/{workload['id']}/start").status_code == 202
    wait_for(
        "the second run to succeed",
        lambda: server.api.get(f"/workloads/{workload['id']}").json()["status"] == "succeeded",
        60,
    )
    logs = server.api.get(f"/workloads/{workload['id']}/logs").json()["data"]
    assert [e["message"] for e in logs] == ["ran", "ran"]  # both runs' output, kept
    events = server.api.get(f"/workloads/{workload['id']}/events").json()["data"]
    assert [e["eventType"] for e in events].count("succeeded") == 2

"""`dockyard workload …` against a real server running the process runtime."""

from __future__ import annotations

import json
from collections.abc import Callable

import yaml

from dockyard.sdk import Client
from tests.cli.conftest import Dockyard
from tests.sdk.live_server import MISSING, LiveServer, free_port, http_app_spec, unique

Write = Callable[[str, str], str]


def _create(dockyard: Dockyard, write: Write) -> str:
    name = unique("cli-wl")
    body = {"name": name, "artifact": {"name": name, "spec": http_app_spec()}}
    spec = write(f"{name}.yaml", yaml.safe_dump(body))
    created = dockyard("-o", "json", "workload", "create", "--spec-file", spec, "--wait")
    assert created.exit_code == 0, created.output
    workload = json.loads(created.stdout)
    assert workload["status"] == "running"
    return str(workload["id"])


def test_the_workload_life_cycle(dockyard: Dockyard, write: Write) -> None:
    workload_id = _create(dockyard, write)

    status = dockyard("workload", "status", workload_id)
    assert (status.exit_code, status.stdout) == (0, "running\n")
    endpoint = dockyard("workload", "endpoint", workload_id)
    assert endpoint.stdout.strip().endswith(f"/api/v2/endpoints/workloads/{workload_id}/")

    listed = dockyard("workload", "list", "--status", "running,launching")
    assert listed.exit_code == 0 and workload_id in listed.stdout
    assert dockyard("wl", "get", workload_id).exit_code == 0

    logs = dockyard("workload", "logs", workload_id, "--limit", "3")
    assert logs.exit_code == 0
    assert 1 <= len(logs.stdout.splitlines()) <= 3
    followed = dockyard("-o", "json", "workload", "logs", workload_id, "--limit", "2")
    assert all("message" in entry for entry in json.loads(followed.stdout))

    stopped = dockyard("workload", "stop", workload_id, "--wait")
    assert stopped.exit_code == 0
    assert f"Workload {workload_id} is stopped" in stopped.stdout
    assert dockyard("workload", "status", workload_id).stdout == "stopped\n"
    started = dockyard("workload", "start", workload_id, "--wait")
    assert "is running" in started.stdout

    deleted = dockyard("workload", "delete", workload_id, "--yes")
    assert deleted.exit_code == 0
    gone = dockyard("workload", "status", workload_id)
    assert gone.exit_code == 1
    assert "[HTTP 404, workload_not_found]" in gone.stderr


def test_invoke(dockyard: Dockyard, write: Write, server: LiveServer) -> None:
    workload_id = _create(dockyard, write)
    answer = dockyard("workload", "invoke", workload_id, "/", "--wait-ready", "10")
    assert answer.exit_code == 0, answer.output
    assert "Directory listing" in answer.stdout
    missing = dockyard("-o", "json", "workload", "invoke", workload_id, "/nothing-here")
    assert missing.exit_code == 1
    assert json.loads(missing.stdout)["status"] == 404
    assert dockyard("workload", "invoke", MISSING).exit_code == 1
    dockyard("workload", "delete", workload_id, "--yes")


def test_promote(dockyard: Dockyard, write: Write, server: LiveServer, sdk: Client) -> None:
    workload_id = _create(dockyard, write)
    promoted = dockyard("workload", "promote", workload_id)
    assert promoted.exit_code == 0, promoted.output
    artifact = sdk.workloads.get(workload_id).artifact
    assert artifact is not None and artifact.status == "locked"


def test_failures(dockyard: Dockyard, server: LiveServer) -> None:
    unknown = dockyard("workload", "get", MISSING)
    assert unknown.exit_code == 1
    assert "workload_not_found" in unknown.stderr

    bad_token = dockyard("workload", "list", env={"DOCKYARD_TOKEN": "not-a-token"})
    assert bad_token.exit_code == 1
    assert "[HTTP 401, unauthorized]" in bad_token.stderr

    down = dockyard(
        "-o", "json", "workload", "list", env={"DOCKYARD_URL": f"http://127.0.0.1:{free_port()}"}
    )
    assert down.exit_code == 1
    error = json.loads(down.stdout)["error"]
    assert error["code"] == "connection_failed" and "Cannot reach" in error["message"]

    wrong = dockyard("workload", "list", "--status", "sleeping")
    assert wrong.exit_code == 2


def test_debug_shows_the_traceback(dockyard: Dockyard) -> None:
    result = dockyard("--debug", "workload", "get", MISSING)
    assert result.exit_code == 1
    assert type(result.exception).__name__ == "NotFound"

"""`dockyard workload …` against a real server running the process runtime."""

from __future__ import annotations

import json
import sys
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


def test_an_errored_workload_says_why(dockyard: Dockyard, write: Write) -> None:
    name = unique("cli-crash")
    spec = http_app_spec()
    crash = "import sys; print('boom: config missing', flush=True); sys.exit(3)"
    spec["containerGroups"][0]["containers"][0]["entrypoint"] = [sys.executable, "-c", crash]
    body = {"name": name, "artifact": {"name": name, "spec": spec}}
    path = write(f"{name}.yaml", yaml.safe_dump(body))
    # --wait ends at errored (restart budget spent) and says why, not just "is errored".
    created = dockyard("workload", "create", "--spec-file", path, "--wait", "--timeout", "120")
    assert created.exit_code == 1, created.output
    assert "is errored (crash_loop): replica default-0 restarted 5 times" in created.stderr
    assert "exited with code 3" in created.stderr
    workload_id = created.stderr.split("Workload ")[-1].split(" ")[0]

    shown = dockyard("workload", "get", workload_id)
    assert shown.exit_code == 0, shown.output
    assert "Reason" in shown.stdout and "crash_loop" in shown.stdout
    assert "exited with code 3" in shown.stdout
    assert "boom: config missing" in shown.stdout  # the primary's last output
    listed_line = next(
        line for line in dockyard("workload", "list").stdout.splitlines() if workload_id in line
    )
    assert "errored (crash_loop)" in listed_line
    as_json = json.loads(dockyard("-o", "json", "workload", "get", workload_id).stdout)
    assert as_json["statusDetails"]["reason"] == "crash_loop"

    events = dockyard("workload", "events", workload_id)
    assert events.exit_code == 0, events.output
    lines = events.stdout.splitlines()
    assert lines[0].split() == ["TIME", "EVENT", "DETAILS"]
    assert "created" in lines[1]  # oldest first, the newest last
    assert "-> errored" in lines[-1] and "code=crash_loop" in lines[-1]
    listed = json.loads(dockyard("-o", "json", "workload", "events", workload_id).stdout)
    assert listed[0]["eventType"] == "created"
    assert listed[-1]["details"]["to"] == "errored"

    # Stop settles it as stopped; stopping again says nothing changed.
    assert dockyard("workload", "stop", workload_id, "--wait").exit_code == 0
    again = dockyard("workload", "stop", workload_id)
    assert again.exit_code == 0
    assert f"Workload {workload_id} is already stopped" in again.stdout
    dockyard("workload", "delete", workload_id, "--yes")


def test_autoscaling_is_accepted_shown_and_changed(dockyard: Dockyard, write: Write) -> None:
    name = unique("cli-scaled")
    scaling = {
        "minReplicaCount": 1,
        "maxReplicaCount": 2,
        "policies": [{"scalingMetric": "httpRequestsConcurrency", "target": 4}],
    }
    runtime = {"containerGroups": [{"name": "default", "autoscaling": scaling}]}
    body = {"name": name, "artifact": {"name": name, "spec": http_app_spec()}, "runtime": runtime}
    spec = write(f"{name}.yaml", yaml.safe_dump(body))
    created = dockyard("-o", "json", "workload", "create", "--spec-file", spec, "--wait")
    assert created.exit_code == 0, created.output
    workload = json.loads(created.stdout)
    group = workload["runtime"]["containerGroups"][0]
    assert group["autoscaling"]["maxReplicaCount"] == 2
    shown = dockyard("workload", "get", workload["id"])
    assert "1 ready of 1 (autoscaling 1-2 on httpRequestsConcurrency 4)" in shown.stdout, (
        shown.stdout
    )

    # The CLI refuses replicaCount beside enabled autoscaling before sending anything.
    runtime["containerGroups"][0]["replicaCount"] = 2
    clash = write(f"{name}-clash.yaml", yaml.safe_dump({"runtime": runtime}))
    refused = dockyard("workload", "settings", workload["id"], "--spec-file", clash)
    assert refused.exit_code != 0 and "replicaCount" in refused.output

    del runtime["containerGroups"][0]["replicaCount"]
    scaling["maxReplicaCount"] = 3
    wider = write(f"{name}-wider.yaml", yaml.safe_dump(runtime))
    changed = dockyard("workload", "settings", workload["id"], "--spec-file", wider)
    assert changed.exit_code == 0, changed.output
    assert "rolling out" in changed.stdout
    assert dockyard("workload", "delete", workload["id"], "--yes").exit_code == 0

"""`dockyard workload run`: a task run to its end like `docker run` (process runtime)."""

from __future__ import annotations

import json
import sys

from dockyard.sdk import Client
from tests.cli.conftest import Dockyard

PROGRAM = (
    "import sys, time; print('working', flush=True); time.sleep(0.5); "
    "print('oops', file=sys.stderr, flush=True); print('result=42'); sys.exit(3)"
)


def test_run_prints_the_output_and_exits_with_the_tasks_code(
    dockyard: Dockyard, sdk: Client
) -> None:
    result = dockyard(
        "workload", "run", "--image", "python:3.12", "--name", "cli-task", "--",
        sys.executable, "-c", PROGRAM,
    )  # fmt: skip
    assert result.exit_code == 3, result.output
    assert result.stdout.splitlines()[-2:] == ["working", "result=42"]
    assert "oops" in result.stderr
    (workload,) = [w for w in sdk.workloads.list() if w.name == "cli-task"]
    assert workload.status == "failed" and workload.exit_code == 3
    workload.delete()


def test_run_from_a_spec_file_with_rm_and_json(dockyard: Dockyard, sdk: Client, write) -> None:
    spec = {
        "name": "cli-spec-task",
        "artifact": {
            "name": "cli-spec-task",
            "spec": {"containerGroups": [{"containers": [{
                "primary": True, "imageUri": "python:3.12",
                "entrypoint": [sys.executable, "-c", "print('done')"],
            }]}]},
        },
    }  # fmt: skip
    path = write("task.json", json.dumps(spec))
    result = dockyard("-o", "json", "workload", "run", "--spec-file", path, "--rm")
    assert result.exit_code == 0, result.output
    answer = json.loads(result.stdout)
    assert answer["workload"]["status"] == "succeeded" and answer["workload"]["exitCode"] == 0
    assert [entry["message"] for entry in answer["output"]] == ["done"]
    assert not [w for w in sdk.workloads.list() if w.name == "cli-spec-task"]


def test_run_needs_an_image_or_a_spec(dockyard: Dockyard) -> None:
    result = dockyard("workload", "run")
    assert result.exit_code == 2

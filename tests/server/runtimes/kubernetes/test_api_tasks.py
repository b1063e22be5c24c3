"""Tasks with DOCKYARD_RUNTIME=kubernetes, through Dockyard's API, against the test API server
with the test playing the Job controller and the kubelet: the older sandbox client's four
steps, the current client's service that ends as a task, stop and start of a running task."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from dockyard.server.settings import Settings
from tests.conftest import ADMIN_TOKEN
from tests.server.runtimes.kubernetes.conftest import NAMESPACE
from tests.server.runtimes.kubernetes.emulator import Emulator
from tests.server.runtimes.kubernetes.kubelet import EXITS, Kubelet, PodScript
from tests.server.runtimes.kubernetes.test_api import Dockyard, running, wait_for

TERMINAL = ("succeeded", "completed", "failed", "errored", "stopped")


@pytest.fixture
def dockyard(settings: Settings, kubeconfig: Any, kubelet: Kubelet) -> Iterator[Dockyard]:
    tuned = settings.model_copy(
        update={
            "runtime": "kubernetes",
            "reconcile_sweep_seconds": 0.3,
            "proxy_route_refresh_seconds": 0.2,
        }
    )
    with running(tuned) as handle:
        yield handle


def sandbox_run(dockyard: Dockyard, image: str) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The older sandbox client, step by step: create on the old path, poll without the slash
    until a terminal status, read the OTel logs, delete in `finally` (404 is fine)."""
    http = httpx.Client(
        base_url=dockyard.url,
        headers={"Authorization": f"Bearer {ADMIN_TOKEN}", "x-datarobot-api-key": ADMIN_TOKEN},
        timeout=15,
    )
    container = {
        "imageUri": image,
        "primary": True,
        "resourceRequest": {"cpu": 1, "memory": 536870912},
        "environmentVars": [{"name": "SANDBOX_CODE", "value": "print(6 * 7)"}],
        "securityContext": {
            "readOnlyRootFilesystem": True,
            "allowPrivilegeEscalation": False,
            "capabilities": {"drop": ["ALL"]},
            "seccompProfile": {"type": "RuntimeDefault"},
        },
    }
    body = {
        "name": "sandbox",
        "artifact": {"name": "sandbox", "spec": {"containerGroups": [{"containers": [container]}]}},
        "runtime": {"replicaCount": 1},
    }
    with http:
        created = http.post("/api/v2/console/workloads/", json=body)
        assert created.status_code == 201, created.text
        workload_id = created.json().get("workloadId") or created.json()["id"]
        try:
            delay, deadline = 0.05, time.monotonic() + 30
            while True:
                workload = http.get(f"/api/v2/console/workloads/{workload_id}").json()
                if workload["status"].lower() in TERMINAL:
                    break
                assert time.monotonic() < deadline, f"still {workload['status']}"
                time.sleep(delay)
                delay = min(delay * 1.5, 1.0)
            logs = http.get(f"/api/v2/otel/workload/{workload_id}/logs/")
            assert logs.status_code == 200, logs.text
            assert set(logs.json()) >= {"count", "next", "previous", "data"}
            return workload, list(reversed(logs.json()["data"]))
        finally:
            gone = http.delete(f"/api/v2/console/workloads/{workload_id}")
            assert gone.status_code in (204, 404), gone.text


def test_the_older_sandbox_clients_four_steps_run_a_job(
    dockyard: Dockyard, emulator: Emulator, kubelet: Kubelet
) -> None:
    kubelet.script("registry.example/sandbox:1", PodScript(output=("computing", "42")))
    workload, entries = sandbox_run(dockyard, "registry.example/sandbox:1")
    assert (workload["status"], workload["exitCode"]) == ("succeeded", 0)
    assert workload["statusDetails"]["logTail"] == ["computing", "42"]
    assert [e["message"] for e in entries] == ["computing", "42"]  # the result line last
    wait_for("the Job to go after DELETE", lambda: not emulator.list("jobs", NAMESPACE))
    wait_for("its pod to go", lambda: not emulator.list("pods", NAMESPACE))


def test_a_failing_sandbox_run_is_failed_with_its_exit_code(
    dockyard: Dockyard, emulator: Emulator, kubelet: Kubelet
) -> None:
    kubelet.script(
        "registry.example/sandbox:2",
        PodScript(output=("Traceback (most recent call last):", "NameError: x"), exit_code=1),
    )
    workload, entries = sandbox_run(dockyard, "registry.example/sandbox:2")
    assert (workload["status"], workload["exitCode"]) == ("failed", 1)
    details = workload["statusDetails"]
    assert details["reason"] == "exit_nonzero"
    assert details["message"] == "container primary exited with code 1: NameError: x"
    assert [e["message"] for e in entries][-1] == "NameError: x"
    wait_for("the Job to go after DELETE", lambda: not emulator.list("jobs", NAMESPACE))


def test_the_job_carries_the_hardening_and_the_run_cap(
    dockyard: Dockyard, emulator: Emulator, kubelet: Kubelet
) -> None:
    kubelet.script("registry.example/sandbox:3", PodScript(run_seconds=None))
    body = {
        "name": "hardened",
        "artifact": {
            "name": "hardened",
            "spec": {
                "containerGroups": [
                    {
                        "containers": [
                            {
                                "imageUri": "registry.example/sandbox:3",
                                "primary": True,
                                "securityContext": {
                                    "readOnlyRootFilesystem": True,
                                    "allowPrivilegeEscalation": False,
                                    "capabilities": {"drop": ["ALL"]},
                                },
                            }
                        ]
                    }
                ]
            },
        },
    }
    workload_id = dockyard.api.post("/workloads", json=body).json()["id"]
    dockyard.wait_status(workload_id, "running")
    [job] = emulator.list("jobs", NAMESPACE)
    context = job["spec"]["template"]["spec"]["containers"][0]["securityContext"]
    assert context == {
        "readOnlyRootFilesystem": True,
        "allowPrivilegeEscalation": False,
        "capabilities": {"drop": ["ALL"]},
    }
    assert job["spec"]["activeDeadlineSeconds"] > 0
    assert dockyard.api.get(f"/workloads/{workload_id}").json()["endpoint"] is None

    # stop kills it; stop again keeps `stopped`; start runs it again, as a new Job.
    assert dockyard.api.post(f"/workloads/{workload_id}/stop").status_code == 202
    dockyard.wait_status(workload_id, "stopped")
    wait_for("the Job killed", lambda: not emulator.list("jobs", NAMESPACE))
    assert dockyard.api.post(f"/workloads/{workload_id}/start").status_code == 202
    dockyard.wait_status(workload_id, "running")
    [again] = emulator.list("jobs", NAMESPACE)
    assert again["metadata"]["name"] != job["metadata"]["name"]  # a new proton, a new Job
    kubelet.finish(again["metadata"]["name"], 0)
    dockyard.wait_status(workload_id, "succeeded")
    body = dockyard.api.get(f"/workloads/{workload_id}").json()
    assert body["exitCode"] == 0
    # stop of a finished task is a no-op that keeps its status; its Job stays for the logs.
    assert dockyard.api.post(f"/workloads/{workload_id}/stop").status_code == 202
    time.sleep(0.5)
    assert dockyard.status(workload_id) == "succeeded"
    assert len(emulator.list("jobs", NAMESPACE)) == 1
    assert dockyard.api.delete(f"/workloads/{workload_id}").status_code == 204
    wait_for("everything gone", lambda: not emulator.list("jobs", NAMESPACE), timeout=30)


def test_the_current_clients_service_that_exits_ends_as_a_task(
    dockyard: Dockyard, emulator: Emulator, kubelet: Kubelet
) -> None:
    """A `service` artifact on port 8080 with no probes whose program runs and exits: on
    Kubernetes a Deployment, whose primary is reported ended; Dockyard scales it to 0 rather
    than let the kubelet run the program again and again."""
    kubelet.script(
        "registry.example/current:1",
        PodScript(EXITS, output=("partial", "result: 7"), exit_code=124, run_seconds=0.2),
    )
    spec = {
        "containerGroups": [
            {
                "name": "default",
                "containers": [
                    {
                        "name": "sandbox",
                        "primary": True,
                        "port": 8080,
                        "imageUri": "registry.example/current:1",
                    }
                ],
            }
        ]
    }
    body = {
        "name": "sandbox",
        "artifact": {"name": "sandbox", "type": "service", "spec": spec},
        "runtime": {
            "containerGroups": [
                {
                    "name": "default",
                    "replicaCount": 1,
                    "containers": [{"name": "sandbox", "resourceAllocation": {"cpu": 1}}],
                }
            ]
        },
    }
    created = dockyard.api.post("/workloads/", json=body)
    assert created.status_code == 201, created.text
    workload_id = created.json()["id"]
    dockyard.wait_status(workload_id, "failed")
    workload = dockyard.api.get(f"/workloads/{workload_id}").json()
    assert workload["exitCode"] == 124  # the code's own time limit, as the client reads it
    assert workload["statusDetails"]["reason"] == "exit_nonzero"
    assert workload["statusDetails"]["logTail"] == ["partial", "result: 7"]
    wait_for(
        "the Deployment scaled to 0",
        lambda: [d["spec"]["replicas"] for d in emulator.list("deployments", NAMESPACE)] == [0],
    )
    wait_for("the pod gone", lambda: not emulator.list("pods", NAMESPACE))
    # Its output outlives the pod, for the client that reads the logs after the status.
    logs = dockyard.api.get(f"/otel/workload/{workload_id}/logs/").json()["data"]
    assert [e["message"] for e in reversed(logs)] == ["partial", "result: 7"]
    assert dockyard.api.delete(f"/workloads/{workload_id}").status_code == 204
    wait_for("everything gone", lambda: not emulator.list("deployments", NAMESPACE), timeout=30)


def test_past_the_run_cap_a_task_is_killed_failed_and_its_output_kept(
    settings: Settings, kubeconfig: Any, kubelet: Kubelet, emulator: Emulator
) -> None:
    kubelet.script("registry.example/endless:1", PodScript(output=("started",), run_seconds=None))
    capped = settings.model_copy(
        update={"runtime": "kubernetes", "reconcile_sweep_seconds": 0.3, "task_max_seconds": 1}
    )
    spec = {
        "containerGroups": [
            {"containers": [{"imageUri": "registry.example/endless:1", "primary": True}]}
        ]
    }
    with running(capped) as dockyard:
        body = {"name": "endless", "artifact": {"name": "endless", "spec": spec}}
        workload_id = dockyard.api.post("/workloads", json=body).json()["id"]
        [job] = wait_for("the Job", lambda: emulator.list("jobs", NAMESPACE))
        assert job["spec"]["activeDeadlineSeconds"] == 1 + 30  # the cluster's backstop
        dockyard.wait_status(workload_id, "failed")
        workload = dockyard.api.get(f"/workloads/{workload_id}").json()
        assert workload["exitCode"] is None  # Dockyard killed it
        assert workload["statusDetails"]["reason"] == "deadline_exceeded"
        wait_for("the Job deleted", lambda: not emulator.list("jobs", NAMESPACE))
        logs = dockyard.api.get(f"/workloads/{workload_id}/logs").json()["data"]
        assert [entry["message"] for entry in logs] == ["started"]

"""Dockyard with DOCKYARD_RUNTIME=kubernetes, end to end through its API and invoke path,
against the test API server with the test as kubelet: the seed tutorial, a rolling
replacement under steady traffic, an API server outage and a restart of Dockyard."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from dockyard.server.app import create_app
from dockyard.server.settings import Settings
from tests.conftest import ADMIN_TOKEN
from tests.server.proxy.conftest import serve
from tests.server.runtimes.kubernetes.conftest import NAMESPACE
from tests.server.runtimes.kubernetes.emulator import Emulator
from tests.server.runtimes.kubernetes.kubelet import Kubelet
from tests.support.load import LoadLoop

API = "/api/v2"


def web(greeting: str) -> dict[str, Any]:
    return {
        "containerGroups": [
            {
                "name": "default",
                "containers": [
                    {
                        "name": "web",
                        "primary": True,
                        "imageUri": "registry.example/web:1",
                        "port": 8080,
                        "environmentVars": [{"name": "GREETING", "value": greeting}],
                        "readinessProbe": {"path": "/healthz", "periodSeconds": 1},
                    }
                ],
            }
        ]
    }


class Dockyard:
    def __init__(self, app: Any, url: str) -> None:
        self.app = app
        self.url = url
        self.api = httpx.Client(
            base_url=url + API, headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}, timeout=30
        )

    def status(self, workload_id: str) -> str:
        return str(self.api.get(f"/workloads/{workload_id}").json()["status"])

    def wait_status(self, workload_id: str, status: str, timeout: float = 30) -> None:
        wait_for(f"{status}", lambda: self.status(workload_id) == status, timeout)

    def invoke(self, path: str) -> str:
        # The routing table follows a status change within its refresh interval.
        answer = wait_for(
            f"{path} to answer",
            lambda: (found := self.api.get(f"/endpoints/{path}")).status_code == 200 and found,
            timeout=5,
        )
        return str(answer.json()["greeting"])

    def events(self, workload_id: str) -> list[dict[str, Any]]:
        return list(self.api.get(f"/workloads/{workload_id}/events").json()["data"])


def wait_for(what: str, check: Callable[[], Any], timeout: float = 30) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        found = check()
        if found:
            return found
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


@pytest.fixture
def k8s_settings(settings: Settings, kubeconfig: Path) -> Settings:
    return settings.model_copy(
        update={
            "runtime": "kubernetes",
            "reconcile_sweep_seconds": 0.3,
            "proxy_route_refresh_seconds": 0.2,
            "ready_timeout_seconds": 60,
        }
    )


@contextmanager
def running(settings: Settings) -> Iterator[Dockyard]:
    app = create_app(settings)
    server, thread, url = serve(app)
    handle = Dockyard(app, url)
    try:
        yield handle
    finally:
        handle.api.close()
        server.should_exit = True
        thread.join(15)


@pytest.fixture
def dockyard(k8s_settings: Settings, kubelet: Kubelet) -> Iterator[Dockyard]:
    with running(k8s_settings) as handle:
        yield handle


def test_the_seed_tutorial_on_kubernetes(dockyard: Dockyard, emulator: Emulator) -> None:
    # A development workload with an inline draft artifact, on the older paths.
    body = {"name": "tutorial", "artifact": {"name": "tutorial", "spec": web("v1")}}
    created = dockyard.api.post("/console/workloads/", json=body)
    assert created.status_code == 201, created.text
    workload_id, artifact_id = created.json()["id"], created.json()["artifactId"]
    dockyard.wait_status(workload_id, "running")
    assert dockyard.invoke(f"workloads/{workload_id}/") == "v1"
    deployments = emulator.list("deployments", NAMESPACE)
    assert len(deployments) == 1
    assert deployments[0]["metadata"]["labels"]["dockyard.io/workload"] == workload_id

    # Iterate: PATCH metadata, PUT a changed spec, stop and start, see the change.
    patched = dockyard.api.patch(f"/registry/artifacts/{artifact_id}", json={"description": "dev"})
    assert patched.status_code == 200
    put = dockyard.api.put(
        f"/registry/artifacts/{artifact_id}", json={"name": "tutorial", "spec": web("v2")}
    )
    assert put.status_code == 200, put.text
    assert dockyard.api.post(f"/console/workloads/{workload_id}/stop").status_code == 202
    dockyard.wait_status(workload_id, "stopped")
    # Stopped: scaled to 0 and kept (its pods gone).
    assert [d["spec"]["replicas"] for d in emulator.list("deployments", NAMESPACE)] == [0]
    assert dockyard.api.post(f"/console/workloads/{workload_id}/start").status_code == 202
    dockyard.wait_status(workload_id, "running")
    assert dockyard.invoke(f"workloads/{workload_id}/") == "v2"
    # The start made a new proton; the old one's objects are collected.
    wait_for(
        "the stopped proton's Deployment to go",
        lambda: len(emulator.list("deployments", NAMESPACE)) == 1,
        timeout=60,
    )

    # Lock it ("registered" in the older API), then a governed deployment in front of it.
    locked = dockyard.api.patch(f"/registry/artifacts/{artifact_id}", json={"status": "registered"})
    assert locked.status_code == 200 and locked.json()["version"] == 1
    deployment = dockyard.api.post("/console/deployments/", json={"workloadId": workload_id})
    assert deployment.status_code == 201, deployment.text
    deployment_id = deployment.json()["id"]
    wait_for(
        "the deployment to answer",
        lambda: dockyard.api.get(f"/endpoints/deployments/{deployment_id}/").status_code == 200,
    )
    assert dockyard.invoke(f"deployments/{deployment_id}/") == "v2"

    # A rolling replacement onto a new locked version, under steady traffic: no failed request.
    repository_id = locked.json()["artifactRepositoryId"]
    v3 = dockyard.api.post(
        "/registry/artifacts",
        json={
            "name": "tutorial",
            "spec": web("v3"),
            "artifactRepositoryId": repository_id,
            "status": "locked",
        },
    ).json()
    endpoint = f"{dockyard.url}{API}/endpoints/deployments/{deployment_id}/"
    with LoadLoop(endpoint, ADMIN_TOKEN, limit=50_000) as load:
        wait_for("traffic", lambda: load.greetings["v2"] > 10)
        started = dockyard.api.post(
            f"/workloads/{workload_id}/replacement",
            json={"artifactId": v3["id"], "strategy": "rolling"},
        )
        assert started.status_code == 202, started.text
        wait_for("v3 to answer", lambda: load.greetings["v3"] > 20, timeout=60)
    assert load.failures == {}, f"failed requests during the replacement: {load.failures}"
    assert set(load.greetings) <= {"v2", "v3"}

    # Who did what: the audit log, its chain verified.
    log = dockyard.api.get(f"/console/deployments/{deployment_id}/auditLog").json()
    assert log["verified"] is True
    assert [entry["action"] for entry in log["data"]][:1] == ["create"]
    # Deleting the deployment and the workload removes everything from the cluster.
    assert dockyard.api.delete(f"/console/deployments/{deployment_id}").status_code == 204
    assert dockyard.api.delete(f"/workloads/{workload_id}").status_code == 204
    wait_for(
        "the cluster to be empty",
        lambda: (
            not emulator.list("deployments", NAMESPACE) and not emulator.list("services", NAMESPACE)
        ),
        timeout=60,
    )


def test_an_api_server_outage_is_reported_once_and_caught_up(
    dockyard: Dockyard, emulator: Emulator, kubelet: Kubelet
) -> None:
    body = {"name": "w", "artifact": {"name": "w", "spec": web("hi")}}
    workload_id = dockyard.api.post("/workloads", json=body).json()["id"]
    dockyard.wait_status(workload_id, "running")
    emulator.stop()
    try:
        wait_for(
            "the outage to be noticed",
            lambda: any(e["eventType"] == "runtime_error" for e in dockyard.events(workload_id)),
        )
        # Dockyard's own API keeps answering meanwhile, and so does the running pod.
        assert dockyard.api.get(f"/workloads/{workload_id}").status_code == 200
        assert dockyard.invoke(f"workloads/{workload_id}/") == "hi"
        time.sleep(1.5)  # several passes during the outage
        stop = dockyard.api.post(f"/workloads/{workload_id}/stop")
        assert stop.status_code == 202
    finally:
        emulator.start()
    # The stop asked for during the outage is carried out once the server is back.
    dockyard.wait_status(workload_id, "stopped", timeout=60)
    assert [d["spec"]["replicas"] for d in emulator.list("deployments", NAMESPACE)] == [0]
    kinds = [e["eventType"] for e in dockyard.events(workload_id)]
    assert kinds.count("runtime_error") == 1, kinds
    assert kinds.count("runtime_recovered") == 1, kinds


def test_an_unpullable_image_ends_errored_with_the_clusters_words(
    k8s_settings: Settings, kubelet: Kubelet
) -> None:
    from tests.server.runtimes.kubernetes.kubelet import IMAGE_PULL, PodScript

    kubelet.script("registry.example/ghost:1", PodScript(IMAGE_PULL))
    spec = web("x")
    spec["containerGroups"][0]["containers"][0]["imageUri"] = "registry.example/ghost:1"
    with running(k8s_settings.model_copy(update={"ready_timeout_seconds": 2})) as dockyard:
        body = {"name": "g", "artifact": {"name": "g", "spec": spec}}
        workload_id = dockyard.api.post("/workloads", json=body).json()["id"]
        dockyard.wait_status(workload_id, "errored")
        details = dockyard.api.get(f"/workloads/{workload_id}").json()["statusDetails"]
        assert details["reason"] == "image_pull_failed"
        assert "ImagePullBackOff" in details["message"]
        events = dockyard.events(workload_id)
        cluster = [e["details"] for e in events if e["eventType"] == "runtime_event"]
        assert {"Failed", "BackOff"} <= {e["reason"] for e in cluster}
        assert any("pull access denied" in e["message"] for e in cluster)
        # Errored stops the proton: scaled to 0, so the cluster stops pulling.
        invoke = dockyard.api.get(f"/endpoints/workloads/{workload_id}/")
        assert invoke.status_code == 503 and "image_pull_failed" in invoke.text


def test_a_restarted_dockyard_adopts_what_runs(
    k8s_settings: Settings, kubelet: Kubelet, emulator: Emulator
) -> None:
    with running(k8s_settings) as dockyard:
        body = {"name": "w", "artifact": {"name": "w", "spec": web("still here")}}
        workload_id = dockyard.api.post("/workloads", json=body).json()["id"]
        dockyard.wait_status(workload_id, "running")
        pods = {p["metadata"]["uid"] for p in emulator.list("pods", NAMESPACE)}
    with running(k8s_settings) as dockyard:
        assert dockyard.invoke(f"workloads/{workload_id}/") == "still here"
        time.sleep(1.0)  # a few passes of the new server
        assert dockyard.status(workload_id) == "running"
        assert {p["metadata"]["uid"] for p in emulator.list("pods", NAMESPACE)} == pods
        kinds = [e["eventType"] for e in dockyard.events(workload_id)]
        assert kinds.count("replica_started") == 1, kinds


def test_invoke_through_the_api_servers_service_proxy(
    k8s_settings: Settings, kubelet: Kubelet, emulator: Emulator
) -> None:
    # Dockyard outside the cluster: pod IPs are not reachable, the API server is.
    settings = k8s_settings.model_copy(update={"kubernetes_route": "apiserver"})
    with running(settings) as dockyard:
        body = {"name": "w", "artifact": {"name": "w", "spec": web("via the API server")}}
        workload_id = dockyard.api.post("/workloads", json=body).json()["id"]
        dockyard.wait_status(workload_id, "running")

        def answered() -> httpx.Response | None:
            found = dockyard.api.post(
                f"/endpoints/workloads/{workload_id}/predict?x=1", content=b'{"rows": [1, 2]}'
            )
            # The routing table follows the status change within its refresh interval; until
            # then Dockyard itself answers that no replica is ready (nothing reaches the API
            # server, so the count of proxied requests below still holds).
            if found.status_code == 503 and found.json().get("code") == "no_ready_replica":
                return None
            return found

        answer = wait_for("the route to the ready replica", answered, timeout=5)
        assert answer.status_code == 200, answer.text
        assert answer.json()["greeting"] == "via the API server"
        assert answer.json()["path"] == "/predict"
        assert emulator.proxied == ["predict"]


def test_a_change_in_the_cluster_is_looked_at_without_waiting_for_the_sweep(
    k8s_settings: Settings, kubelet: Kubelet, emulator: Emulator
) -> None:
    settings = k8s_settings.model_copy(update={"reconcile_sweep_seconds": 60})
    with running(settings) as dockyard:
        body = {"name": "w", "artifact": {"name": "w", "spec": web("hi")}}
        workload_id = dockyard.api.post("/workloads", json=body).json()["id"]
        dockyard.wait_status(workload_id, "running")
        (pod,) = emulator.list("pods", NAMESPACE)
        kubelet.set_ready(pod, False)
        # The pod's watch event nudges a pass: well before the next sweep, a minute away.
        dockyard.wait_status(workload_id, "launching", timeout=20)
        kinds = [e["eventType"] for e in dockyard.events(workload_id)]
        assert "replica_unready" in kinds
        kubelet.set_ready(pod, True)
        dockyard.wait_status(workload_id, "running", timeout=20)


def test_logs_read_and_followed_from_the_pod_log_api(
    dockyard: Dockyard, kubelet: Kubelet, emulator: Emulator
) -> None:
    from tests.server.runtimes.kubernetes.kubelet import PodScript

    kubelet.script("registry.example/talky:1", PodScript(output=("INFO starting", "ERROR oops")))
    spec = web("x")
    spec["containerGroups"][0]["containers"][0]["imageUri"] = "registry.example/talky:1"
    body = {"name": "t", "artifact": {"name": "t", "spec": spec}}
    workload_id = dockyard.api.post("/workloads", json=body).json()["id"]
    dockyard.wait_status(workload_id, "running")
    page = dockyard.api.get(f"/workloads/{workload_id}/logs").json()
    assert [(e["message"], e["level"], e["replica"]) for e in page["data"]] == [
        ("ERROR oops", "ERROR", "default-0"),
        ("INFO starting", "INFO", "default-0"),
    ]
    (pod,) = emulator.list("pods", NAMESPACE)
    lines: list[str] = []

    def later() -> None:
        time.sleep(1.0)
        emulator.add_log(NAMESPACE, pod["metadata"]["name"], "web", "INFO a new line")

    writer = threading.Thread(target=later)
    writer.start()
    with dockyard.api.stream(
        "GET", f"/workloads/{workload_id}/logs", params={"follow": "true", "timeout": 4}
    ) as streamed:
        for line in streamed.iter_lines():
            lines.append(line)
            if "a new line" in line:
                break
    writer.join()
    assert any("a new line" in line for line in lines), lines


def test_a_crash_loop_past_the_restart_limit_ends_errored_and_scaled_to_zero(
    k8s_settings: Settings, kubelet: Kubelet, emulator: Emulator
) -> None:
    from tests.server.runtimes.kubernetes.kubelet import CRASH, PodScript

    kubelet.script("registry.example/crashy:1", PodScript(CRASH, output=("cannot open config",)))
    spec = web("x")
    spec["containerGroups"][0]["containers"][0]["imageUri"] = "registry.example/crashy:1"
    with running(k8s_settings.model_copy(update={"restart_limit": 3})) as dockyard:
        body = {"name": "c", "artifact": {"name": "c", "spec": spec}}
        workload_id = dockyard.api.post("/workloads", json=body).json()["id"]
        wait_for("a crash", lambda: emulator.list("pods", NAMESPACE))
        wait_for(
            "the first restart to be seen",
            lambda: "replica_restarted" in [e["eventType"] for e in dockyard.events(workload_id)],
        )
        for _ in range(3):  # the kubelet restarts it again and again, on its own back-off
            time.sleep(0.5)
            kubelet.crash_again()
        dockyard.wait_status(workload_id, "errored")
        details = dockyard.api.get(f"/workloads/{workload_id}").json()["statusDetails"]
        assert details["reason"] == "crash_loop"
        assert "CrashLoopBackOff" in details["message"]
        assert details["logTail"] == ["cannot open config"]
        # Dockyard stops what the kubelet would go on restarting.
        wait_for(
            "the Deployment scaled to 0",
            lambda: [d["spec"]["replicas"] for d in emulator.list("deployments", NAMESPACE)] == [0],
        )

"""Autoscaling with DOCKYARD_RUNTIME=kubernetes, through Dockyard's API and invoke path,
against the test API server with the test as kubelet (pods served on 127.0.0.0/8).

Concurrency and scale to zero are Dockyard's own scaler: a bounded client keeps requests in
flight on pods that answer after a pause, and the Deployment's `replicas` must follow (up
under load, down after the shortened window with no request lost, to 0 after the shortened
idle window, and back to 1 for a request, which is held until the kubelet makes the pod
ready). CPU is the cluster's HorizontalPodAutoscaler: the test plays its controller and
Dockyard must report its count without writing another one."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import kubernetes_validate
import pytest

from dockyard.server.runtimes.kubernetes.versions import SUPPORTED_VERSIONS
from dockyard.server.settings import Settings
from tests.conftest import ADMIN_TOKEN
from tests.server.runtimes.kubernetes.conftest import NAMESPACE
from tests.server.runtimes.kubernetes.emulator import Emulator
from tests.server.runtimes.kubernetes.kubelet import Kubelet
from tests.server.runtimes.kubernetes.test_api import Dockyard, k8s_settings, running, wait_for, web
from tests.support.load import ParallelLoad

__all__ = ["k8s_settings"]  # a fixture this module uses

PAUSE = "?sleep=0.4"  # the test pods answer after this pause: requests stay in flight


@pytest.fixture
def scaling_settings(k8s_settings: Settings) -> Settings:
    return k8s_settings.model_copy(
        update={
            "scale_down_stabilization_seconds": 2.0,
            "scale_to_zero_idle_seconds": 4.0,
            "drain_seconds": 10.0,
            "load_report_seconds": 0.2,
            "scale_interval_seconds": 0.3,
        }
    )


@pytest.fixture
def dockyard(scaling_settings: Settings, kubelet: Kubelet) -> Iterator[Dockyard]:
    with running(scaling_settings) as handle:
        yield handle


def group_of(dockyard: Dockyard, workload_id: str) -> dict[str, Any]:
    body = dockyard.api.get(f"/workloads/{workload_id}").json()
    return {"status": body["status"], **body["runtime"]["containerGroups"][0]}


def counts_written(emulator: Emulator) -> list[int]:
    """Each Deployment count as it changed on the API server, in order."""
    found: list[int] = []
    with emulator._lock:
        history = list(emulator.history)
    for _, _, plural, obj in history:
        if plural == "deployments":
            count = int(obj["spec"].get("replicas") or 0)
            if not found or found[-1] != count:
                found.append(count)
    return found


def scaled_events(dockyard: Dockyard, workload_id: str) -> list[dict[str, Any]]:
    found = [e["details"] for e in dockyard.events(workload_id) if e["eventType"] == "scaled"]
    return list(reversed(found))


def create(dockyard: Dockyard, runtime: dict[str, Any]) -> dict[str, Any]:
    body = {"name": "scaled", "artifact": {"name": "scaled", "spec": web("scaled")}}
    response = dockyard.api.post("/workloads", json={**body, "runtime": runtime})
    assert response.status_code == 201, response.text
    return dict(response.json())


def test_concurrency_scales_the_deployment_up_down_to_zero_and_wakes(
    dockyard: Dockyard, emulator: Emulator, kubelet: Kubelet
) -> None:
    scaling = {
        "minReplicaCount": 0,
        "maxReplicaCount": 3,
        "policies": [{"scalingMetric": "httpRequestsConcurrency", "target": 1}],
    }
    workload = create(dockyard, {"containerGroups": [{"name": "default", "autoscaling": scaling}]})
    workload_id, endpoint = workload["id"], workload["endpoint"]
    wait_for(
        "one ready replica",
        lambda: (
            (g := group_of(dockyard, workload_id))["status"] == "running"
            and g["currentReplicaCount"] == 1
        ),
    )
    assert not emulator.list("horizontalpodautoscalers", NAMESPACE)  # Dockyard's own scaler

    # Three requests in flight against a target of one per replica: up, on the cluster too.
    with ParallelLoad(endpoint + PAUSE, ADMIN_TOKEN, 3, timeout=30) as heavy:
        wait_for(
            "more replicas serving",
            lambda: group_of(dockyard, workload_id)["currentReplicaCount"] >= 2,
        )
    # One request at a time: after the window the group goes down to one replica, and the
    # pods drained away are the ones deleted, so no request fails on the way.
    with ParallelLoad(endpoint + PAUSE, ADMIN_TOKEN, 1, timeout=30) as light:
        wait_for(
            "a single replica",
            lambda: (
                group_of(dockyard, workload_id)["desiredReplicaCount"] == 1
                and len(emulator.list("pods", NAMESPACE)) == 1
            ),
        )
        time.sleep(0.5)  # a few more requests on the one left
    assert heavy.statuses and set(heavy.statuses) == {200}, heavy.statuses
    assert light.statuses and set(light.statuses) == {200}, light.statuses
    # No request at all: past the idle window, none (the Deployment kept at 0), still running.
    wait_for(
        "zero replicas",
        lambda: (
            (g := group_of(dockyard, workload_id))["desiredReplicaCount"] == 0
            and g["currentReplicaCount"] == 0
            and not emulator.list("pods", NAMESPACE)
        ),
    )
    (deployment,) = emulator.list("deployments", NAMESPACE)
    assert deployment["spec"]["replicas"] == 0
    assert group_of(dockyard, workload_id)["status"] == "running"
    written = counts_written(emulator)
    assert max(written) >= 2 and written[-1] == 0, written

    # A request at zero: the Deployment goes back to 1, the request is held while the pod is
    # not ready, and served once the kubelet makes it ready.
    kubelet.readiness.clear()
    answers: list[httpx.Response] = []
    caller = threading.Thread(
        target=lambda: answers.append(
            httpx.get(endpoint, headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}, timeout=60)
        )
    )
    caller.start()
    wait_for("a pod for the request", lambda: emulator.list("pods", NAMESPACE))
    (deployment,) = emulator.list("deployments", NAMESPACE)
    assert deployment["spec"]["replicas"] == 1
    time.sleep(0.5)
    assert not answers  # held: no pod is ready
    kubelet.readiness.set()
    caller.join(30)
    assert answers and answers[0].status_code == 200, answers
    assert answers[0].json()["greeting"] == "scaled"
    assert group_of(dockyard, workload_id)["desiredReplicaCount"] == 1
    moves = [(e["from"], e["to"]) for e in scaled_events(dockyard, workload_id)]
    assert moves[0][0] == 1 and moves[0][1] >= 2, moves
    assert (1, 0) in moves and moves[-1] == (0, 1), moves


def test_cpu_is_the_clusters_autoscaler_and_dockyard_follows_it(
    dockyard: Dockyard, emulator: Emulator, kubelet: Kubelet
) -> None:
    scaling = {
        "minReplicaCount": 1,
        "maxReplicaCount": 4,
        "policies": [{"scalingMetric": "cpuAverageUtilization", "target": 50}],
    }
    group = {
        "name": "default",
        "autoscaling": scaling,
        "containers": [{"name": "web", "resourceAllocation": {"cpu": 0.5}}],
    }
    workload_id = create(dockyard, {"containerGroups": [group]})["id"]
    dockyard.wait_status(workload_id, "running")
    (hpa,) = wait_for("the HPA", lambda: emulator.list("horizontalpodautoscalers", NAMESPACE))
    for version in SUPPORTED_VERSIONS:
        kubernetes_validate.validate(hpa, version, strict=True)
    (deployment,) = emulator.list("deployments", NAMESPACE)
    assert hpa["spec"]["scaleTargetRef"]["name"] == deployment["metadata"]["name"]
    assert hpa["spec"]["metrics"][0]["resource"]["target"]["averageValue"] == "250m"

    # The HPA's controller reads 0.4 cores per pod (80 % of the limit) and asks for three.
    kubelet.autoscale(NAMESPACE, hpa["metadata"]["name"], 3, "400m")
    wait_for(
        "Dockyard to show the HPA's count",
        lambda: (
            (g := group_of(dockyard, workload_id))["desiredReplicaCount"] == 3
            and g["currentReplicaCount"] == 3
        ),
    )
    (event,) = scaled_events(dockyard, workload_id)
    assert event["from"] == 1 and event["to"] == 3
    assert event["metric"] == "cpuAverageUtilization" and event["value"] == 80.0
    # Several passes later, nothing of Dockyard's has written another count.
    time.sleep(1.5)
    (deployment,) = emulator.list("deployments", NAMESPACE)
    assert deployment["spec"]["replicas"] == 3
    assert counts_written(emulator) == [1, 3]
    assert group_of(dockyard, workload_id)["status"] == "running"
    # Down again, the ReplicaSet choosing the pods: Dockyard follows without a write of its own.
    kubelet.autoscale(NAMESPACE, hpa["metadata"]["name"], 1, "50m")
    wait_for(
        "Dockyard to show one replica",
        lambda: (
            (g := group_of(dockyard, workload_id))["desiredReplicaCount"] == 1
            and g["currentReplicaCount"] == 1
        ),
    )
    time.sleep(1.0)
    assert counts_written(emulator) == [1, 3, 1]
    assert group_of(dockyard, workload_id)["status"] == "running"
    assert dockyard.invoke(f"workloads/{workload_id}/") == "scaled"

    # Scaling on concurrency instead: a new proton without an HPA; the old one's goes with it.
    concurrency = {
        **scaling,
        "policies": [{"scalingMetric": "httpRequestsConcurrency", "target": 4}],
    }
    response = dockyard.api.patch(
        f"/workloads/{workload_id}/settings",
        json={"runtime": {"containerGroups": [{**group, "autoscaling": concurrency}]}},
    )
    assert response.status_code in (200, 202), response.text
    wait_for(
        "the HPA to go",
        lambda: not emulator.list("horizontalpodautoscalers", NAMESPACE),
        timeout=60,
    )
    dockyard.wait_status(workload_id, "running")
    assert dockyard.api.delete(f"/workloads/{workload_id}").status_code == 204
    wait_for("the cluster to be empty", lambda: not emulator.list("deployments", NAMESPACE))


def test_cpu_and_concurrency_in_one_group_is_refused_on_kubernetes(dockyard: Dockyard) -> None:
    scaling = {
        "minReplicaCount": 1,
        "maxReplicaCount": 4,
        "policies": [
            {"scalingMetric": "cpuAverageUtilization", "target": 50},
            {"scalingMetric": "httpRequestsConcurrency", "target": 4},
        ],
    }
    group = {
        "name": "default",
        "autoscaling": scaling,
        "containers": [{"name": "web", "resourceAllocation": {"cpu": 0.5}}],
    }
    body = {"name": "mixed", "artifact": {"name": "mixed", "spec": web("x")}}
    response = dockyard.api.post(
        "/workloads", json={**body, "runtime": {"containerGroups": [group]}}
    )
    assert response.status_code == 422, response.text
    assert response.json()["code"] == "metric_not_available"
    assert "HorizontalPodAutoscaler" in response.json()["detail"]

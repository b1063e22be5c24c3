"""Autoscaling on the kubernetes runtime against the test API server: the HorizontalPodAutoscaler
of a group scaled on CPU (created, patched, deleted, adopted, valid as sent, and never fought
over the Deployment's count), and the pods Dockyard's own scaler drains being the ones the
Deployment deletes."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import kubernetes_validate
import pytest

from dockyard.core.spec import stored_spec
from dockyard.core.workloads import WorkloadRuntime
from dockyard.server.kit.ids import new_id
from dockyard.server.runtimes.base import ProtonSpec, RuntimePermanentError, RuntimeScale
from dockyard.server.runtimes.kubernetes import autoscaler
from dockyard.server.runtimes.kubernetes.connection import check
from dockyard.server.runtimes.kubernetes.names import object_name
from dockyard.server.runtimes.kubernetes.runtime import KubernetesRuntime
from dockyard.server.runtimes.kubernetes.versions import SUPPORTED_VERSIONS
from dockyard.server.runtimes.proton_spec import build_proton_spec
from dockyard.server.settings import KubernetesRoute
from tests.factories import service_spec
from tests.server.runtimes.kubernetes.conftest import NAMESPACE, eventually
from tests.server.runtimes.kubernetes.emulator import Emulator
from tests.server.runtimes.kubernetes.kubelet import Kubelet

CPU = {"scalingMetric": "cpuAverageUtilization", "target": 60}
CONCURRENCY = {"scalingMetric": "httpRequestsConcurrency", "target": 2}


def scaled_spec(
    *policies: dict[str, Any],
    low: int = 2,
    high: int = 6,
    cpu: float | None = 0.5,
    replicas: int | None = None,
    proton_id: str | None = None,
    workload_id: str | None = None,
) -> ProtonSpec:
    """A one-group proton autoscaled by `policies`, each container limited to `cpu` cores."""
    group: dict[str, Any] = {"name": "default"}
    if policies:
        group["autoscaling"] = {
            "minReplicaCount": low,
            "maxReplicaCount": high,
            "policies": list(policies),
        }
        group["replicaCount"] = None
    else:
        group["replicaCount"] = replicas or 1
    if cpu is not None:
        group["containers"] = [{"name": "primary", "resourceAllocation": {"cpu": cpu}}]
    runtime = WorkloadRuntime.model_validate({"containerGroups": [group]})
    return build_proton_spec(
        instance_id="inst0000000000000000000a",
        workload_id=workload_id or new_id(),
        proton_id=proton_id or new_id(),
        spec=stored_spec(service_spec(image="registry.example/app:1")),
        runtime=runtime,
        platform_env={},
        secrets=lambda _credential, _key: None,
        replica_counts={"default": replicas} if replicas is not None else None,
    )


def hpa_of(emulator: Emulator, spec: ProtonSpec) -> dict[str, Any] | None:
    return emulator.get(
        "horizontalpodautoscalers", NAMESPACE, object_name(spec.proton_id, "default")
    )


def deployment_of(emulator: Emulator, spec: ProtonSpec) -> dict[str, Any]:
    found = emulator.get("deployments", NAMESPACE, object_name(spec.proton_id, "default"))
    assert found is not None
    return found


def test_a_cpu_scaled_group_gets_a_valid_autoscaler_for_its_deployment(
    runtime: KubernetesRuntime, emulator: Emulator
) -> None:
    spec = scaled_spec(CPU, replicas=2)
    runtime.ensure_proton(spec)
    hpa = hpa_of(emulator, spec)
    assert hpa is not None
    name = object_name(spec.proton_id, "default")
    assert hpa["spec"]["scaleTargetRef"] == {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "name": name,
    }
    assert (hpa["spec"]["minReplicas"], hpa["spec"]["maxReplicas"]) == (2, 6)
    # 60 % of the pod's half-core limit, as an average value: Kubernetes' utilization would
    # count against requests, Dockyard's metric is against the limit.
    (metric,) = hpa["spec"]["metrics"]
    assert metric["resource"] == {
        "name": "cpu",
        "target": {"type": "AverageValue", "averageValue": "300m"},
    }
    assert hpa["spec"]["behavior"]["scaleDown"]["stabilizationWindowSeconds"] == 300
    assert hpa["metadata"]["labels"]["dockyard.io/proton"] == spec.proton_id
    # As the runtime sent it (and the API server stamped it), for every supported version.
    for version in SUPPORTED_VERSIONS:
        kubernetes_validate.validate(hpa, version, strict=True)
    # The Deployment starts with the group's count; the HPA takes it from there.
    assert deployment_of(emulator, spec)["spec"]["replicas"] == 2


def test_dockyard_leaves_the_count_to_the_autoscaler_and_reports_it(
    runtime: KubernetesRuntime, emulator: Emulator, kubelet: Kubelet
) -> None:
    spec = scaled_spec(CPU, replicas=2)
    runtime.ensure_proton(spec)
    name = object_name(spec.proton_id, "default")
    eventually(
        lambda: len(runtime.observe(spec.proton_id)) == 2 and runtime.own_scale(spec.proton_id)
    )
    assert runtime.own_scale(spec.proton_id) == {
        "default": RuntimeScale(replicas=2, metric="cpuAverageUtilization", value=None)
    }
    # The cluster's HPA controller reads 0.45 cores per pod (90 % of the limit): four pods.
    kubelet.autoscale(NAMESPACE, name, 4, "450m")
    # The count comes from the Deployment and the reading from the HPA, through two watches
    # whose events arrive in either order.
    eventually(
        lambda: (
            runtime.own_scale(spec.proton_id)
            == {"default": RuntimeScale(replicas=4, metric="cpuAverageUtilization", value=90.0)}
        ),
        what="the new count and its reading",
    )
    eventually(lambda: sum(r.ready is True for r in runtime.observe(spec.proton_id)) == 4)
    assert [r.index for r in runtime.observe(spec.proton_id)] == [0, 1, 2, 3]
    # The kubelet's last status report is on its way to the runtime's cache; a patch from a
    # cache behind the server meets a 409 and is sent again, which is a second PATCH.
    eventually(
        lambda: (
            runtime.deployments.get(name)["metadata"]["resourceVersion"]
            == deployment_of(emulator, spec)["metadata"]["resourceVersion"]
        ),
        what="the runtime's cache to hold the Deployment as the server does",
    )
    # Ensuring the proton again with the count Dockyard last asked for writes no count back.
    patches = emulator.count("PATCH", "deployments")
    runtime.ensure_proton(
        scaled_spec(CPU, replicas=2, proton_id=spec.proton_id, workload_id=spec.workload_id)
    )
    assert deployment_of(emulator, spec)["spec"]["replicas"] == 4
    assert emulator.count("PATCH", "deployments") <= patches + 1
    # The HPA lowers the count; the ReplicaSet picks which pods go, and the replicas left are
    # counted from 0 again.
    kubelet.autoscale(NAMESPACE, name, 2, "100m")
    eventually(lambda: [r.index for r in runtime.observe(spec.proton_id)] == [0, 1])


def test_settings_patch_the_autoscaler_and_cpu_off_deletes_it(
    runtime: KubernetesRuntime, emulator: Emulator
) -> None:
    spec = scaled_spec(CPU, replicas=2)
    runtime.ensure_proton(spec)
    same = {"proton_id": spec.proton_id, "workload_id": spec.workload_id}
    runtime.ensure_proton(scaled_spec(CPU, high=9, replicas=2, **same))
    hpa = hpa_of(emulator, spec)
    assert hpa is not None and hpa["spec"]["maxReplicas"] == 9
    # Now on concurrency: Dockyard's scaler sizes the group, the HPA goes.
    runtime.ensure_proton(scaled_spec(CONCURRENCY, replicas=3, **same))
    assert hpa_of(emulator, spec) is None
    assert deployment_of(emulator, spec)["spec"]["replicas"] == 3
    assert runtime.own_scale(spec.proton_id) == {}


def test_the_autoscaler_goes_with_its_proton_and_is_adopted_and_collected(
    connect: Callable[[], KubernetesRuntime], kubelet: Kubelet, emulator: Emulator
) -> None:
    first = connect()
    kept, gone, removed = (scaled_spec(CPU, replicas=2) for _ in range(3))
    for spec in (kept, gone, removed):
        first.ensure_proton(spec)
    first.remove_proton(removed.proton_id)
    assert hpa_of(emulator, removed) is None
    # A restarted server finds the HPAs by the installation label and collects the unknown.
    again = connect()
    assert {kept.proton_id, gone.proton_id} <= set(again.adopt("inst0000000000000000000a"))
    assert again.garbage_collect("inst0000000000000000000a", {kept.proton_id}) == [gone.proton_id]
    assert hpa_of(emulator, gone) is None and hpa_of(emulator, kept) is not None


def test_cpu_and_concurrency_in_one_group_are_refused_in_words(runtime: KubernetesRuntime) -> None:
    with pytest.raises(RuntimePermanentError) as refused:
        runtime.validate(scaled_spec(CPU, CONCURRENCY))
    assert refused.value.code == "metric_not_available"
    assert "HorizontalPodAutoscaler" in refused.value.reason
    with pytest.raises(RuntimePermanentError) as unlimited:
        runtime.validate(scaled_spec(CPU, cpu=None))
    assert unlimited.value.code == "metric_not_available"
    assert runtime.validate(scaled_spec(CONCURRENCY, low=0)) == []


def test_the_start_check_names_a_missing_autoscaler_verb(
    runtime: KubernetesRuntime, emulator: Emulator
) -> None:
    emulator.denied.add(("watch", "horizontalpodautoscalers"))
    emulator.denied.add(("patch", "pods"))
    with pytest.raises(RuntimePermanentError) as refused:
        check(runtime.connection, KubernetesRoute.PODS)
    assert "watch horizontalpodautoscalers" in refused.value.reason
    assert "patch pods" in refused.value.reason


def test_a_lowered_count_deletes_the_drained_pods(
    runtime: KubernetesRuntime, emulator: Emulator, kubelet: Kubelet
) -> None:
    spec = scaled_spec(CONCURRENCY, low=1, replicas=4)
    runtime.ensure_proton(spec)
    eventually(lambda: sum(r.ready is True for r in runtime.observe(spec.proton_id)) == 4)
    pods = {r.index: r.host for r in runtime.observe(spec.proton_id)}
    # Dockyard's scaler drained replicas 2 and 3: the count goes to 2, and those two go.
    runtime.ensure_proton(
        scaled_spec(
            CONCURRENCY, low=1, replicas=2, proton_id=spec.proton_id, workload_id=spec.workload_id
        )
    )
    eventually(lambda: len(runtime.observe(spec.proton_id)) == 2, what="two replicas")
    assert {r.index: r.host for r in runtime.observe(spec.proton_id)} == {0: pods[0], 1: pods[1]}
    costs = [
        (p["metadata"].get("annotations") or {}).get(autoscaler.DELETION_COST)
        for p in emulator.list("pods", NAMESPACE)
    ]
    assert costs == [None, None]

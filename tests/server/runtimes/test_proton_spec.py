"""From an artifact spec and runtime settings to the ProtonSpec: what a runtime that runs
probes and reserves resources itself (Kubernetes) needs carried through."""

from __future__ import annotations

from typing import Any

import pytest

from dockyard.core.bundles import CATALOG, Bundle
from dockyard.core.spec import ServiceArtifactSpec
from dockyard.core.workloads import WorkloadRuntime
from dockyard.server.runtimes.base import ContainerSpec, Probe, ProtonSpec
from dockyard.server.runtimes.proton_spec import build_proton_spec


def built(containers: list[dict[str, Any]], runtime: dict[str, Any] | None = None) -> ProtonSpec:
    return build_proton_spec(
        instance_id="i",
        workload_id="w",
        proton_id="p",
        spec=ServiceArtifactSpec.model_validate(
            {"containerGroups": [{"name": "default", "containers": containers}]}
        ),
        runtime=WorkloadRuntime.model_validate(
            {"containerGroups": [{"name": "default", **(runtime or {})}]}
        ),
        platform_env={"WORKLOAD_ID": "w"},
        secrets=lambda credential, key: None if credential == "gone" else f"{credential}/{key}",
    )


def containers(spec: ProtonSpec) -> dict[str, ContainerSpec]:
    return {c.name: c for c in spec.groups[0].containers}


PRIMARY = {"primary": True, "imageUri": "app:1", "port": 8080}


def test_probe_timings_and_host_are_carried() -> None:
    probe = {
        "path": "/ready",
        "host": "example.internal",
        "initialDelaySeconds": 1,
        "periodSeconds": 2,
        "timeoutSeconds": 3,
        "failureThreshold": 4,
        "successThreshold": 5,
    }
    spec = built([{**PRIMARY, "readinessProbe": probe, "livenessProbe": {"path": "/"}}])
    readiness, liveness = containers(spec)["primary"].probes
    assert readiness == Probe(
        kind="readiness",
        path="/ready",
        port=8080,
        initial_delay_seconds=1,
        period_seconds=2,
        timeout_seconds=3,
        failure_threshold=4,
        success_threshold=5,
        host="example.internal",
    )
    # The Workload API's defaults when the artifact says nothing.
    assert (liveness.initial_delay_seconds, liveness.period_seconds) == (30, 30)
    assert (liveness.timeout_seconds, liveness.failure_threshold) == (30, 3)
    assert (liveness.success_threshold, liveness.host) == (1, None)


def test_credential_variables_are_told_apart() -> None:
    env = [
        {"name": "PLAIN", "value": "x"},
        {"name": "TOKEN", "source": "dr-credential", "drCredentialId": "c1", "key": "token"},
        {"name": "MISSING", "source": "dr-credential", "drCredentialId": "gone", "key": "k"},
    ]
    primary = containers(built([{**PRIMARY, "environmentVars": env}]))["primary"]
    assert primary.env == {"PLAIN": "x", "TOKEN": "c1/token", "WORKLOAD_ID": "w", "PORT": "8080"}
    assert primary.credential_env == frozenset({"TOKEN"})


def test_requests_from_the_artifact_overridden_by_the_workload() -> None:
    spec = built(
        [
            {**PRIMARY, "resourceRequest": {"cpu": 0.5, "memory": "1GiB"}},
            {"name": "side", "imageUri": "app:1", "resourceRequest": {"memory": 1000}},
        ],
        {"containers": [{"name": "primary", "resourceRequest": {"cpu": 0.25}}]},
    )
    assert (
        containers(spec)["primary"].cpu_request,
        containers(spec)["primary"].memory_request,
    ) == (
        0.25,
        1024**3,
    )
    assert (containers(spec)["side"].cpu_request, containers(spec)["side"].memory_request) == (
        None,
        1000,
    )


def test_gpus_from_a_bundle_go_to_the_primary(monkeypatch: pytest.MonkeyPatch) -> None:
    # The built-in catalog has no GPU bundle: one is added for this test.
    gpu = Bundle(id="gpu.test", name="GPU", cpu_count=4, memory_bytes=2**34, gpu_count=2)
    monkeypatch.setitem(CATALOG, gpu.id, gpu)
    two = [PRIMARY, {"name": "side", "imageUri": "app:1"}]

    spec = built(two, {"resourceBundles": ["gpu.test"]})
    assert (containers(spec)["primary"].gpu, containers(spec)["side"].gpu) == (2, None)
    assert containers(spec)["primary"].cpu == 4

    # A container's own allocation overrides; devices are whole.
    spec = built(
        two,
        {
            "resourceBundles": ["gpu.test"],
            "containers": [
                {"name": "primary", "resourceAllocation": {"gpu": 0}},
                {"name": "side", "resourceAllocation": {"gpu": 0.5}},
            ],
        },
    )
    assert (containers(spec)["primary"].gpu, containers(spec)["side"].gpu) == (None, 1)
    assert containers(built(two))["primary"].gpu is None


def test_a_seccomp_localhost_profile_is_carried() -> None:
    context = {"seccompProfile": {"type": "Localhost", "localhostProfile": "p.json"}}
    primary = containers(built([{**PRIMARY, "securityContext": context}]))["primary"]
    assert (primary.security.seccomp_profile, primary.security.seccomp_localhost_profile) == (
        "Localhost",
        "p.json",
    )

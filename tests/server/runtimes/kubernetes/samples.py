"""Proton specs covering what the Kubernetes objects map: sidecars, each kind of probe, limits
and requests, GPUs, hardening, credentials, ids that start with a digit and long names."""

from __future__ import annotations

from dockyard.core.spec import ServiceArtifactSpec
from dockyard.core.workloads import WorkloadRuntime
from dockyard.server.runtimes.base import (
    ContainerSpec,
    GroupSpec,
    Probe,
    ProtonSpec,
    SecurityContext,
)
from dockyard.server.runtimes.proton_spec import build_proton_spec

INSTANCE = "66f1c2d0a1b2c3d4e5f60718"
WORKLOAD = "66f1c2d0a1b2c3d4e5f60719"
PROTON = "66f1c2d0a1b2c3d4e5f6071a"
IMAGE = "registry.example.com/team/app:1.2"
MiB = 1024**2


def proton(*groups: GroupSpec, proton_id: str = PROTON, instance_id: str = INSTANCE) -> ProtonSpec:
    return ProtonSpec(
        instance_id=instance_id, workload_id=WORKLOAD, proton_id=proton_id, groups=groups
    )


def primary(**options: object) -> ContainerSpec:
    options.setdefault("port", 8080)
    return ContainerSpec("primary", IMAGE, primary=True, **options)  # type: ignore[arg-type]


def group(*containers: ContainerSpec, name: str = "default", replicas: int = 1) -> GroupSpec:
    return GroupSpec(name, containers, replica_count=replicas)


def minimal() -> ProtonSpec:
    return proton(group(primary()))


def with_sidecars() -> ProtonSpec:
    return proton(
        group(
            primary(entrypoint=("python", "-m", "app"), env={"MODE": "serve"}),
            ContainerSpec(
                "log-shipper",
                "registry.example.com/shipper:3",
                entrypoint=("ship", "--to", "stdout"),
                probes=(Probe("liveness", "/alive", 9100),),
            ),
            ContainerSpec("cache", "docker.io/library/redis:7"),
            replicas=3,
        )
    )


def every_probe() -> ProtonSpec:
    return proton(
        group(
            primary(
                probes=(
                    Probe("startup", "/started", 8080, failure_threshold=30, period_seconds=2),
                    Probe(
                        "readiness",
                        "/ready?deep=1",
                        8081,
                        scheme="HTTPS",
                        headers=(("Authorization", "Bearer x"), ("X-Probe", "1")),
                        initial_delay_seconds=0,
                        period_seconds=5,
                        timeout_seconds=2,
                        success_threshold=2,
                    ),
                    Probe("liveness", "/live", 8080, host="127.0.0.1", failure_threshold=5),
                )
            )
        )
    )


def limits_and_requests() -> ProtonSpec:
    return proton(
        group(
            primary(cpu=2.0, memory=512 * MiB, cpu_request=0.25, memory_request=256 * MiB),
            ContainerSpec("sidecar-1", IMAGE, cpu=0.001, cpu_request=0.0004),
            ContainerSpec("sidecar-2", IMAGE, memory=64 * MiB, memory_request=128 * MiB),
            ContainerSpec("sidecar-3", IMAGE, cpu_request=0.5, memory_request=100 * MiB),
            replicas=2,
        )
    )


def gpu_bundle() -> ProtonSpec:
    return proton(group(primary(cpu=4.0, memory=16 * 1024 * MiB, gpu=2)))


def hardened() -> ProtonSpec:
    return proton(
        group(
            primary(
                security=SecurityContext(
                    read_only_root_filesystem=True,
                    allow_privilege_escalation=False,
                    capabilities_add=("CAP_NET_BIND_SERVICE",),
                    capabilities_drop=("ALL",),
                    run_as_user=1000,
                    run_as_group=3000,
                    run_as_non_root=True,
                    seccomp_profile="RuntimeDefault",
                )
            ),
            ContainerSpec(
                "sidecar-1",
                IMAGE,
                security=SecurityContext(
                    seccomp_profile="Localhost", seccomp_localhost_profile="profiles/audit.json"
                ),
            ),
        )
    )


def with_credentials() -> ProtonSpec:
    return proton(
        group(
            primary(
                env={"PLAIN": "x", "DB_PASSWORD": "s3cr3t", "API_TOKEN": "tok\nen"},
                credential_env=frozenset({"DB_PASSWORD", "API_TOKEN"}),
            ),
            ContainerSpec(
                "agent.v2",
                IMAGE,
                env={"DB_PASSWORD": "other"},
                credential_env=frozenset({"DB_PASSWORD"}),
            ),
        ),
        group(
            ContainerSpec(
                "primary",
                IMAGE,
                port=9000,
                primary=True,
                env={"DB_PASSWORD": "third"},
                credential_env=frozenset({"DB_PASSWORD"}),
            ),
            name="worker",
        ),
    )


def digit_first_ids() -> ProtonSpec:
    return proton(
        group(primary(), name="0group"),
        proton_id="0123456789abcdef01234567",
        instance_id="9876543210fedcba98765432",
    )


def long_names() -> ProtonSpec:
    long_group = "G" + "roup_Of.Containers-" * 3 + "x" * 5
    return proton(
        group(
            ContainerSpec("Primary_Server.v1" + "x" * 40, IMAGE, port=8080, primary=True),
            ContainerSpec("Sidecar." + "y" * 55, IMAGE),
            name=long_group[:63],
        ),
        proton_id="Proton-ID-" + "z" * 60,
        instance_id="an installation id that is much longer than a label value may be_",
    )


def task() -> ProtonSpec:
    return proton(
        group(
            ContainerSpec(
                "primary",
                IMAGE,
                entrypoint=("sh", "-c", "echo done"),
                primary=True,
                env={"TOKEN": "t"},
                credential_env=frozenset({"TOKEN"}),
            ),
            ContainerSpec("proxy", IMAGE, entrypoint=("proxy",)),
        )
    )


def from_artifact() -> ProtonSpec:
    """Built the way the reconciler builds it, from an artifact spec and runtime settings."""
    spec = ServiceArtifactSpec.model_validate(
        {
            "containerGroups": [
                {
                    "name": "default",
                    "containers": [
                        {
                            "primary": True,
                            "imageUri": IMAGE,
                            "port": 8080,
                            "entrypoint": ["serve", "--port", "8080"],
                            "environmentVars": [
                                {"name": "GREETING", "value": "hi"},
                                {
                                    "name": "SECRET",
                                    "source": "dr-credential",
                                    "drCredentialId": "cred1",
                                    "key": "password",
                                },
                            ],
                            "readinessProbe": {"path": "/ready", "periodSeconds": 3},
                            "resourceRequest": {"cpu": 0.1, "memory": "64MiB"},
                            "securityContext": {
                                "readOnlyRootFilesystem": True,
                                "seccompProfile": {"type": "RuntimeDefault"},
                            },
                        },
                        {"imageUri": IMAGE, "livenessProbe": {"path": "/", "port": 9000}},
                    ],
                }
            ]
        }
    )
    runtime = WorkloadRuntime.model_validate(
        {
            "containerGroups": [
                {
                    "name": "default",
                    "replicaCount": 2,
                    "resourceBundles": ["cpu.small"],
                    "containers": [
                        {"name": "primary", "resourceAllocation": {"cpu": 1, "gpu": 1}},
                    ],
                }
            ]
        }
    )
    return build_proton_spec(
        instance_id=INSTANCE,
        workload_id=WORKLOAD,
        proton_id=PROTON,
        spec=spec,
        runtime=runtime,
        platform_env={"WORKLOAD_ID": WORKLOAD},
        secrets=lambda credential, key: f"{credential}:{key}",
    )


SAMPLES = {
    sample.__name__: sample
    for sample in (
        minimal,
        with_sidecars,
        every_probe,
        limits_and_requests,
        gpu_bundle,
        hardened,
        with_credentials,
        digit_first_ids,
        long_names,
        task,
        from_artifact,
    )
}

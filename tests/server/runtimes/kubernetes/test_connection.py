"""Choosing and connecting the kubernetes runtime: kubeconfig and context, the namespace,
`dockyard doctor`, and `dockyard serve` refusing a cluster it cannot use in one sentence."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from dockyard.server.doctor import diagnose
from dockyard.server.runtimes import select
from dockyard.server.runtimes.base import RuntimePermanentError
from dockyard.server.runtimes.kubernetes.runtime import KubernetesRuntime
from tests.conftest import ADMIN_TOKEN
from tests.server.runtimes.kubernetes.conftest import NAMESPACE, kube_settings
from tests.server.runtimes.kubernetes.emulator import Emulator


def test_select_connects_through_the_kubeconfig(kubeconfig: Path, tmp_path: Path) -> None:
    runtime, sentence = select.choose_runtime(kube_settings(tmp_path))
    try:
        assert isinstance(runtime, KubernetesRuntime)
        # Outside a cluster the namespace is dockyard-workloads, not the context's own.
        assert runtime.namespace == NAMESPACE
        assert "namespace dockyard-workloads" in sentence
        assert runtime.describe()["invoke traffic"] == "ready pod IPs"
    finally:
        runtime.close()


def test_the_context_setting_picks_the_context(
    kubeconfig: Path, tmp_path: Path, emulator: Emulator
) -> None:
    config = yaml.safe_load(kubeconfig.read_text())
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{closed.getsockname()[1]}"
    config["clusters"].append({"name": "dead", "cluster": {"server": dead}})
    config["contexts"].append({"name": "dead", "context": {"cluster": "dead", "user": "test"}})
    config["current-context"] = "dead"
    kubeconfig.write_text(yaml.safe_dump(config))
    runtime = KubernetesRuntime.connect(kube_settings(tmp_path, kubernetes_context="test"))
    try:
        assert runtime.connection.server == emulator.url
    finally:
        runtime.close()


def test_doctor_names_the_cluster_the_namespace_and_a_missing_verb(
    kubeconfig: Path, tmp_path: Path, emulator: Emulator
) -> None:
    found = {f.name: f for f in diagnose(kube_settings(tmp_path))}
    assert found["cluster"].value == emulator.url
    assert found["namespace"].value == NAMESPACE
    assert found["access"].ok
    emulator.denied.add(("delete", "deployments"))
    access = {f.name: f for f in diagnose(kube_settings(tmp_path))}["access"]
    assert not access.ok and "may not delete deployments" in (access.advice or "")


def test_serve_refuses_a_missing_namespace_in_one_sentence(
    kubeconfig: Path, tmp_path: Path
) -> None:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("DOCKYARD_")}
    environment.update(
        DOCKYARD_HOME=str(tmp_path / "home"),
        DOCKYARD_RUNTIME="kubernetes",
        DOCKYARD_KUBERNETES_NAMESPACE="nowhere",
        DOCKYARD_ADMIN_TOKEN=ADMIN_TOKEN,
        KUBECONFIG=str(kubeconfig),
    )
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    command = [sys.executable, "-c", "from dockyard.cli.main import app; app()", "serve"]
    done = subprocess.run(
        [*command, "--port", str(port)],
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2, done.stderr
    output = done.stdout + done.stderr
    assert "namespace 'nowhere' does not exist" in output
    assert "Traceback" not in output


def test_a_role_without_the_job_verbs_is_refused_at_start_naming_them(
    kubeconfig: Path, tmp_path: Path, emulator: Emulator
) -> None:
    emulator.denied.update({("create", "jobs"), ("watch", "jobs")})
    with pytest.raises(RuntimePermanentError) as refused:
        KubernetesRuntime.connect(kube_settings(tmp_path)).close()
    assert refused.value.code == "runtime_forbidden"
    assert "may not watch jobs, create jobs" in refused.value.reason

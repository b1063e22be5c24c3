"""The generated objects run for real: `podman kube play` on the private Podman of the tests.

No cluster runs on these machines; Podman's `kube play` runs Deployments and Pods from the same
YAML a cluster takes (it runs no Services or Jobs, so a Job's pod template is played as a Pod).
Each pod gets an address on a bridge Podman makes for it; the test reaches the containers
there, as a Service would send traffic to them.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from dockyard.server.runtimes.base import ContainerSpec, GroupSpec, Probe, ProtonSpec
from dockyard.server.runtimes.base import SecurityContext as Hardening
from dockyard.server.runtimes.kubernetes import objects
from dockyard.server.runtimes.kubernetes.labels import LABEL_PROTON
from tests.conftest import require_service
from tests.server.runtimes.helpers import wait_for
from tests.support.images import BUSYBOX_IMAGE

SCRIPT = Path(__file__).resolve().parents[4] / "scripts" / "test-podman.sh"
NAMESPACE = "dockyard-workloads"
# Writes what it was given where httpd serves it, then serves on $PORT.
SERVE = (
    'mkdir -p /tmp/www && cp /www/healthz /tmp/www/ && echo "$GREETING $TOKEN $PORT" > /tmp/www/env'
    " && echo serving && exec httpd -f -p $PORT -h /tmp/www"
)


@dataclass
class Podman:
    """The `podman` command on the tests' private store, with kube play's network kept there."""

    store: Path
    conf: Path

    def run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        command = [
            "podman",
            "--root",
            str(self.store / "root"),
            "--runroot",
            str(self.store / "runroot"),
            "--tmpdir",
            str(self.store / "tmp"),
            *args,
        ]
        env = {**os.environ, "CONTAINERS_CONF": str(self.conf)}
        done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=120)
        if check and done.returncode != 0:
            raise AssertionError(f"{' '.join(args)} failed ({done.returncode}): {done.stderr}")
        return done

    def play(self, path: Path, *manifests: dict[str, Any]) -> None:
        path.write_text(yaml.safe_dump_all(manifests))
        self.run("kube", "play", str(path))

    def address(self, container: str) -> str:
        found = self.run("inspect", container, "--format", "{{json .NetworkSettings.Networks}}")
        (network,) = json.loads(found.stdout).values()
        return str(network["IPAddress"])


@pytest.fixture(scope="module")
def podman() -> Iterator[Podman]:
    store = os.environ.get("DOCKYARD_TEST_PODMAN_DIR")
    started = None
    require_service(shutil.which("podman") is not None, "kube play tests need podman")
    if not store:
        require_service(
            os.geteuid() == 0,
            "kube play tests need the tests' private Podman: set DOCKYARD_TEST_PODMAN_DIR, or "
            "run them as root with podman installed",
        )
        started = tempfile.mkdtemp(prefix="dockyard-podman-", dir="/tmp")
        done = subprocess.run([SCRIPT, "start", started], capture_output=True, text=True)
        if done.returncode != 0:
            subprocess.run([SCRIPT, "stop", started], capture_output=True)
            pytest.fail(f"scripts/test-podman.sh start failed: {done.stderr}")
        store = started
    conf_dir = Path(tempfile.mkdtemp(prefix="dockyard-kube-play-"))
    try:
        yield Podman(Path(store), _kube_play_conf(Path(store), conf_dir))
    finally:
        shutil.rmtree(conf_dir, ignore_errors=True)
        if started:
            subprocess.run([SCRIPT, "stop", started], capture_output=True)


def _kube_play_conf(store: Path, into: Path) -> Path:
    """The store's containers.conf, with kube play's network definitions kept in the store
    (by default Podman writes them under /etc/containers). Stores made by an older
    scripts/test-podman.sh lack the line."""
    text = (store / "containers.conf").read_text()
    if "network_config_dir" not in text:
        text += f'\n[network]\nnetwork_config_dir = "{store}/networks"\n'
    conf = into / "containers.conf"
    conf.write_text(text)
    return conf


@pytest.fixture
def proton_id(podman: Podman) -> Iterator[str]:
    # Digit first on purpose: the names must still be valid where Podman uses them.
    proton_id = "0" + secrets.token_hex(11) + "a"
    yield proton_id
    for pod in podman.run(
        "pod", "ps", "-q", "--filter", f"label={LABEL_PROTON}={proton_id}"
    ).stdout.split():
        podman.run("pod", "rm", "-f", "-t", "0", pod, check=False)


def spec_of(proton_id: str, *containers: ContainerSpec, replicas: int = 1) -> ProtonSpec:
    return ProtonSpec(
        instance_id="test-" + secrets.token_hex(6),
        workload_id="w" + secrets.token_hex(11),
        proton_id=proton_id,
        groups=(GroupSpec("default", containers, replica_count=replicas),),
    )


def store_secret(podman: Podman, secret: dict[str, Any], tmp_path: Path) -> str:
    """What `kube play` reads a `secretKeyRef` from: a Podman secret holding the Secret's data."""
    path = tmp_path / "secret.json"
    path.write_text(json.dumps(secret["data"]))
    name = secret["metadata"]["name"]
    podman.run("secret", "rm", name, check=False)
    podman.run("secret", "create", name, str(path))
    return str(name)


def get(address: str, port: int, path: str) -> httpx.Response:
    def attempt() -> httpx.Response | None:
        try:
            # trust_env=False: a pod address is never to go through an HTTP proxy.
            return httpx.get(f"http://{address}:{port}{path}", timeout=2, trust_env=False)
        except httpx.TransportError:
            return None

    return wait_for(attempt, 30, f"http://{address}:{port}{path}")


def test_the_deployments_pods_serve_on_their_addresses(
    podman: Podman, proton_id: str, tmp_path: Path
) -> None:
    primary = ContainerSpec(
        "primary",
        BUSYBOX_IMAGE,
        ("sh", "-c", SERVE),
        env={"GREETING": "hello world", "TOKEN": "s3 cr3t"},
        port=8080,
        primary=True,
        probes=(Probe("readiness", "/healthz", 8080), Probe("liveness", "/healthz", 8080)),
        cpu=0.25,
        memory=64 * 1024**2,
        cpu_request=0.05,
        memory_request=16 * 1024**2,
        credential_env=frozenset({"TOKEN"}),
    )
    sidecar = ContainerSpec(
        "static",
        BUSYBOX_IMAGE,
        ("httpd", "-f", "-p", "9090", "-h", "/www"),
        security=Hardening(
            read_only_root_filesystem=True,
            allow_privilege_escalation=False,
            capabilities_drop=("ALL",),
        ),
    )
    spec = spec_of(proton_id, primary, sidecar, replicas=2)
    made = objects.service_objects(spec, namespace=NAMESPACE)
    assert [m["kind"] for m in made] == ["Secret", "Deployment", "Service"]
    secret_name = store_secret(podman, made[0], tmp_path)
    try:
        # The Service is in the file as the runtime writes it; Podman passes over it.
        podman.play(tmp_path / "service.yaml", made[1], made[2])

        pods = podman.run(
            "pod", "ps", "--filter", f"label={LABEL_PROTON}={proton_id}", "--format", "{{.Name}}"
        ).stdout.split()
        assert len(pods) == 2
        addresses = set()
        for pod in pods:
            address = podman.address(f"{pod}-primary")
            addresses.add(address)
            assert get(address, 8080, "/healthz").text == "ok\n"
            # The credential came through the Secret; PORT is the platform's.
            assert get(address, 8080, "/env").text == "hello world s3 cr3t 8080\n"
            # The sidecar shares the pod's network.
            assert get(address, 9090, "/healthz").status_code == 200
        assert len(addresses) == 2

        limits = podman.run(
            "inspect", f"{pods[0]}-primary", "--format", "{{.HostConfig.Memory}}"
        ).stdout.strip()
        assert limits == str(64 * 1024**2)
        hardened = podman.run(
            "inspect", f"{pods[0]}-static", "--format", "{{.HostConfig.ReadonlyRootfs}}"
        ).stdout.strip()
        assert hardened == "true"
    finally:
        podman.run("kube", "down", str(tmp_path / "service.yaml"), check=False)
        podman.run("secret", "rm", secret_name, check=False)


def test_a_jobs_pod_exits_with_its_code_and_its_logs_are_readable(
    podman: Podman, proton_id: str, tmp_path: Path
) -> None:
    task = ContainerSpec(
        "primary",
        BUSYBOX_IMAGE,
        ("sh", "-c", 'echo "working on $ITEM"; echo "a warning" >&2; exit 3'),
        env={"ITEM": "batch-7"},
        primary=True,
    )
    job = objects.job(spec_of(proton_id, task), namespace=NAMESPACE, active_deadline_seconds=60)
    template = job["spec"]["template"]
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": job["metadata"]["name"], **template["metadata"]},
        "spec": template["spec"],
    }
    path = tmp_path / "job.yaml"
    try:
        podman.play(path, pod)
        container = f"{job['metadata']['name']}-primary"

        assert podman.run("wait", container).stdout.strip() == "3"
        state = podman.run("inspect", container, "--format", "{{.State.Status}}").stdout.strip()
        assert state == "exited"
        logs = podman.run("logs", container)
        assert logs.stdout == "working on batch-7\n"
        assert logs.stderr.endswith("a warning\n")
    finally:
        podman.run("kube", "down", str(path), check=False)

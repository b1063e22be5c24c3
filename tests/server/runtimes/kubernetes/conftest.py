"""The kubernetes runtime against the test API server (`emulator.py`), with the test playing
the kubelet (`kubelet.py`); the runtime finds the server through a kubeconfig, as it would a
real cluster."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from dockyard.core.spec import stored_spec
from dockyard.core.workloads import WorkloadRuntime
from dockyard.server.kit.ids import new_id
from dockyard.server.runtimes.base import ProtonSpec, RuntimeTemporaryError
from dockyard.server.runtimes.kubernetes.runtime import KubernetesRuntime
from dockyard.server.runtimes.proton_spec import build_proton_spec
from dockyard.server.settings import Settings
from tests.factories import service_spec
from tests.server.runtimes.kubernetes.emulator import Emulator
from tests.server.runtimes.kubernetes.kubelet import Kubelet

NAMESPACE = "dockyard-workloads"


def write_kubeconfig(url: str, path: Path, namespace: str = "default") -> Path:
    path.write_text(
        yaml.safe_dump(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "current-context": "test",
                "clusters": [{"name": "test", "cluster": {"server": url}}],
                "users": [{"name": "test", "user": {"token": "test-token"}}],
                "contexts": [
                    {
                        "name": "test",
                        "context": {"cluster": "test", "user": "test", "namespace": namespace},
                    }
                ],
            }
        )
    )
    return path


@pytest.fixture
def emulator() -> Iterator[Emulator]:
    with Emulator(namespaces=(NAMESPACE,)) as server:
        yield server


@pytest.fixture
def kubelet(emulator: Emulator) -> Iterator[Kubelet]:
    player = Kubelet(emulator)
    yield player
    emulator.run(player.close())


@pytest.fixture
def kubeconfig(emulator: Emulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = write_kubeconfig(emulator.url, tmp_path / "kubeconfig")
    monkeypatch.setenv("KUBECONFIG", str(path))
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    return path


def kube_settings(tmp_path: Path, **values: Any) -> Settings:
    return Settings(home=tmp_path / "home", runtime="kubernetes", **values)


@pytest.fixture
def connect(kubeconfig: Path, tmp_path: Path) -> Iterator[Callable[[], KubernetesRuntime]]:
    """Connect a runtime as `dockyard serve` would (more than one: a restarted server)."""
    made: list[KubernetesRuntime] = []

    def make() -> KubernetesRuntime:
        runtime = KubernetesRuntime.connect(kube_settings(tmp_path))
        made.append(runtime)
        return runtime

    yield make
    for runtime in made:
        runtime.close()


@pytest.fixture
def runtime(connect: Callable[[], KubernetesRuntime], kubelet: Kubelet) -> KubernetesRuntime:
    return connect()


def proton_spec(
    *,
    image: str = "registry.example/app:1",
    replicas: int = 1,
    instance_id: str = "inst0000000000000000000a",
    proton_id: str | None = None,
    workload_id: str | None = None,
) -> ProtonSpec:
    spec = service_spec(image=image)
    runtime = WorkloadRuntime.model_validate(
        {"containerGroups": [{"name": "default", "replicaCount": replicas}]}
    )
    return build_proton_spec(
        instance_id=instance_id,
        workload_id=workload_id or new_id(),
        proton_id=proton_id or new_id(),
        spec=stored_spec(spec),
        runtime=runtime,
        platform_env={},
        secrets=lambda _credential, _key: None,
    )


def eventually(check: Callable[[], Any], timeout: float = 10.0, what: str = "") -> Any:
    """Poll until `check()` is truthy (watch events and pod servers arrive asynchronously)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            found = check()
        except (AssertionError, RuntimeTemporaryError):
            found = None
        if found:
            return found
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what or check}")
        time.sleep(0.02)

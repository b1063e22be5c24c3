"""Choosing the runtime (DOCKYARD_RUNTIME) and Dockyard's own podman service."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import pytest

from dockyard.server.runtimes import select
from dockyard.server.runtimes.base import RuntimePermanentError
from dockyard.server.runtimes.docker import DockerRuntime
from dockyard.server.runtimes.fake import FakeRuntime
from dockyard.server.runtimes.podman_service import PodmanService, containers_conf
from dockyard.server.runtimes.process import ProcessRuntime
from dockyard.server.settings import Settings
from tests.conftest import require_service


def settings(tmp_path: Path, runtime: str) -> Settings:
    return Settings(home=tmp_path / "home", runtime=runtime)


@pytest.fixture
def no_engine(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(select, "engine_candidates", lambda environ: ["unix:///nonexistent.sock"])
    monkeypatch.setattr(select.shutil, "which", lambda name: None)


def test_kubernetes_without_a_cluster_is_refused_clearly(tmp_path, monkeypatch):
    monkeypatch.setenv("KUBECONFIG", str(tmp_path / "missing-kubeconfig"))
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    with pytest.raises(RuntimePermanentError, match="no usable cluster configuration"):
        select.choose_runtime(settings(tmp_path, "kubernetes"))


def test_process_when_asked(tmp_path):
    runtime, sentence = select.choose_runtime(settings(tmp_path, "process"))

    assert isinstance(runtime, ProcessRuntime)
    assert runtime.root == tmp_path / "home" / "runtime" / "process"
    assert sentence.startswith("process runtime:")


def test_auto_falls_back_to_process_without_engine_or_podman(tmp_path, no_engine):
    runtime, sentence = select.choose_runtime(settings(tmp_path, "auto"))

    assert isinstance(runtime, ProcessRuntime) and "no container engine found" in sentence


def test_docker_without_engine_is_refused(tmp_path, no_engine):
    with pytest.raises(RuntimePermanentError, match="no container engine answers"):
        select.choose_runtime(settings(tmp_path, "docker"))


def test_fake_for_tests(tmp_path):
    assert isinstance(select.choose_runtime(settings(tmp_path, "fake"))[0], FakeRuntime)


def test_auto_uses_the_engine_at_docker_host(tmp_path, docker_url):
    runtime, sentence = select.choose_runtime(
        settings(tmp_path, "auto"), environ={"DOCKER_HOST": docker_url}
    )
    try:
        assert isinstance(runtime, DockerRuntime) and docker_url in sentence
    finally:
        runtime.close()


def test_candidates_follow_the_documented_order():
    assert select.engine_candidates(
        {"DOCKER_HOST": "tcp://h:2375", "XDG_RUNTIME_DIR": "/run/u"}
    ) == [
        "tcp://h:2375",
        "unix:///var/run/docker.sock",
        "unix:///run/podman/podman.sock",
        "unix:///run/u/podman/podman.sock",
    ]


def test_instance_id_is_kept_in_the_data_dir(tmp_path):
    first = select.instance_id(tmp_path / "home")

    assert select.instance_id(tmp_path / "home") == first and len(first) == 24


def test_containers_conf_carries_the_required_lines():
    conf = containers_conf()

    assert "default_ulimits = []" in conf and 'cgroup_manager = "cgroupfs"' in conf


def test_dockyard_starts_and_stops_its_own_podman_service(tmp_path):
    require_service(
        shutil.which("podman") is not None and os.geteuid() == 0,
        "starting a podman service needs podman and root",
    )
    # A private vfs store, so the test neither touches the machine's images nor leaves mounts
    # (short: podman refuses a run root longer than 50 characters).
    store = tempfile.mkdtemp(prefix="dy-store-", dir="/tmp")
    service = PodmanService(
        tmp_path / "home" / "podman",
        podman_args=[
            "--root",
            f"{store}/root",
            "--runroot",
            f"{store}/run",
            "--tmpdir",
            f"{store}/tmp",
            "--storage-driver",
            "vfs",
        ],
    )
    url = service.start()
    try:
        runtime = DockerRuntime.connect(url)
        assert runtime.client.ping()
        assert service.start() == url  # already answering: reused, not started twice
        assert (tmp_path / "home" / "podman" / "containers.conf").read_text() == containers_conf()
        runtime.close()
    finally:
        service.stop()
        shutil.rmtree(store, ignore_errors=True)
    assert service.process is not None and service.process.poll() is not None

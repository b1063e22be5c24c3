"""The process runtime with real child processes (each test's children are removed after it)."""

from __future__ import annotations

import json
import os
import socket
import sys
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from dockyard.server.runtimes.base import (
    ContainerSpec,
    ReplicaPhase,
    RuntimePermanentError,
    SecurityContext,
)
from dockyard.server.runtimes.process import ProcessRuntime
from tests.server.runtimes.helpers import get, new_instance, proton, wait_for

APP = str(Path(__file__).with_name("apps") / "echo_env.py")


@pytest.fixture
def instance() -> str:
    return new_instance()


@pytest.fixture
def runtime(tmp_path: Path, instance: str) -> Iterator[ProcessRuntime]:
    runtime = ProcessRuntime(tmp_path / "process", stop_timeout=3)
    yield runtime
    runtime.garbage_collect(instance, set())


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def app(port: int | None = None, **env: str) -> ContainerSpec:
    return ContainerSpec(
        name="primary",
        image="example/app:1",
        entrypoint=(sys.executable, APP),
        env=env,
        port=port or free_port(),
        primary=True,
    )


def crashing(code: int = 3) -> ContainerSpec:
    script = f"echo booting; echo 'fatal: no config' >&2; exit {code}"
    return ContainerSpec(
        "primary", "example/app:1", ("sh", "-c", script), port=free_port(), primary=True
    )


def test_first_replica_on_declared_port_others_on_their_own_port(runtime, instance):
    declared = free_port()
    spec = proton(instance, app(declared, GREETING="hi"), replicas=2)

    first, second = runtime.ensure_proton(spec)

    assert first.port == declared and second.port not in (None, declared)
    assert first.phase == second.phase == ReplicaPhase.RUNNING
    for state in (first, second):
        env = get(state.port, "/env").json()
        assert env["PORT"] == str(state.port) and env["GREETING"] == "hi"
        assert state.probe_ports == {declared: state.port}


def test_children_get_a_fresh_environment(runtime, instance, monkeypatch):
    monkeypatch.setenv("DOCKYARD_ADMIN_TOKEN", "secret")
    monkeypatch.setenv("LC_TIME", "C.UTF-8")
    monkeypatch.setenv("TZ", "UTC")
    monkeypatch.setenv("USER", "server-user")
    monkeypatch.setenv("SSH_AUTH_SOCK", "/run/agent.sock")
    (state,) = runtime.ensure_proton(proton(instance, app(GREETING="hi")))

    env = get(state.port, "/env").json()
    own = get(state.port, "/self").json()

    assert env["PATH"] == os.environ["PATH"]
    assert env["LC_TIME"] == "C.UTF-8" and env["TZ"] == "UTC" and env["GREETING"] == "hi"
    assert env["HOME"] == own["cwd"] != os.environ.get("HOME")
    python_adds = {"LC_CTYPE"}  # the interpreter running the app may set it for itself
    allowed = {"PATH", "LANG", "TZ", "HOME", "PORT", "GREETING"}
    extra = {k for k in env if k not in allowed and not k.startswith("LC_")} - python_adds
    assert not extra, f"the server's variables reached the replica: {sorted(extra)}"


def test_children_work_in_their_own_directory_outside_the_runtime_root(runtime, instance):
    spec = proton(instance, app(DATABASE_PASSWORD="hunter2"))
    (state,) = runtime.ensure_proton(spec)
    own = get(state.port, "/self").json()
    workspace = Path(own["cwd"])

    assert runtime.root not in workspace.parents and own["files"] == []
    assert workspace.stat().st_mode & 0o777 == 0o700
    # A restart keeps the directory (as a container keeps its files); removal deletes it.
    (workspace / "cache").write_text("kept")
    runtime.restart_replica(spec.proton_id, "default", 0)
    assert wait_for(lambda: _self_after_restart(state.port))["cwd"] == own["cwd"]
    runtime.remove_proton(spec.proton_id)
    assert not workspace.exists()


def _self_after_restart(port: int) -> dict | None:
    own = get(port, "/self").json()
    return own if own["files"] == ["cache"] else None


def test_a_file_server_replica_does_not_serve_dockyards_files(runtime, instance):
    port = free_port()
    server = ContainerSpec(
        "primary",
        "example/app:1",
        (sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1"),
        env={"API_KEY": "sk-secret"},
        port=port,
        primary=True,
    )
    runtime.ensure_proton(proton(instance, server))

    listing = get(port, "/").text

    assert get(port, "/replica.json").status_code == 404
    assert "replica.json" not in listing and "primary.log" not in listing


def test_children_cannot_read_the_servers_environ(runtime, instance):
    # The runtime made this (server) process non-dumpable when it was created.
    (state,) = runtime.ensure_proton(proton(instance, app(SERVER_PID=str(os.getpid()))))

    assert get(state.port, "/self").json()["environ_readable"] == {str(os.getpid()): False}


@pytest.mark.skipif(
    os.geteuid() != 0 or not sys.platform.startswith("linux"), reason="a root server on Linux"
)
def test_a_root_servers_children_keep_no_capability_but_low_ports(runtime, instance):
    (state,) = runtime.ensure_proton(proton(instance, app()))

    capabilities = get(state.port, "/self").json()["capabilities"]

    net_bind_service = 1 << 10
    assert capabilities["CapEff"] == capabilities["CapPrm"] == net_bind_service
    assert capabilities["CapBnd"] == net_bind_service and capabilities["CapInh"] == 0


def test_bookkeeping_is_private(runtime, instance):
    spec = proton(instance, app(API_KEY="sk-secret"))
    (state,) = runtime.ensure_proton(spec)
    get(state.port)
    runtime.stop_proton(spec.proton_id)  # writes the exit files too
    proton_dir = runtime.root / spec.proton_id

    for path in [runtime.root, proton_dir, *proton_dir.rglob("*")]:
        mode = path.stat().st_mode & 0o777
        assert mode == (0o700 if path.is_dir() else 0o600), f"{path} is {oct(mode)}"


def test_taken_declared_port_gives_a_free_one_in_port(runtime, instance):
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        declared = holder.getsockname()[1]
        (state,) = runtime.ensure_proton(proton(instance, app(declared)))

        assert state.port != declared
        assert get(state.port, "/env").json()["PORT"] == str(state.port)


def test_a_port_taken_while_the_replica_was_down_gives_it_a_free_one(runtime, instance):
    # Another program binds the replica's port while it is not running (or between the
    # moment the port was found free and the app's own bind): the next start, and a restart,
    # must not send the app to a port it can never bind.
    declared = free_port()
    spec = proton(instance, app(declared))
    (first,) = runtime.ensure_proton(spec)
    assert first.port == declared
    runtime.stop_proton(spec.proton_id)

    with socket.socket() as holder:
        holder.bind(("127.0.0.1", declared))
        holder.listen()
        (started,) = runtime.ensure_proton(spec)
        assert started.port != declared and started.probe_ports == {declared: started.port}
        assert get(started.port, "/env").json()["PORT"] == str(started.port)

        runtime.stop_proton(spec.proton_id)
        with socket.socket() as second:
            # As servers do: the app's closed connections leave the port in TIME_WAIT.
            second.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            second.bind(("127.0.0.1", started.port))
            second.listen()
            restarted = runtime.restart_replica(spec.proton_id, "default", 0)
        assert restarted.port not in (declared, started.port)
        assert get(restarted.port, "/env").json()["PORT"] == str(restarted.port)

    # A port nobody took stays the replica's across restarts.
    again = runtime.restart_replica(spec.proton_id, "default", 0)
    assert again.port == restarted.port
    assert get(again.port, "/env").json()["PORT"] == str(again.port)


def test_ensure_is_idempotent(runtime, instance):
    spec = proton(instance, app())
    (first,) = runtime.ensure_proton(spec)
    (again,) = runtime.ensure_proton(spec)

    assert again.started_at == first.started_at and again.port == first.port


def test_crash_is_failed_with_exit_code_and_last_output_then_restart(runtime, instance):
    spec = proton(instance, crashing(3))
    runtime.ensure_proton(spec)

    (failed,) = wait_for(
        lambda: [s for s in runtime.observe(spec.proton_id) if s.phase == ReplicaPhase.FAILED],
        what="the replica to fail",
    )

    assert failed.exit_code == 3
    assert failed.last_output == ["booting", "fatal: no config"]
    assert "exited with code 3" in failed.message

    restarted = runtime.restart_replica(spec.proton_id, "default", 0)
    assert restarted.restart_count == 1
    wait_for(lambda: sum(line.message == "booting" for line in runtime.logs(spec.proton_id)) == 2)
    # The count is kept on disk: a restarted server sees it too.
    assert ProcessRuntime(runtime.root).observe(spec.proton_id)[0].restart_count == 1


def test_missing_executable_fails_with_reason(runtime, instance):
    spec = proton(
        instance,
        ContainerSpec("primary", "x", ("/nonexistent/app",), port=free_port(), primary=True),
    )
    runtime.ensure_proton(spec)

    (failed,) = wait_for(
        lambda: [s for s in runtime.observe(spec.proton_id) if s.phase == ReplicaPhase.FAILED]
    )

    assert failed.exit_code == 127
    assert "cannot start /nonexistent/app" in failed.last_output[0]


def test_logs_have_streams_replicas_and_since(runtime, instance):
    spec = proton(instance, app())
    (state,) = runtime.ensure_proton(spec)
    get(state.port, "/healthz")

    lines = wait_for(lambda: [x for x in runtime.logs(spec.proton_id) if x.stream == "stderr"])
    everything = runtime.logs(spec.proton_id)

    assert everything[0].message == f"listening on {state.port}"
    assert everything[0].stream == "stdout" and everything[0].replica == "default-0"
    assert lines[0].message == "request /healthz" and lines[0].container == "primary"
    assert runtime.logs(spec.proton_id, since=lines[0].timestamp) == lines


def test_stop_start_remove_are_idempotent(runtime, instance):
    spec = proton(instance, app())
    (state,) = runtime.ensure_proton(spec)
    get(state.port)

    runtime.stop_proton(spec.proton_id)
    runtime.stop_proton(spec.proton_id)
    (stopped,) = runtime.observe(spec.proton_id)
    assert stopped.phase == ReplicaPhase.STOPPED
    with pytest.raises(Exception):  # noqa: B017 - nothing listens any more
        get(state.port, timeout=0.2)

    (started,) = runtime.ensure_proton(spec)
    assert started.phase == ReplicaPhase.RUNNING and started.port == state.port
    assert get(state.port).status_code == 200

    runtime.remove_proton(spec.proton_id)
    runtime.remove_proton(spec.proton_id)
    runtime.stop_proton("never-existed")
    assert runtime.observe(spec.proton_id) == []
    assert runtime.logs(spec.proton_id) == []


def test_scale_down_removes_extra_replicas(runtime, instance):
    spec = proton(instance, app(), replicas=2)
    runtime.ensure_proton(spec)
    smaller = proton(instance, app(spec.groups[0].primary.port), proton_id=spec.proton_id)

    states = runtime.ensure_proton(smaller)

    assert [s.index for s in states] == [0]
    assert [s.index for s in runtime.observe(spec.proton_id)] == [0]


def test_new_runtime_object_adopts_running_children(runtime, instance):
    spec = proton(instance, app())
    (state,) = runtime.ensure_proton(spec)
    get(state.port)

    restarted_server = ProcessRuntime(runtime.root, stop_timeout=3)

    assert restarted_server.adopt(instance) == [spec.proton_id]
    (seen,) = restarted_server.observe(spec.proton_id)
    assert seen.phase == ReplicaPhase.RUNNING and seen.port == state.port
    first_line = wait_for(lambda: restarted_server.logs(spec.proton_id))[0]
    assert first_line.message == f"listening on {state.port}"
    assert restarted_server.ensure_proton(spec)[0].started_at == state.started_at
    restarted_server.stop_proton(spec.proton_id)
    assert runtime.observe(spec.proton_id)[0].phase == ReplicaPhase.STOPPED


def test_garbage_collection_touches_only_its_instance(runtime, instance):
    keep = proton(instance, app())
    drop = proton(instance, app())
    other_instance = new_instance()
    other = proton(other_instance, app())
    for spec in (keep, drop, other):
        runtime.ensure_proton(spec)

    removed = runtime.garbage_collect(instance, {keep.proton_id})

    assert removed == [drop.proton_id]
    assert runtime.adopt(instance) == [keep.proton_id]
    assert runtime.adopt(other_instance) == [other.proton_id]
    runtime.garbage_collect(other_instance, set())


def test_entrypoint_required_and_warnings(runtime, instance):
    no_entrypoint = ContainerSpec("primary", "example/app:1", port=8080, primary=True)
    with pytest.raises(RuntimePermanentError) as refused:
        runtime.ensure_proton(proton(instance, no_entrypoint))
    assert refused.value.code == "entrypoint_required"

    limited = ContainerSpec(
        "primary",
        "example/app:1",
        ("app",),
        port=8080,
        primary=True,
        memory=2**26,
        security=SecurityContext(read_only_root_filesystem=True),
    )
    warnings = runtime.validate(proton(instance, limited))
    assert any("image example/app:1 is not used" in w for w in warnings)
    assert any("limits are not enforced" in w for w in warnings)
    assert any("securityContext is not applied" in w for w in warnings)


def test_cpu_scaling_is_not_available(runtime, instance):
    # Even with a CPU limit in the spec: this runtime sets none, so it measures nothing.
    limited = ContainerSpec("primary", "example/app:1", ("app",), port=8080, primary=True, cpu=1)
    spec = proton(instance, limited)
    scaled = replace(spec, groups=tuple(
        replace(g, scaling_metrics=("httpRequestsConcurrency", "cpuAverageUtilization"))
        for g in spec.groups
    ))  # fmt: skip
    with pytest.raises(RuntimePermanentError) as refused:
        runtime.validate(scaled)
    assert refused.value.code == "metric_not_available"
    concurrency = replace(spec, groups=tuple(
        replace(g, scaling_metrics=("httpRequestsConcurrency",)) for g in spec.groups
    ))  # fmt: skip
    runtime.validate(concurrency)


def test_state_files_are_plain_json(runtime, instance):
    spec = proton(instance, app())
    runtime.ensure_proton(spec)

    record = json.loads((runtime.root / spec.proton_id / "proton.json").read_text())

    assert record == {
        "instance_id": instance,
        "workload_id": spec.workload_id,
        "proton_id": spec.proton_id,
    }


def test_tail_reads_only_the_end_of_a_long_log(runtime, instance):
    # 20,000 lines (about 1 MB with the stamps): more than one read-back chunk.
    script = "i=0; while [ $i -lt 20000 ]; do echo line-$i; i=$((i+1)); done; sleep 60"
    chatty = ContainerSpec(
        "primary", "example/app:1", ("sh", "-c", script), port=free_port(), primary=True
    )
    spec = proton(instance, chatty)
    runtime.ensure_proton(spec)
    wait_for(lambda: any(x.message == "line-19999" for x in runtime.logs(spec.proton_id)))
    tail = runtime.tail(spec.proton_id, "primary", 50)
    assert [x.message for x in tail] == [f"line-{n}" for n in range(19950, 20000)]
    assert tail == runtime.logs(spec.proton_id)[-50:]
    assert runtime.tail(spec.proton_id, "sidecar", 50) == []
    assert runtime.tail("0" * 24, "primary", 50) == []

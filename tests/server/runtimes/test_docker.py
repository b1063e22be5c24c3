"""The docker runtime against a real engine (a private Podman service in CI)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import replace

import pytest

from dockyard.server.runtimes.base import (
    LABEL_INSTANCE,
    LABEL_PROTON,
    ContainerSpec,
    Probe,
    ReplicaPhase,
    RuntimePermanentError,
    SecurityContext,
)
from dockyard.server.runtimes.docker import DockerRuntime
from tests.server.runtimes.helpers import get, new_instance, proton, wait_for
from tests.support.images import ensure_busybox_image

SERVE = 'echo "FOO=$FOO PORT=$PORT" > /www/env.txt; echo started; exec httpd -f -v -p $PORT -h /www'


@pytest.fixture
def instance() -> str:
    return new_instance()


@pytest.fixture
def runtime(docker_url: str, instance: str) -> Iterator[DockerRuntime]:
    runtime = DockerRuntime.connect(docker_url, stop_timeout=2)
    image = ensure_busybox_image(runtime.client)
    runtime.test_image = image  # type: ignore[attr-defined]
    yield runtime
    runtime.garbage_collect(instance, set())
    runtime.close()


def primary(runtime: DockerRuntime, script: str = SERVE, **options) -> ContainerSpec:
    options.setdefault("env", {"FOO": "bar"})
    return ContainerSpec(
        "primary", runtime.test_image, ("sh", "-c", script), port=8080, primary=True, **options
    )


def failed_state(runtime: DockerRuntime, proton_id: str):
    states = runtime.observe(proton_id)
    return states if states and states[0].phase == ReplicaPhase.FAILED else None


def test_replica_serves_on_a_published_loopback_port_with_its_env(runtime, instance):
    spec = proton(instance, primary(runtime))

    state = runtime.ensure_proton(spec)[0]

    assert state.phase == ReplicaPhase.RUNNING and state.host == "127.0.0.1"
    assert get(state.port, "/env.txt").text == "FOO=bar PORT=8080\n"
    assert state.probe_ports == {8080: state.port}
    containers = runtime.client.containers.list(
        filters={"label": f"{LABEL_PROTON}={spec.proton_id}"}
    )
    assert len(containers) == 2  # the infra container and the primary
    assert all(c.labels[LABEL_INSTANCE] == instance for c in containers)
    bindings = [b for c in containers for v in c.ports.values() for b in v]
    assert bindings and all(b["HostIp"] == "127.0.0.1" for b in bindings)


def test_two_replicas_and_logs(runtime, instance):
    spec = proton(instance, primary(runtime), replicas=2)

    first, second = runtime.ensure_proton(spec)

    assert first.port != second.port
    for state in (first, second):
        assert get(state.port, "/healthz").status_code == 200
    lines = wait_for(lambda: [x for x in runtime.logs(spec.proton_id) if x.stream == "stderr"])
    stdout = [x for x in runtime.logs(spec.proton_id) if x.stream == "stdout"]
    assert sorted(x.replica for x in stdout) == ["default-0", "default-1"]
    assert {x.message for x in stdout} == {"started"} and stdout[0].container == "primary"
    assert "response:200" in lines[0].message
    # The tail of one container: the engine cuts each log, the runtime merges the replicas.
    everything = [x for x in runtime.logs(spec.proton_id) if x.container == "primary"]
    assert runtime.tail(spec.proton_id, "primary", 2) == everything[-2:]
    assert runtime.tail(spec.proton_id, "primary", 50) == everything
    assert runtime.tail(spec.proton_id, "nobody", 50) == []


def test_sidecar_reaches_primary_on_localhost_and_survives_its_restart(runtime, instance):
    sidecar = ContainerSpec(
        "sidecar",
        runtime.test_image,
        (
            "sh",
            "-c",
            "until wget -qO /www/primary.txt http://127.0.0.1:8080/healthz; do sleep 0.1; done;"
            " exec httpd -f -p 9000 -h /www",
        ),
        probes=(Probe("readiness", "/primary.txt", 9000),),
    )
    spec = proton(instance, primary(runtime), sidecar)
    state = runtime.ensure_proton(spec)[0]

    assert set(state.probe_ports) == {8080, 9000}
    assert get(state.probe_ports[9000], "/primary.txt").text == "ok\n"

    restarted = runtime.restart_replica(spec.proton_id, "default", 0)

    assert restarted.restart_count == 1 and restarted.phase == ReplicaPhase.RUNNING
    assert restarted.probe_ports == state.probe_ports
    assert get(state.port, "/env.txt").status_code == 200
    assert get(state.probe_ports[9000], "/primary.txt").text == "ok\n"


def test_crash_is_failed_with_last_output_and_restart_runs_it_again(runtime, instance):
    script = "echo booting; echo 'fatal: no config' >&2; exit 3"
    spec = proton(instance, primary(runtime, script))
    runtime.ensure_proton(spec)

    (failed,) = wait_for(lambda: failed_state(runtime, spec.proton_id), what="a failed replica")

    assert failed.exit_code == 3 and "exited with code 3" in failed.message
    assert failed.last_output == ["booting", "fatal: no config"]
    # A failed replica is left for the reconciler to decide on, not restarted by ensure.
    assert runtime.ensure_proton(spec)[0].phase == ReplicaPhase.FAILED

    runtime.restart_replica(spec.proton_id, "default", 0)
    wait_for(lambda: sum(x.message == "booting" for x in runtime.logs(spec.proton_id)) == 2)


def test_stop_start_remove_are_idempotent(runtime, instance):
    spec = proton(instance, primary(runtime))
    state = runtime.ensure_proton(spec)[0]

    runtime.stop_proton(spec.proton_id)
    runtime.stop_proton(spec.proton_id)
    assert [s.phase for s in runtime.observe(spec.proton_id)] == [ReplicaPhase.STOPPED]

    started = runtime.ensure_proton(spec)[0]
    assert started.phase == ReplicaPhase.RUNNING and started.port == state.port
    assert get(started.port, "/healthz").status_code == 200

    runtime.remove_proton(spec.proton_id)
    runtime.remove_proton(spec.proton_id)
    runtime.stop_proton("never-existed")
    assert runtime.observe(spec.proton_id) == []


def test_a_parked_proton_keeps_its_namespaces_and_starts_again_on_the_same_ports(
    runtime, instance, docker_url
):
    spec = proton(instance, primary(runtime), replicas=2)
    before = runtime.ensure_proton(spec)
    mine = {"label": f"{LABEL_PROTON}={spec.proton_id}"}

    runtime.park_proton(spec.proton_id)
    runtime.park_proton(spec.proton_id)

    assert [s.phase for s in runtime.observe(spec.proton_id)] == [ReplicaPhase.STOPPED] * 2
    running = runtime.client.containers.list(filters=mine)
    assert {c.labels["dockyard.role"] for c in running} == {"infra"}  # the namespaces stay up
    # Another server (a new runtime object) sees the same: parked, not failed.
    other = DockerRuntime.connect(docker_url, stop_timeout=2)
    try:
        assert [s.phase for s in other.observe(spec.proton_id)] == [ReplicaPhase.STOPPED] * 2
    finally:
        other.close()

    after = runtime.ensure_proton(spec)
    assert [s.phase for s in after] == [ReplicaPhase.RUNNING] * 2
    assert [s.port for s in after] == [s.port for s in before]
    for state in after:
        assert get(state.port, "/healthz").status_code == 200
    # Parked, then stopped outright (the workload stopped at zero): started as any other.
    runtime.park_proton(spec.proton_id)
    runtime.stop_proton(spec.proton_id)
    assert [s.phase for s in runtime.observe(spec.proton_id)] == [ReplicaPhase.STOPPED] * 2
    assert [s.phase for s in runtime.ensure_proton(spec)] == [ReplicaPhase.RUNNING] * 2
    stdout = [x for x in runtime.logs(spec.proton_id) if x.stream == "stdout"]
    assert sorted(x.replica for x in stdout).count("default-0") == 3  # its output is kept


def test_new_runtime_object_adopts_the_same_containers(runtime, instance, docker_url):
    spec = proton(instance, primary(runtime))
    state = runtime.ensure_proton(spec)[0]
    mine = {"label": f"{LABEL_PROTON}={spec.proton_id}"}
    before = {c.id for c in runtime.client.containers.list(all=True, filters=mine)}

    restarted_server = DockerRuntime.connect(docker_url, stop_timeout=2)
    try:
        assert restarted_server.adopt(instance) == [spec.proton_id]
        (seen,) = restarted_server.observe(spec.proton_id)
        assert seen.phase == ReplicaPhase.RUNNING and seen.port == state.port
        restarted_server.ensure_proton(spec)
        assert {c.id for c in runtime.client.containers.list(all=True, filters=mine)} == before
    finally:
        restarted_server.close()


def test_a_half_built_replica_is_pending_and_ensure_rebuilds_it(runtime, instance):
    # A server killed between creating the infra container and the primary leaves only the
    # namespace behind: that is not a running replica, and ensuring it again completes it.
    spec = proton(instance, primary(runtime))
    runtime.ensure_proton(spec)
    (member,) = runtime.client.containers.list(
        filters={"label": [f"{LABEL_PROTON}={spec.proton_id}", "dockyard.role=primary"]}
    )
    member.remove(force=True)

    (half,) = runtime.observe(spec.proton_id)
    assert half.phase == ReplicaPhase.PENDING and "missing" in (half.message or "")

    state = runtime.ensure_proton(spec)[0]
    assert state.phase == ReplicaPhase.RUNNING
    assert get(state.port, "/env.txt").status_code == 200


def test_garbage_collection_touches_only_its_instance(runtime, instance):
    keep = proton(instance, primary(runtime))
    drop = proton(instance, primary(runtime))
    other_instance = new_instance()
    other = proton(other_instance, primary(runtime))
    for spec in (keep, drop, other):
        runtime.ensure_proton(spec)

    try:
        assert runtime.garbage_collect(instance, {keep.proton_id}) == [drop.proton_id]
        assert runtime.adopt(instance) == [keep.proton_id]
        assert runtime.adopt(other_instance) == [other.proton_id]
    finally:
        runtime.garbage_collect(other_instance, set())


def test_limits_and_security_context_are_enforced(runtime, instance):
    script = (
        "cat /sys/fs/cgroup/memory/memory.limit_in_bytes /sys/fs/cgroup/memory.max 2>/dev/null;"
        " touch /probe 2>/dev/null || echo read-only; exec sleep 600"
    )
    security = SecurityContext(
        read_only_root_filesystem=True,
        allow_privilege_escalation=False,
        capabilities_drop=("NET_RAW",),
    )
    spec = proton(instance, primary(runtime, script, memory=64 * 2**20, cpu=0.5, security=security))
    runtime.ensure_proton(spec)

    (container,) = runtime.client.containers.list(
        filters={"label": [f"{LABEL_PROTON}={spec.proton_id}", "dockyard.role=primary"]}
    )
    host = container.attrs["HostConfig"]
    assert host["Memory"] == 64 * 2**20 and host["NanoCpus"] == 500_000_000
    assert host["ReadonlyRootfs"] is True and "no-new-privileges" in host["SecurityOpt"]
    assert "NET_RAW" in host["CapDrop"] and host["Init"] is True

    def two_lines() -> list[str] | None:
        found = [line.message for line in runtime.logs(spec.proton_id)]
        return found if len(found) >= 2 else None

    assert wait_for(two_lines, what="two lines of output") == [str(64 * 2**20), "read-only"]


def test_missing_image_is_a_permanent_error_leaving_nothing(runtime, instance):
    missing = ContainerSpec("primary", "dockyard-test-missing:1", ("x",), port=8080, primary=True)
    spec = proton(instance, missing)

    with pytest.raises(RuntimePermanentError) as refused:
        runtime.ensure_proton(spec)

    assert refused.value.code == "image_not_found"
    assert "dockyard-test-missing:1" in refused.value.reason
    assert runtime.observe(spec.proton_id) == []


def test_missing_executable_is_a_failed_replica(runtime, instance):
    spec = proton(
        instance,
        ContainerSpec("primary", runtime.test_image, ("/nonexistent",), port=8080, primary=True),
    )
    runtime.ensure_proton(spec)

    (failed,) = wait_for(lambda: failed_state(runtime, spec.proton_id), what="a failed replica")

    # With an init as PID 1 the engine starts fine and the init reports the failed exec.
    assert failed.exit_code != 0
    assert any("No such file" in line for line in failed.last_output)


def test_cpu_usage_is_measured_between_two_readings(runtime, instance):
    # A busy loop under a half-core limit: the engine's counters say about half a core.
    busy = "while :; do :; done"
    spec = proton(instance, primary(runtime, busy, cpu=0.5))
    runtime.ensure_proton(spec)
    assert runtime.cpu_usage(spec.proton_id) == {}  # the first reading has nothing before it
    # The quota is enforced per 100 ms period: a window of a few periods can hold a whole
    # period's burst, one of a second or more (the autoscaler's rhythm) shows the cap.
    time.sleep(1.5)

    def measured() -> dict | None:
        used = runtime.cpu_usage(spec.proton_id)
        return used or None

    used = wait_for(measured, what="a CPU reading")
    assert set(used) == {("default", 0)}
    assert 0.05 < used[("default", 0)] <= 0.75  # capped near the limit, well above idle


def test_cpu_scaling_needs_a_cpu_limit(runtime, instance):
    unlimited = proton(instance, primary(runtime))
    scaled = replace(unlimited, groups=tuple(
        replace(g, scaling_metrics=("cpuAverageUtilization",)) for g in unlimited.groups
    ))  # fmt: skip
    with pytest.raises(RuntimePermanentError) as refused:
        runtime.validate(scaled)
    assert refused.value.code == "metric_not_available"
    limited = proton(instance, primary(runtime, cpu=0.5))
    limited = replace(limited, groups=tuple(
        replace(g, scaling_metrics=("cpuAverageUtilization",)) for g in limited.groups
    ))  # fmt: skip
    assert runtime.validate(limited) == []

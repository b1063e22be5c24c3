"""Tasks on the docker runtime against a real engine: exit codes, whole lines, and hardening
that holds the way the kernel makes it hold (a read-only root, dropped capabilities,
no-new-privileges, memory, pids)."""

from __future__ import annotations

import queue
import time
from collections.abc import Iterator
from typing import Any

import pytest

from dockyard.server.runtimes.base import (
    LABEL_INSTANCE,
    LABEL_PROTON,
    ContainerSpec,
    ObservedReplica,
    ReplicaPhase,
    SecurityContext,
)
from dockyard.server.runtimes.docker import LABEL_ROLE, DockerRuntime
from dockyard.server.runtimes.docker_build import Limits
from tests.server.runtimes.helpers import new_instance, proton, wait_for
from tests.support.images import ensure_busybox_image

# The hardened securityContext the hosted platform's sandbox client sends.
HARDENED = SecurityContext(
    read_only_root_filesystem=True,
    allow_privilege_escalation=False,
    capabilities_drop=("ALL",),
    seccomp_profile="RuntimeDefault",
)


@pytest.fixture
def instance() -> str:
    return new_instance()


@pytest.fixture
def runtime(docker_url: str, instance: str) -> Iterator[DockerRuntime]:
    runtime = DockerRuntime.connect(docker_url, stop_timeout=1, limits=Limits(task_pids=64))
    runtime.test_image = ensure_busybox_image(runtime.client)  # type: ignore[attr-defined]
    yield runtime
    runtime.garbage_collect(instance, set())
    runtime.close()


def run_task(
    runtime: DockerRuntime, instance: str, script: str, timeout: float = 60, **options
) -> tuple[ObservedReplica, list[tuple[str, str]]]:
    """Run `sh -c script` as a task to its end: its final state and (stream, line) output."""
    task = ContainerSpec("main", runtime.test_image, ("sh", "-c", script), primary=True, **options)  # type: ignore[attr-defined]
    spec = proton(instance, task)
    assert spec.is_task
    runtime.ensure_proton(spec)

    def ended() -> ObservedReplica | None:
        states = runtime.observe(spec.proton_id)
        return states[0] if states and states[0].primary_exited else None

    state = wait_for(ended, timeout, "the task to end")
    lines = [(line.stream, line.message) for line in runtime.logs(spec.proton_id)]
    return state, lines


def test_the_primarys_exit_code_and_every_line_whole(runtime, instance):
    script = "printf tick; sleep 1; echo ' 4'; echo oops >&2; printf 'result=42'; exit 3"
    state, lines = run_task(runtime, instance, script)
    assert state.primary_exited and state.exit_code == 3
    assert ("stdout", "tick 4") in lines
    assert ("stderr", "oops") in lines
    assert [m for s, m in lines if s == "stdout"][-1] == "result=42"


def test_a_task_with_no_port_publishes_nothing(runtime, instance):
    state, _ = run_task(runtime, instance, "exit 0")
    assert state.exit_code == 0 and state.port is None and state.probe_ports == {}


def test_a_read_only_root_refuses_writes(runtime, instance):
    state, lines = run_task(runtime, instance, "echo x > /evil && echo wrote", security=HARDENED)
    assert state.exit_code != 0
    assert any("Read-only file system" in m for _, m in lines), lines
    assert ("stdout", "wrote") not in lines


def test_dropped_capabilities_are_gone(runtime, instance):
    # chown needs CAP_CHOWN, which root in a container has by default.
    plain, _ = run_task(runtime, instance, "chown 1:1 /tmp && echo chowned")
    assert plain.exit_code == 0
    state, lines = run_task(runtime, instance, "chown 1:1 /tmp && echo chowned", security=HARDENED)
    assert state.exit_code != 0
    assert any("Operation not permitted" in m for _, m in lines), lines
    bounding, capabilities = run_task(
        runtime, instance, "grep CapBnd /proc/self/status", security=HARDENED
    )
    assert ("stdout", "CapBnd:\t0000000000000000") in capabilities


def test_no_new_privileges_is_set(runtime, instance):
    script = "grep NoNewPrivs /proc/self/status"
    state, lines = run_task(runtime, instance, script, security=HARDENED)
    assert ("stdout", "NoNewPrivs:\t1") in lines
    _, plain = run_task(runtime, instance, script)
    assert ("stdout", "NoNewPrivs:\t0") in plain


def test_a_fork_bomb_stops_at_the_pids_limit(runtime, instance):
    # The task's own shell cannot fork either once the bomb holds every pid, and a shell that
    # cannot fork exits: it starts the bomb with its one fork, then waits with builtins only
    # (`read` of a file, `[`) until the kernel has refused a fork at the limit.
    script = (
        "(f(){ f & f & }; f) 2>/dev/null & "
        "p=/sys/fs/cgroup/pids; [ -d $p ] || p=/sys/fs/cgroup; refused=0; "
        'until [ "$refused" -gt 0 ]; do read -r _ refused < $p/pids.events; done; '
        "echo survived; exit 0"
    )
    state, lines = run_task(runtime, instance, script, timeout=90, memory=64 * 1024 * 1024)
    assert state.exit_code == 0 and ("stdout", "survived") in lines
    _, limit = run_task(
        runtime, instance, "cat /sys/fs/cgroup/pids/pids.max || cat /sys/fs/cgroup/pids.max"
    )
    assert ("stdout", "64") in limit


def test_the_memory_limit_holds(runtime, instance):
    # Holding 64 MiB in a shell variable inside a 16 MiB container: the kernel kills it.
    script = "x=$(head -c 67108864 /dev/zero | tr '\\0' a); echo survived"
    state, lines = run_task(runtime, instance, script, memory=16 * 1024 * 1024)
    assert state.exit_code == 137, lines
    assert ("stdout", "survived") not in lines


def test_the_log_keeps_at_most_its_cap_and_the_newest_lines(docker_url, instance):
    capped = DockerRuntime.connect(docker_url, stop_timeout=1, limits=Limits(log_bytes=20000))
    capped.test_image = ensure_busybox_image(capped.client)  # type: ignore[attr-defined]
    try:
        script = (
            "i=0; while [ $i -lt 3000 ]; do echo line-$i-xxxxxxxxxxxxxxxxxxxx; i=$((i+1)); done"
        )
        state, lines = run_task(capped, instance, script, env={"PAD": "x" * 20})
        assert state.exit_code == 0, lines[-5:]
        messages = [m for _, m in lines]
        assert messages[-1] == "line-2999-xxxxxxxxxxxxxxxxxxxx"
        assert "line-0-xxxxxxxxxxxxxxxxxxxx" not in messages  # the oldest went
        assert sum(len(m) + 1 for m in messages) <= 20000
    finally:
        capped.garbage_collect(instance, set())
        capped.close()


def test_a_single_container_task_runs_without_a_network_container(runtime, instance):
    state, lines = run_task(runtime, instance, "hostname; echo done")
    assert state.primary_exited and state.exit_code == 0
    # Nothing of the replica is left running, so it reads as stopped, not as failed.
    assert state.phase == ReplicaPhase.STOPPED
    assert lines[-1] == ("stdout", "done")
    mine = runtime.client.containers.list(
        all=True, filters={"label": f"{LABEL_INSTANCE}={instance}"}
    )
    assert [c.labels[LABEL_ROLE] for c in mine] == ["primary"]


def test_a_stopped_single_container_task_reads_as_stopped(runtime, instance):
    task = ContainerSpec("main", runtime.test_image, ("sleep", "600"), primary=True)
    spec = proton(instance, task)
    assert runtime.ensure_proton(spec)[0].phase == ReplicaPhase.RUNNING
    runtime.stop_proton(spec.proton_id)
    assert runtime.observe(spec.proton_id)[0].phase == ReplicaPhase.STOPPED


def test_an_ended_single_container_task_never_runs_twice(runtime, instance):
    task = ContainerSpec("main", runtime.test_image, ("sh", "-c", "echo ran"), primary=True)
    spec = proton(instance, task)
    runtime.ensure_proton(spec)

    def ended() -> ObservedReplica | None:
        states = runtime.observe(spec.proton_id)
        return states[0] if states and states[0].primary_exited else None

    first = wait_for(ended, 30, "the task to end")
    # What a server that died between this start and its record asks next: ensure again.
    again = runtime.ensure_proton(spec)[0]
    assert again.phase == ReplicaPhase.STOPPED and again.primary_exited
    assert again.exit_code == 0 and again.started_at == first.started_at
    assert [line.message for line in runtime.logs(spec.proton_id)] == ["ran"]


def test_a_single_container_task_is_seen_by_a_restarted_server_and_after_a_removal(
    docker_url, runtime, instance
):
    """The runtime looks a lone task's container up by name once it ensured it; a runtime
    that never did (a restarted server) and one whose container went behind its back both
    still see what the engine holds."""
    task = ContainerSpec("main", runtime.test_image, ("sleep", "600"), primary=True)
    spec = proton(instance, task)
    runtime.ensure_proton(spec)
    restarted = DockerRuntime.connect(docker_url, stop_timeout=1)
    try:
        assert [s.phase for s in restarted.observe(spec.proton_id)] == [ReplicaPhase.RUNNING]
        assert [s.phase for s in runtime.observe(spec.proton_id)] == [ReplicaPhase.RUNNING]
        for container in runtime.client.containers.list(
            all=True, filters={"label": f"{LABEL_PROTON}={spec.proton_id}"}
        ):
            container.remove(force=True)
        assert runtime.observe(spec.proton_id) == []
        assert restarted.observe(spec.proton_id) == []
        runtime.stop_proton(spec.proton_id)  # nothing left to stop is no error
        assert runtime.logs(spec.proton_id) == []
    finally:
        restarted.close()


def test_a_task_with_a_sidecar_keeps_its_network_container(runtime, instance):
    main = ContainerSpec("main", runtime.test_image, ("sh", "-c", "exit 0"), primary=True)
    helper = ContainerSpec("helper", runtime.test_image, ("sleep", "600"))
    spec = proton(instance, main, helper)
    runtime.ensure_proton(spec)
    ended = wait_for(
        lambda: next((s for s in runtime.observe(spec.proton_id) if s.primary_exited), None),
        60,
        "the task to end",
    )
    assert ended.phase == ReplicaPhase.FAILED  # its sidecar and namespace still run
    roles = {
        c.labels[LABEL_ROLE]
        for c in runtime.client.containers.list(
            all=True, filters={"label": f"{LABEL_PROTON}={spec.proton_id}"}
        )
    }
    assert roles == {"infra", "primary", "sidecar"}


def test_an_exit_is_reported_from_the_engines_event_stream(docker_url, instance):
    watching = DockerRuntime.connect(docker_url, stop_timeout=1)
    image = ensure_busybox_image(watching.client)
    reported: queue.Queue[str] = queue.Queue()
    try:
        assert not watching.watches_exits()
        watching.watch_changes(reported.put)
        wait_for(watching.watches_exits, 30, "the event stream to open")
        quick = proton(instance, ContainerSpec("main", image, ("sh", "-c", "exit 0"), primary=True))
        web = ContainerSpec("web", image, ("sh", "-c", "sleep 1; exit 2"), primary=True, port=8080)
        served = proton(instance, web)
        watching.ensure_proton(quick)
        watching.ensure_proton(served)
        # The network container of `served` is never reported, and each exit once. Other
        # workloads on the shared engine are reported too: only these two are counted.
        mine = {quick.workload_id, served.workload_id}
        found = _reports(reported, mine, until=lambda seen: len(seen) == 2, seconds=30)
        assert sorted(found) == sorted(mine)
        watching.stop_proton(served.proton_id)  # stops the network container: not an exit
        assert _reports(reported, mine, until=lambda seen: False, seconds=2) == []
    finally:
        watching.garbage_collect(instance, set())
        watching.close()
    assert not watching.watches_exits()


def _reports(reported: queue.Queue[str], mine: set[str], until: Any, seconds: float) -> list[str]:
    """The reports about `mine` within `seconds`, or until `until(seen)` holds."""
    seen: list[str] = []
    deadline = time.monotonic() + seconds
    while not until(seen) and (left := deadline - time.monotonic()) > 0:
        try:
            workload_id = reported.get(timeout=left)
        except queue.Empty:
            break
        if workload_id in mine:
            seen.append(workload_id)
    return seen

"""Workloads through the SDK: start, stop, wait, logs, invoke, on the process runtime."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator

import pytest

from dockyard.sdk import Client, NotFound, WaitTimeout, Workload, WorkloadFailed
from dockyard.sdk.errors import DockyardError
from tests.sdk.live_server import MISSING, LiveServer, http_app_spec, unique


@pytest.fixture
def running(client: Client) -> Iterator[Workload]:
    name = unique("sdk-wl")
    workload = client.workloads.create(artifact={"name": name, "spec": http_app_spec()})
    yield workload.wait("running", timeout=30, interval=0.2)
    with contextlib.suppress(NotFound):
        workload.delete()


def test_a_workload_runs_stops_and_starts_again(running: Workload, client: Client) -> None:
    assert isinstance(running, Workload)
    assert running.status == "running"
    assert running.endpoint.endswith(f"/api/v2/endpoints/workloads/{running.id}/")
    assert running.artifact is not None and running.artifact.status == "draft"
    assert running.id in {w.id for w in client.workloads.list(status="running")}

    assert running.stop() is running
    running.wait("stopped", timeout=30, interval=0.2)
    assert client.workloads.get(running.id).status == "stopped"
    running.start().wait("running", timeout=30, interval=0.2)

    kinds = [event.event_type for event in running.events()]
    assert {"created", "started", "stopped"} <= set(kinds)


def test_waiting_too_short_raises(running: Workload) -> None:
    running.stop()
    with pytest.raises(WaitTimeout, match="still"):
        running.wait("terminated", timeout=0)


def test_logs_list_and_follow(running: Workload) -> None:
    entries = running.logs(limit=5).all()
    assert entries and all(entry.message for entry in entries)
    followed = list(running.follow_logs(backlog=3, timeout=1))
    assert 0 < len(followed) <= 50
    assert followed[0].replica


def test_invoke_reaches_the_app(running: Workload, client: Client, server: LiveServer) -> None:
    # A replica that has just become ready may take a moment to reach the proxy's table.
    response = running.invoke("/", scale_up_timeout=10)
    assert response.status_code == 200
    assert "Directory listing" in response.text
    # The app's own answers come back whatever their status; Dockyard's errors raise.
    assert running.invoke("/no-such-file").status_code == 404
    ghost = Workload.model_validate({**running.model_dump(), "id": MISSING})._bind(client)
    with pytest.raises(NotFound) as missing:
        ghost.invoke("/")
    assert missing.value.code == "workload_not_found"


def test_promote_locks_the_draft(running: Workload, server: LiveServer) -> None:
    running.promote()
    assert running.artifact is not None and running.artifact.status == "locked"


def test_unknown_workload(client: Client) -> None:
    with pytest.raises(NotFound) as missing:
        client.workloads.start(MISSING)
    assert missing.value.code == "workload_not_found"
    assert isinstance(missing.value, DockyardError)


def test_waiting_on_a_workload_that_errors_says_why(client: Client) -> None:
    spec = http_app_spec()
    crash = "import sys; print('cannot bind', flush=True); sys.exit(2)"
    spec["containerGroups"][0]["containers"][0]["entrypoint"] = [sys.executable, "-c", crash]
    workload = client.workloads.create(artifact={"name": unique("sdk-crash"), "spec": spec})
    try:
        with pytest.raises(WorkloadFailed) as failed:
            workload.wait("running", timeout=120, interval=0.5)
        error = failed.value
        assert (error.code, error.status, error.reason) == (
            "workload_errored",
            "errored",
            "crash_loop",
        )
        assert error.status_message and "exited with code 2" in error.status_message
        assert "(crash_loop): replica default-0 restarted" in error.message
        details = client.workloads.get(workload.id).status_details
        assert details.reason == "crash_loop" and "cannot bind" in (details.log_tail or [])
        events = list(client.workloads.events(workload.id))
        errored = [e for e in events if e.details.get("to") == "errored"]
        assert errored and errored[0].details["code"] == "crash_loop"
    finally:
        workload.delete()


def test_autoscaling_is_typed_both_ways(client: Client) -> None:
    name = unique("sdk-scaled")
    legacy = [
        {"scalingMetric": "httpRequestsConcurrency", "target": 3, "minCount": 1, "maxCount": 2}
    ]
    workload = client.workloads.create(
        artifact={"name": name, "spec": http_app_spec()},
        runtime={"containerGroups": [{"name": "default", "autoscaling": {"policies": legacy}}]},
    )
    try:
        workload.wait("running", timeout=30, interval=0.2)
        group = workload.runtime.container_groups[0]
        assert group.autoscaling is not None
        assert (group.autoscaling.min_replica_count, group.autoscaling.max_replica_count) == (1, 2)
        assert (group.current_replica_count, group.desired_replica_count) == (1, 1)
        assert group.replica_count is None
    finally:
        workload.delete()

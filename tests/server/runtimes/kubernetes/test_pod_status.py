"""What a pod's status says about its replica (pure: pods as the API returns them)."""

from __future__ import annotations

from typing import Any

from dockyard.server.runtimes.base import ReplicaPhase, Waiting
from dockyard.server.runtimes.kubernetes.pod_status import is_terminating, replica_of


def pod(status: dict[str, Any], **meta: Any) -> dict[str, Any]:
    return {
        "metadata": {"name": "p", "creationTimestamp": "2026-01-01T00:00:00Z", **meta},
        "spec": {"containers": [{"name": "web"}]},
        "status": status,
    }


def seen(found: dict[str, Any]):  # type: ignore[no-untyped-def]
    return replica_of(found, "default", 0, host="10.1.2.3", port=8080, tail_lines=2)


def test_a_running_ready_pod_is_a_ready_replica_at_its_ip() -> None:
    replica = seen(
        pod(
            {
                "phase": "Running",
                "podIP": "10.1.2.3",
                "startTime": "2026-01-01T00:00:01Z",
                "conditions": [{"type": "Ready", "status": "True"}],
                "containerStatuses": [
                    {"name": "web", "restartCount": 2, "state": {"running": {}}, "ready": True}
                ],
            }
        )
    )
    assert (replica.phase, replica.ready, replica.restart_count) == (ReplicaPhase.RUNNING, True, 2)
    assert (replica.host, replica.port) == ("10.1.2.3", 8080)
    assert replica.started_at is not None and replica.started_at.second == 1


def test_running_but_not_ready_is_running_and_unready() -> None:
    replica = seen(
        pod(
            {
                "phase": "Running",
                "conditions": [{"type": "Ready", "status": "False"}],
                "containerStatuses": [{"name": "web", "restartCount": 0, "state": {"running": {}}}],
            }
        )
    )
    assert replica.phase == ReplicaPhase.RUNNING and replica.ready is False


def test_a_container_being_created_waits_creating() -> None:
    replica = seen(
        pod(
            {
                "phase": "Pending",
                "containerStatuses": [
                    {"name": "web", "state": {"waiting": {"reason": "ContainerCreating"}}}
                ],
            }
        )
    )
    assert replica.phase == ReplicaPhase.PENDING and replica.waiting_reason == Waiting.CREATING
    assert replica.started_at is not None  # from its creation: the ready timeout counts from it


def test_a_missing_secret_key_waits_with_the_kubelets_words() -> None:
    why = "couldn't find key token in Secret dockyard-workloads/dockyard-x-credentials"
    replica = seen(
        pod(
            {
                "phase": "Pending",
                "containerStatuses": [
                    {
                        "name": "web",
                        "state": {
                            "waiting": {"reason": "CreateContainerConfigError", "message": why}
                        },
                    }
                ],
            }
        )
    )
    assert replica.phase == ReplicaPhase.PENDING
    assert replica.message == f"container web: CreateContainerConfigError: {why}"


def test_an_evicted_pod_is_failed_with_the_reason() -> None:
    replica = seen(
        pod({"phase": "Failed", "reason": "Evicted", "message": "The node was low on memory."})
    )
    assert replica.phase == ReplicaPhase.FAILED
    assert replica.message == "The node was low on memory."


def test_the_last_words_are_the_termination_messages_end() -> None:
    replica = seen(
        pod(
            {
                "phase": "Running",
                "containerStatuses": [
                    {
                        "name": "web",
                        "restartCount": 4,
                        "state": {"waiting": {"reason": "CrashLoopBackOff", "message": "back-off"}},
                        "lastState": {"terminated": {"exitCode": 3, "message": "a\nb\nc"}},
                    }
                ],
            }
        )
    )
    assert replica.phase == ReplicaPhase.FAILED
    assert replica.waiting_reason == Waiting.RESTART_BACKOFF
    assert (replica.exit_code, replica.last_output) == (3, ["b", "c"])
    assert replica.message == "container web: CrashLoopBackOff (exit code 3): back-off"


def test_a_pod_being_deleted_is_terminating() -> None:
    assert is_terminating(pod({}, deletionTimestamp="2026-01-01T00:01:00Z"))
    assert not is_terminating(pod({}))


PRIMARY = {"dockyard.io/primary": "web", "dockyard.io/containers": '{"web":"Web"}'}


def test_a_primary_that_exited_while_not_ready_ended_with_its_code_and_reason() -> None:
    replica = seen(
        pod(
            {
                "phase": "Running",
                "conditions": [{"type": "Ready", "status": "False"}],
                "containerStatuses": [
                    {
                        "name": "web",
                        "restartCount": 0,
                        "state": {
                            "terminated": {"exitCode": 137, "reason": "OOMKilled", "message": ""}
                        },
                    }
                ],
            },
            annotations=PRIMARY,
        )
    )
    assert (replica.phase, replica.primary_exited, replica.exit_code) == (
        ReplicaPhase.FAILED,
        True,
        137,
    )
    # Named as the spec names it, with the kubelet's reason.
    assert replica.message == "container Web exited with code 137 (OOMKilled)"


def test_an_exit_0_the_kubelet_already_restarted_still_counts_as_an_end() -> None:
    replica = seen(
        pod(
            {
                "phase": "Running",
                "conditions": [{"type": "Ready", "status": "False"}],
                "containerStatuses": [
                    {
                        "name": "web",
                        "restartCount": 1,
                        "state": {"running": {}},
                        "lastState": {"terminated": {"exitCode": 0, "reason": "Completed"}},
                    }
                ],
            },
            annotations=PRIMARY,
        )
    )
    assert (replica.phase, replica.primary_exited, replica.exit_code) == (
        ReplicaPhase.FAILED,
        True,
        0,
    )
    assert replica.message == "container Web exited with code 0"


def test_a_ready_pod_whose_primary_once_crashed_serves_and_has_not_ended() -> None:
    replica = seen(
        pod(
            {
                "phase": "Running",
                "conditions": [{"type": "Ready", "status": "True"}],
                "containerStatuses": [
                    {
                        "name": "web",
                        "restartCount": 1,
                        "state": {"running": {}},
                        "lastState": {"terminated": {"exitCode": 1, "reason": "Error"}},
                    }
                ],
            },
            annotations=PRIMARY,
        )
    )
    assert (replica.phase, replica.primary_exited, replica.ready) == (
        ReplicaPhase.RUNNING,
        False,
        True,
    )


def test_a_sidecar_that_exits_is_not_the_primarys_end() -> None:
    status = {
        "phase": "Running",
        "conditions": [{"type": "Ready", "status": "False"}],
        "containerStatuses": [
            {"name": "web", "restartCount": 0, "state": {"running": {}}},
            {
                "name": "side",
                "restartCount": 0,
                "state": {"terminated": {"exitCode": 1, "reason": "Error"}},
            },
        ],
    }
    replica = seen(pod(status, annotations=PRIMARY))
    assert not replica.primary_exited and replica.phase == ReplicaPhase.RUNNING

"""Task decisions as pure functions: when a run ends, how, and what is left to do."""

from datetime import UTC, datetime, timedelta

from dockyard.server.reconciler.decide import ProtonView, RestartPolicy, decide
from dockyard.server.reconciler.state import Phase, ReplicaState
from dockyard.server.reconciler.tasks import TaskPolicy, ended_with, judge_task, may_start
from dockyard.server.workloads.statuses import ErrorReason, Status

POLICY = RestartPolicy(backoff_seconds=10, backoff_max_seconds=300, limit=5)
TASKS = TaskPolicy(max_seconds=60, max_running=2)
START = datetime(2026, 1, 1, tzinfo=UTC)
KEY = ("default", 0)


def at(seconds: float) -> datetime:
    return START + timedelta(seconds=seconds)


def running(**changes) -> ReplicaState:
    return ReplicaState(KEY, phase=Phase.RUNNING, ready=True, started_at=START, **changes)


def exited(code: int | None, **changes) -> ReplicaState:
    fields = {"phase": Phase.FAILED, "primary_exited": True, "exit_code": code, **changes}
    return ReplicaState(KEY, started_at=START, **fields)


def view(*replicas, status=Status.RUNNING, task=True, early=False, free=True, desired="running"):
    return ProtonView(
        desired_state=desired,
        status=status,
        wanted=(KEY,),
        replicas=tuple(replicas),
        task=task,
        may_end_as_task=early,
        task_slot_free=free,
        task_policy=TASKS,
    )


def test_exit_zero_succeeds_and_stops_what_is_left() -> None:
    plan = decide(view(exited(0)), now=at(5), policy=POLICY)
    assert plan.status == Status.SUCCEEDED
    assert plan.exit_code == 0
    assert plan.failure is None
    assert plan.stop_all and not plan.restart and not plan.ensure


def test_a_replica_that_was_its_primary_alone_ends_with_nothing_to_stop() -> None:
    # The runtime reads such a replica as stopped once its one container exited.
    plan = decide(view(exited(0, phase=Phase.STOPPED)), now=at(5), policy=POLICY)
    assert plan.status == Status.SUCCEEDED and plan.exit_code == 0
    assert not plan.stop_all and not plan.ensure and not plan.restart


def test_a_stopped_replica_whose_primary_did_not_exit_is_started_again() -> None:
    # Stopped on purpose earlier (not the task's own end): it runs again when wanted.
    stopped = ReplicaState(KEY, phase=Phase.STOPPED, started_at=START)
    plan = decide(view(stopped), now=at(5), policy=POLICY)
    assert plan.status is None or plan.status not in (Status.SUCCEEDED, Status.FAILED)
    assert plan.ensure == [KEY]


def test_stopping_a_task_whose_one_container_ended_settles_as_stopped() -> None:
    plan = decide(view(exited(0, phase=Phase.STOPPED), desired="stopped"), at(5), POLICY)
    assert plan.status == Status.STOPPED and not plan.stop_all


def test_a_nonzero_exit_fails_with_its_code_and_is_never_restarted() -> None:
    plan = decide(view(exited(3, message="container main exited with code 3")), at(5), POLICY)
    assert plan.status == Status.FAILED
    assert plan.exit_code == 3
    assert plan.failure is not None and plan.failure.reason == ErrorReason.EXIT_NONZERO
    assert "code 3" in plan.failure.message
    assert not plan.restart


def test_an_unknown_exit_code_fails_without_one() -> None:
    end = ended_with(None, None)
    assert end.status == Status.FAILED and end.exit_code is None
    assert end.failure is not None and "unknown" in end.failure.message


def test_past_the_run_cap_the_task_is_killed_and_failed() -> None:
    inside = decide(view(running()), now=at(59), policy=POLICY)
    assert inside.status == Status.RUNNING and not inside.stop_all
    assert inside.wake_at == at(60)  # the next pass comes by the deadline
    past = decide(view(running()), now=at(60), policy=POLICY)
    assert past.status == Status.FAILED and past.stop_all
    assert past.exit_code is None  # killed: no code of its own
    assert past.failure is not None and past.failure.reason == ErrorReason.DEADLINE_EXCEEDED


def test_a_finished_task_is_left_as_it_ended() -> None:
    for status in (Status.SUCCEEDED, Status.FAILED):
        stopped = ReplicaState(KEY, phase=Phase.STOPPED)
        plan = decide(view(stopped, status=status), now=at(100), policy=POLICY)
        assert not plan.acts and plan.status is None


def test_stop_kills_a_running_task() -> None:
    plan = decide(view(running(), desired="stopped"), now=at(1), policy=POLICY)
    assert plan.stop_all and plan.status == Status.STOPPING


def test_a_sidecar_ending_does_not_end_the_task_nor_restart_it() -> None:
    sidecar_gone = ReplicaState(KEY, phase=Phase.FAILED, started_at=START, exit_code=1)
    plan = decide(view(sidecar_gone), now=at(1), policy=POLICY)
    assert plan.status not in (Status.SUCCEEDED, Status.FAILED)
    assert not plan.restart and not plan.stop_all


def test_a_task_waits_in_submitted_while_the_running_cap_is_reached() -> None:
    waiting = decide(view(status=Status.SUBMITTED, free=False), now=at(0), policy=POLICY)
    assert not waiting.acts and waiting.status is None
    starts = decide(view(status=Status.SUBMITTED, free=True), now=at(0), policy=POLICY)
    assert starts.ensure == [KEY] and starts.status == Status.PROVISIONING
    assert may_start(1, TASKS) and not may_start(2, TASKS)


def test_a_service_without_probes_that_exits_before_ready_ends_as_a_task() -> None:
    plan = decide(view(exited(0), status=Status.LAUNCHING, task=False, early=True), at(2), POLICY)
    assert plan.status == Status.SUCCEEDED and plan.exit_code == 0 and not plan.restart
    failed = decide(
        view(exited(124), status=Status.LAUNCHING, task=False, early=True), at(2), POLICY
    )
    assert failed.status == Status.FAILED and failed.exit_code == 124


def test_a_service_that_was_ready_once_is_restarted_after_an_exit() -> None:
    crashed = exited(1, ever_ready=True)
    plan = decide(view(crashed, status=Status.RUNNING, task=False, early=True), at(2), POLICY)
    assert plan.restart == [KEY]
    assert plan.status not in (Status.SUCCEEDED, Status.FAILED)


def test_the_run_cap_is_only_for_declared_tasks() -> None:
    # A service without probes that has not answered yet may be a slow service: not killed.
    verdict = judge_task(running(), declared=False, now=at(3600), policy=TASKS)
    assert verdict.end is None and verdict.deadline is None

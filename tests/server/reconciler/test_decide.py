"""Reconcile decisions as pure functions: no database, no runtime, a virtual clock."""

from datetime import UTC, datetime, timedelta

from dockyard.server.reconciler.decide import ProtonView, RestartPolicy, decide
from dockyard.server.reconciler.state import Phase, ReplicaState
from dockyard.server.workloads.statuses import ErrorReason, Status

POLICY = RestartPolicy(backoff_seconds=10, backoff_max_seconds=300, limit=5)
START = datetime(2026, 1, 1, tzinfo=UTC)


def at(seconds: float) -> datetime:
    return START + timedelta(seconds=seconds)


def _view(
    *replicas: ReplicaState,
    status=Status.LAUNCHING,
    desired="running",
    count=None,
    expires=None,
    runtime_restarts=False,
):
    return ProtonView(
        desired_state=desired,
        status=status,
        wanted=tuple(("default", i) for i in range(len(replicas) if count is None else count)),
        replicas=tuple(replicas),
        expires_at=None if expires is None else at(expires),
        runtime_restarts=runtime_restarts,
    )


def test_new_workload_creates_every_replica() -> None:
    plan = decide(_view(status=Status.SUBMITTED, count=3), now=at(0), policy=POLICY)
    assert plan.ensure == [("default", 0), ("default", 1), ("default", 2)]
    assert plan.status == Status.PROVISIONING


def test_running_only_when_every_replica_is_ready() -> None:
    ready = ReplicaState(("default", 0), Phase.RUNNING, ready=True)
    unready = ReplicaState(("default", 1), Phase.RUNNING, ready=False)
    assert decide(_view(ready, unready), at(0), POLICY).status == Status.LAUNCHING
    both = _view(ready, ReplicaState(("default", 1), Phase.RUNNING, ready=True))
    assert decide(both, at(0), POLICY).status == Status.RUNNING


def test_failed_replica_restarts_at_once_then_backs_off_doubling() -> None:
    plan = decide(_view(ReplicaState(("default", 0), Phase.FAILED)), now=at(100), policy=POLICY)
    assert plan.restart == [("default", 0)]
    change = plan.replicas[("default", 0)]
    assert change.failures_in_a_row == 1 and change.next_restart_at == at(110)
    waiting = ReplicaState(
        ("default", 0), Phase.FAILED, failures_in_a_row=1, backoff_step=1, next_restart_at=at(110)
    )
    assert decide(_view(waiting), now=at(105), policy=POLICY).restart == []
    plan = decide(_view(waiting), now=at(110), policy=POLICY)
    assert plan.restart == [("default", 0)]
    assert plan.replicas[("default", 0)].next_restart_at == at(130)  # 20 s after


def test_backoff_is_capped() -> None:
    assert POLICY.delay(1) == 10 and POLICY.delay(2) == 20 and POLICY.delay(20) == 300


def test_restart_limit_makes_the_workload_errored_with_the_reason() -> None:
    replica = ReplicaState(("default", 0), Phase.FAILED, failures_in_a_row=5, message="exit code 3")
    plan = decide(_view(replica), now=at(0), policy=POLICY)
    assert plan.status == Status.ERRORED
    assert "exit code 3" in (plan.reason or "")


def test_giving_up_names_the_reason_for_status_details() -> None:
    crashed = ReplicaState(("default", 0), Phase.FAILED, failures_in_a_row=5, message="exit 3")
    plan = decide(_view(crashed), now=at(0), policy=POLICY)
    assert plan.failure is not None and plan.failure.reason == ErrorReason.CRASH_LOOP
    assert plan.failure.message == plan.reason
    for gave_up, expected in (
        (ErrorReason.READY_TIMEOUT, ErrorReason.READY_TIMEOUT),
        (ErrorReason.PROBE_FAILED, ErrorReason.PROBE_FAILED),
        (None, ErrorReason.PROBE_FAILED),
    ):
        sick = ReplicaState(
            ("default", 0), Phase.RUNNING, wants_restart=True, failures_in_a_row=5, gave_up=gave_up
        )
        failure = decide(_view(sick), now=at(0), policy=POLICY).failure
        assert failure is not None and failure.reason == expected


def test_errored_is_sticky_until_the_user_acts() -> None:
    plan = decide(
        _view(ReplicaState(("default", 0), Phase.FAILED), status=Status.ERRORED), at(0), POLICY
    )
    assert plan.restart == [] and plan.status is None


def test_liveness_restart_request_restarts_a_running_replica() -> None:
    plan = decide(
        _view(ReplicaState(("default", 0), Phase.RUNNING, wants_restart=True)), at(0), POLICY
    )
    assert plan.restart == [("default", 0)]


def test_stop_stops_then_settles_stopped() -> None:
    plan = decide(
        _view(ReplicaState(("default", 0), Phase.RUNNING, ready=True), desired="stopped"),
        at(0),
        POLICY,
    )
    assert plan.stop_all and not plan.remove_all and plan.status == Status.STOPPING
    plan = decide(_view(status=Status.STOPPING, desired="stopped", count=1), at(0), POLICY)
    assert plan.status == Status.STOPPED


def test_draft_expiry_terminates() -> None:
    plan = decide(
        _view(ReplicaState(("default", 0), Phase.RUNNING, ready=True), expires=50),
        now=at(50),
        policy=POLICY,
    )
    assert plan.status == Status.TERMINATED and plan.expired and plan.remove_all


def test_scale_down_removes_extra_replicas() -> None:
    view = _view(
        ReplicaState(("default", 0), Phase.RUNNING, ready=True),
        ReplicaState(("default", 1), Phase.RUNNING, ready=True),
        count=1,
    )
    plan = decide(view, at(0), POLICY)
    assert plan.remove == [("default", 1)] and plan.status == Status.RUNNING


def test_backoff_resets_after_ten_healthy_minutes() -> None:
    replica = ReplicaState(
        ("default", 0), Phase.RUNNING, ready=True, backoff_step=3, ready_since=at(0)
    )
    assert decide(_view(replica), now=at(599), policy=POLICY).replicas[replica.key] == replica
    plan = decide(_view(replica), now=at(600), policy=POLICY)
    assert plan.replicas[replica.key].backoff_step == 0


def test_a_pending_replica_is_ensured_again() -> None:
    # A server killed between creating and starting a container leaves it pending for good.
    pending = ReplicaState(("default", 0), Phase.PENDING)
    assert decide(_view(pending), at(0), POLICY).ensure == [("default", 0)]


def test_a_stopped_replica_of_a_running_workload_is_started() -> None:
    stopped = ReplicaState(("default", 0), Phase.STOPPED)
    assert decide(_view(stopped), at(0), POLICY).ensure == [("default", 0)]


def test_a_runtime_that_restarts_itself_is_counted_not_asked() -> None:
    failed = ReplicaState(("default", 0), Phase.FAILED, failures_in_a_row=2)
    plan = decide(_view(failed, runtime_restarts=True), at(0), POLICY)
    assert plan.restart == [] and plan.status == Status.LAUNCHING and not plan.acts
    looping = ReplicaState(("default", 0), Phase.FAILED, failures_in_a_row=5, message="exit 3")
    plan = decide(_view(looping, runtime_restarts=True), at(0), POLICY)
    assert plan.status == Status.ERRORED and plan.failure is not None
    assert plan.failure.reason == ErrorReason.CRASH_LOOP
    assert plan.stop_all  # so that the runtime stops restarting it

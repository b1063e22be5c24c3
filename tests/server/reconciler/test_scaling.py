"""The autoscaler's decision for a group the runtime sizes itself (Kubernetes' HPA), as a pure
function on a virtual clock: the runtime's count is taken, no rule of Dockyard's runs, and the
rows of replicas it took away go."""

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from dockyard.core.spec import stored_spec
from dockyard.core.workloads import WorkloadRuntime
from dockyard.server.autoscaling.repository import WorkloadLoad
from dockyard.server.autoscaling.rule import GroupScale
from dockyard.server.reconciler.decide import RestartPolicy, ScalingInputs, decide_workload
from dockyard.server.reconciler.scaling import Measured, ScalingPolicy, plan_scaling
from dockyard.server.reconciler.state import Phase, ProtonSnapshot, ReplicaState, Snapshot
from dockyard.server.runtimes.base import RuntimeScale
from dockyard.server.workloads.statuses import Status
from tests.factories import service_spec

START = datetime(2026, 1, 1, tzinfo=UTC)
CPU = "cpuAverageUtilization"


def proton(desired: int) -> ProtonSnapshot:
    scaling = {
        "minReplicaCount": 1,
        "maxReplicaCount": 5,
        "policies": [{"scalingMetric": CPU, "target": 50}],
    }
    runtime = WorkloadRuntime.model_validate(
        {"containerGroups": [{"name": "default", "replicaCount": None, "autoscaling": scaling}]}
    )
    return ProtonSnapshot(
        id="p1",
        role="active",
        status=Status.RUNNING,
        spec=stored_spec(service_spec()),
        runtime=runtime,
        running_since=START,
        scale={"default": GroupScale(desired=desired)},
        scale_stored=True,
    )


def ready(*indexes: int) -> dict[tuple[str, int], ReplicaState]:
    return {
        ("default", i): ReplicaState(("default", i), Phase.RUNNING, ready=True) for i in indexes
    }


def test_a_group_the_runtime_sizes_takes_its_count_and_says_so() -> None:
    measured = Measured(WorkloadLoad(), sized_by_runtime={"default": RuntimeScale(3, CPU, 82.5)})
    plan = plan_scaling(proton(1), ready(0), measured, {}, START, ScalingPolicy())
    assert plan.scale["default"].desired == 3
    assert plan.events == [
        ("scaled", {"group": "default", "from": 1, "to": 3, "metric": CPU, "value": 82.5})
    ]
    assert plan.history == {}  # no rule of Dockyard's ran: nothing to remember


def test_down_is_the_runtimes_call_too_with_no_window_of_dockyards() -> None:
    # The runtime's autoscaler has its own stabilization; Dockyard adds none on top.
    measured = Measured(WorkloadLoad(), sized_by_runtime={"default": RuntimeScale(1, CPU, 10.0)})
    later = START + timedelta(seconds=1)
    plan = plan_scaling(proton(3), ready(0, 1, 2), measured, {}, later, ScalingPolicy())
    assert plan.scale["default"].desired == 1
    # The replicas above the count are no longer ready on their way out: removable at once.
    unready = {k: ReplicaState(k, Phase.RUNNING, ready=False) for k in ready(1, 2)}
    plan = plan_scaling(proton(3), {**ready(0), **unready}, measured, {}, later, ScalingPolicy())
    assert plan.removable == {("default", 1), ("default", 2)}


def test_without_the_runtimes_count_the_rule_holds_the_group_as_it_is() -> None:
    # Before the HPA exists (or on a runtime measuring no CPU) nothing moves the count.
    plan = plan_scaling(
        proton(2), ready(0, 1), Measured(WorkloadLoad()), {}, START, ScalingPolicy()
    )
    assert plan.scale["default"].desired == 2 and plan.events == []


def test_rows_of_replicas_the_runtime_took_away_are_dropped() -> None:
    # The HPA lowered the count from 3 to 1 and the ReplicaSet deleted two pods: the runtime
    # reports one replica, and the two rows left of the others go in the same pass.
    stored = replace(proton(3), replicas=ready(0, 1, 2))
    snapshot = Snapshot("w1", "lease", 1, "running", Status.RUNNING, None, protons=(stored,))
    measured = Measured(WorkloadLoad(), sized_by_runtime={"default": RuntimeScale(1, CPU, 5.0)})
    plan = decide_workload(
        snapshot,
        {"p1": ready(0)},
        START,
        RestartPolicy(backoff_seconds=10, backoff_max_seconds=300, limit=5),
        runtime_restarts=True,
        scaling=ScalingInputs(measured={"p1": measured}),
    )
    assert plan.protons["p1"].remove == [("default", 1), ("default", 2)]
    assert plan.protons["p1"].ensure == []
    assert plan.status == Status.RUNNING

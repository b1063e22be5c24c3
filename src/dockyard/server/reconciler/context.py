"""What every reconcile pass needs, and what lives from one pass to the next; one per reconciler."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from dockyard.server.db.session import Database
from dockyard.server.reconciler.decide import RestartPolicy
from dockyard.server.reconciler.prober import Prober
from dockyard.server.reconciler.probes import ReplicaHealth
from dockyard.server.reconciler.scaling import History, ScalingPolicy
from dockyard.server.reconciler.state import Snapshot
from dockyard.server.reconciler.tasks import TaskPolicy, may_start
from dockyard.server.runtimes.base import Runtime
from dockyard.server.runtimes.proton_spec import SecretLookup


@dataclass
class TaskStarts:
    """The tasks this server is starting right now, counted with those recorded as running.

    Passes of different workloads run side by side: two tasks asking for the last free slot
    at once would both see it free in the database, which counts a task only once its start
    is recorded. Taking a slot here is done one at a time, and holds until the pass ends."""

    starting: set[str] = field(default_factory=set)  # workload ids
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def take(self, workload_id: str, running: Callable[[], int], policy: TaskPolicy) -> bool:
        """Whether the task may start now; if so its slot is held until `release`.

        `running`: how many tasks the database records as running on the installation."""
        with self._lock:
            if workload_id in self.starting:
                return True  # asked again in the same pass (decided anew under the lease)
            if not may_start(running() + len(self.starting), policy):
                return False
            self.starting.add(workload_id)
            return True

    def release(self, workload_id: str) -> None:
        with self._lock:
            self.starting.discard(workload_id)


@dataclass
class PassContext:
    db: Database
    runtime: Runtime
    instance_id: str  # the installation's: labels every runtime object, scopes GC and adoption
    policy: RestartPolicy
    prober: Prober
    clock: Callable[[], datetime]
    # workload id → what reads its credentials at container start (as its creator)
    secrets: Callable[[str], SecretLookup]
    platform_env: Callable[[str], dict[str, str]]  # workload id → injected variables
    sweep_seconds: float = 5.0
    task_policy: TaskPolicy = field(default_factory=TaskPolicy)  # run cap, concurrency cap
    task_starts: TaskStarts = field(default_factory=TaskStarts)  # the cap's slots being taken
    # This server process's own id (its data dir's), prefixing its leases: a restarted server
    # takes back its own leases at once, never those of another live server on the database.
    server_id: str = ""
    # Passes are timed on a grid of this many seconds (rounded down, so never later than
    # asked), and a probe due within one step counts as due: the passes of many workloads then
    # run back to back instead of one at a time, each on a cold CPU cache, which costs far
    # more per pass. 0 times every pass exactly.
    pass_grid: float = 0.0
    # Passes of different workloads that may run at once (never two of the same workload).
    workers: int = 1
    # (proton, group, index) → ((start time, restart count) it was made for, probe bookkeeping)
    health: dict[tuple[str, str, int], tuple[tuple[datetime | None, int], ReplicaHealth]] = field(
        default_factory=dict
    )
    # workload id → the snapshot its last pass found as recorded (see reconcile_workload);
    # dropped when a pass writes, when nudged, and by the sweep when the row changed since.
    snapshots: dict[str, Snapshot] = field(default_factory=dict)
    # Workloads told that the runtime is unreachable, with what they were told: said once
    # per outage, and a recovery event when a pass gets through again.
    engine_trouble: dict[str, str] = field(default_factory=dict)
    # Called with the workload id after a pass changed what serves traffic.
    on_routes_changed: list[Callable[[str], None]] = field(default_factory=list)
    scaling: ScalingPolicy = field(default_factory=ScalingPolicy)
    # The autoscaler's recent recommendations per (proton, group), from this server's passes.
    scale_history: History = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.server_id:
            self.server_id = self.instance_id

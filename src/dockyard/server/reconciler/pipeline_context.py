"""What every reconcile pass needs; one per reconciler."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from dockyard.server.db.session import Database
from dockyard.server.reconciler.decide import RestartPolicy
from dockyard.server.reconciler.prober import Prober
from dockyard.server.reconciler.probes import ReplicaHealth
from dockyard.server.reconciler.spec_build import SecretLookup
from dockyard.server.reconciler.store import Snapshot
from dockyard.server.runtimes.base import Runtime


@dataclass
class PassContext:
    db: Database
    runtime: Runtime
    instance_id: str
    policy: RestartPolicy
    prober: Prober
    clock: Callable[[], datetime]
    secrets: Callable[[], SecretLookup]  # opens what reads credentials at container start
    platform_env: Callable[[str], dict[str, str]]  # workload id → injected variables
    sweep_seconds: float = 5.0
    # Passes are timed on a grid of this many seconds (rounded down, so never later than
    # asked), and a probe due within one step counts as due: the passes of many workloads then
    # run back to back instead of one at a time, each on a cold CPU cache (about a third of
    # the cost each). 0 times every pass exactly.
    pass_grid: float = 0.0
    # (proton, group, index) → (container start seen, probe bookkeeping)
    health: dict[tuple[str, str, int], tuple[Any, ReplicaHealth]] = field(default_factory=dict)
    # workload id → the snapshot its last pass found as recorded (see reconcile_workload);
    # dropped when a pass writes, when nudged, and by the sweep when the row changed since.
    snapshots: dict[str, Snapshot] = field(default_factory=dict)
    # Called with (workload id, proton id) after a pass changed what serves traffic.
    on_routes_changed: list[Callable[[str], None]] = field(default_factory=list)

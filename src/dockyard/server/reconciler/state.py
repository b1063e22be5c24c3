"""What a pass reads from storage, changes and writes back: one type per thing.

A replica is one `ReplicaState` from the moment its row is read to the moment it is written:
observing sets what the runtime and the probes report, deciding sets the restart bookkeeping,
acting sets what the runtime answered. Each keeps the state it was read as (`origin`), so
writing back is a diff: a pass that changed nothing writes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime
from enum import StrEnum
from operator import attrgetter
from typing import Any

from dockyard.core.autoscaling import Autoscaling
from dockyard.core.spec import PROBES, Container, ServiceArtifactSpec
from dockyard.core.workloads import WorkloadRuntime
from dockyard.server.autoscaling.rule import GroupScale
from dockyard.server.runtimes.base import ReplicaKey
from dockyard.server.workloads.models import Replica
from dockyard.server.workloads.statuses import ErrorReason, Status


class Phase(StrEnum):
    """Where one replica stands, as the runtime last reported it."""

    MISSING = "missing"  # nothing exists for it (never stored: it has no row then)
    PENDING = "pending"  # being created
    RUNNING = "running"  # containers up (ready or not is the probes' business)
    FAILED = "failed"  # a container exited or could not start
    STOPPED = "stopped"


# The fields whose change makes a pass worth a write. The message and the start time follow
# along when something else is written: a probe's changing wording alone is not news.
_SETTLED = (
    "phase",
    "ready",
    "ever_ready",
    "started",
    "host",
    "port",
    "restart_count",
    "failures_in_a_row",
    "backoff_step",
)
_TIMES = ("next_restart_at", "ready_since", "draining_since")
_FOLLOWING = ("started_at", "message")
_settled = attrgetter(*_SETTLED)
_following = attrgetter(*_FOLLOWING)


@dataclass(frozen=True)
class ReplicaState:
    key: ReplicaKey
    phase: Phase = Phase.MISSING
    ready: bool = False
    ever_ready: bool = False  # ready at least once since it was made (a task never is)
    started: bool = False  # every startup probe passed
    host: str | None = None
    port: int | None = None
    restart_count: int = 0
    # Restarts since the replica was last ready: past the restart limit the workload errors.
    failures_in_a_row: int = 0
    backoff_step: int = 0  # exponent of the restart back-off
    next_restart_at: datetime | None = None
    ready_since: datetime | None = None
    started_at: datetime | None = None
    message: str | None = None
    # Scaled away: no new requests reach it, and it goes once those in flight end.
    draining_since: datetime | None = None
    # Seen in this pass and never stored: a probe gave up on the replica, and which kind of
    # give-up it was (READY_TIMEOUT or PROBE_FAILED), the errored reason if restarts run out.
    wants_restart: bool = field(default=False, compare=False)
    gave_up: ErrorReason | None = field(default=None, compare=False)
    # Seen in this pass and never stored: the primary container exited, with this code (None
    # when unknown). What ends a task.
    primary_exited: bool = field(default=False, compare=False)
    exit_code: int | None = field(default=None, compare=False)
    # Seen in this pass and never stored: why a runtime that manages health says the replica
    # waits (a `runtimes.base.Waiting`, or the runtime's own word).
    waiting_reason: str | None = field(default=None, compare=False)
    # As read from storage; None for a replica that has no row yet.
    origin: ReplicaState | None = field(default=None, compare=False, repr=False)

    @classmethod
    def from_storage(cls, row: Replica) -> ReplicaState:
        read = cls(
            key=(row.group_name, row.index),
            phase=Phase(row.phase),
            ready=row.ready,
            ever_ready=row.ever_ready,
            started=row.started,
            host=row.host,
            port=row.port,
            restart_count=row.restart_count,
            failures_in_a_row=row.failures_in_a_row,
            backoff_step=row.backoff_step,
            next_restart_at=row.next_restart_at,
            ready_since=row.ready_since,
            started_at=row.started_at,
            message=row.message,
            draining_since=row.draining_since,
        )
        return replace(read, origin=read)

    def for_storage(self) -> dict[str, Any]:
        """The row's columns, as `Replica` attributes."""
        values = {name: getattr(self, name) for name in (*_SETTLED, *_TIMES, *_FOLLOWING)}
        values["phase"] = self.phase.value
        return values

    def with_changes(self, **changes: Any) -> ReplicaState:
        # A pass makes a few of these per replica: copying the fields' dict is many times
        # cheaper than `dataclasses.replace`, which runs __init__ with every field again.
        changed = object.__new__(ReplicaState)
        changed.__dict__.update(self.__dict__, **changes)
        return changed

    @property
    def name(self) -> str:
        return f"{self.key[0]}-{self.key[1]}"

    def settled_changed(self) -> bool:
        """Whether storage would learn anything worth a write from this state."""
        if self.origin is None:
            return True
        before = self.origin
        if _settled(self) != _settled(before):
            return True
        return (
            _moved(before.next_restart_at, self.next_restart_at)
            or _moved(before.ready_since, self.ready_since)
            or _moved(before.draining_since, self.draining_since)
        )

    def changed(self) -> bool:
        """Whether any stored field differs from what was read."""
        if self.settled_changed():
            return True
        assert self.origin is not None
        return _following(self) != _following(self.origin)


def _moved(before: datetime | None, after: datetime | None) -> bool:
    # A time that went through a database column may have lost its last digits.
    if before is None or after is None:
        return before is not after
    return abs((before - after).total_seconds()) > 0.001


@dataclass(frozen=True)
class ProtonSnapshot:
    id: str
    role: str  # active | candidate | draining
    status: Status
    spec: ServiceArtifactSpec
    runtime: WorkloadRuntime
    running_since: datetime | None
    replicas: dict[ReplicaKey, ReplicaState] = field(default_factory=dict)
    task: bool = False  # a declared task: its primary has no port (fixed when it was made)
    # Each autoscaled group's autoscaler state, as stored (or as it starts, before its first
    # pass); empty when no group is autoscaled.
    scale: dict[str, GroupScale] = field(default_factory=dict)
    scale_stored: bool = False  # whether `scale` was read from the row or made up

    def wanted(self, scale: dict[str, GroupScale] | None = None) -> tuple[ReplicaKey, ...]:
        """Every replica the runtime settings (and the autoscaler, for a scaled group: its
        `scale`, by default the stored one) ask for, group by group."""
        scale = self.scale if scale is None else scale
        counts: dict[str, int] = {}
        for group in self.runtime.container_groups:
            counts[group.name] = group.replica_count or 1
            if group.name in scale:
                counts[group.name] = scale[group.name].desired
        return tuple(
            (group.name, index)
            for group in self.spec.container_groups
            for index in range(counts.get(group.name, 1))
        )

    def probed(self) -> bool:
        """Whether any of its containers declares a probe (a service that says how it is
        healthy is restarted after any exit; one that does not may end as a task)."""
        return any(
            getattr(container, probe) is not None
            for group in self.spec.container_groups
            for container in group.containers
            for probe in PROBES
        )

    def scaling(self, group: str) -> Autoscaling | None:
        """The group's autoscaling settings, when the autoscaler sets its count."""
        for found in self.runtime.container_groups:
            if found.name == group and found.scaled():
                return found.autoscaling
        return None

    def containers(self, group: str) -> list[Container]:
        for found in self.spec.container_groups:
            if found.name == group:
                return found.containers
        return []


@dataclass(frozen=True)
class ReplacementSnapshot:
    id: str
    status: str
    candidate_proton_id: str | None
    previous_proton_id: str | None
    warmup_seconds: float
    keep_seconds: float
    switched_at: datetime | None


@dataclass(frozen=True)
class Snapshot:
    """One workload as a pass reads it: the row, its live protons and its open replacement."""

    workload_id: str
    lease: str
    generation: int
    desired_state: str
    status: Status
    expires_at: datetime | None
    protons: tuple[ProtonSnapshot, ...] = ()
    replacement: ReplacementSnapshot | None = None
    # The row's last change: a snapshot kept between passes is current while this matches.
    version: datetime | None = None
    held: bool = False  # read without a lease while another pass held it

    def proton(self, role: str) -> ProtonSnapshot | None:
        return next((p for p in self.protons if p.role == role), None)

    @property
    def proton_id(self) -> str | None:
        active = self.proton("active")
        return active.id if active else None

    def same_as(self, other: Snapshot) -> bool:
        """Whether both hold the same workload state, whoever read them and when."""
        return replace(self, lease="", version=None, held=False) == replace(
            other, lease="", version=None, held=False
        )

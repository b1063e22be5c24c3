"""The reconciler's database side: lease a workload, load a snapshot, apply an outcome.

Each function is one short transaction. Nothing here talks to a runtime, and nothing in the
runtime step holds a transaction open.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from dockyard.server.artifacts.models import Artifact
from dockyard.server.db.session import Database
from dockyard.server.kit.clock import utcnow
from dockyard.server.workloads.lifecycle import record_event, set_proton_status, set_status
from dockyard.server.workloads.models import Proton, Replica, Workload
from dockyard.server.workloads.repository import open_replacement
from dockyard.server.workloads.statuses import Status

LEASE_SECONDS = 60


@dataclass(frozen=True)
class ReplicaRecord:
    group: str
    index: int
    ready: bool
    started: bool
    failures_in_a_row: int
    backoff_step: int
    restart_count: int
    next_restart_at: datetime | None
    ready_since: datetime | None
    phase: str = "pending"
    host: str | None = None
    port: int | None = None


@dataclass(frozen=True)
class ProtonSnapshot:
    id: str
    role: str  # active | candidate | draining
    status: Status
    spec: dict[str, Any]
    runtime: dict[str, Any]
    running_since: datetime | None
    replicas: dict[tuple[str, int], ReplicaRecord] = field(default_factory=dict)


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


def lease_owner(instance_id: str) -> str:
    """The prefix of this installation's lease tokens (fits the 32-character column)."""
    return instance_id[:16]


def load(db: Database, workload_id: str, now: datetime) -> Snapshot | None:
    """Read what a pass decides on, without a lease (one read transaction, no writes)."""
    with db.unit_of_work(write=False) as session:
        workload = session.get(Workload, workload_id)
        if workload is None:
            return None
        held = workload.lock_token is not None and (
            workload.lock_expires_at is None or workload.lock_expires_at >= now
        )
        return _snapshot(session, workload, "", held=held)


def lease_and_load(
    db: Database, workload_id: str, now: datetime, owner: str = ""
) -> Snapshot | None:
    """Take the workload's lease (None if another pass holds it) and read what to act on."""
    token = owner + secrets.token_hex(8)
    with db.unit_of_work() as session:
        taken = session.execute(
            update(Workload)
            .where(
                Workload.id == workload_id,
                or_(Workload.lock_token.is_(None), Workload.lock_expires_at < now),
            )
            .values(lock_token=token, lock_expires_at=now + timedelta(seconds=LEASE_SECONDS))
        ).rowcount
        if not taken:
            return None
        workload = session.get(Workload, workload_id)
        if workload is None:
            return None
        return _snapshot(session, workload, token)


def _snapshot(session: Session, workload: Workload, lease: str, *, held: bool = False) -> Snapshot:
    protons = session.scalars(
        select(Proton).where(
            Proton.workload_id == workload.id,
            Proton.role.in_(("active", "candidate", "draining")),
        )
    )
    return Snapshot(
        workload_id=workload.id,
        lease=lease,
        generation=workload.generation,
        desired_state=workload.desired_state,
        status=Status(workload.status),
        expires_at=workload.expires_at,
        protons=tuple(_proton_snapshot(session, p) for p in protons),
        replacement=_replacement_snapshot(session, workload.id),
        version=workload.updated_at,
        held=held,
    )


def _proton_snapshot(session: Session, proton: Proton) -> ProtonSnapshot:
    records = {
        (row.group_name, row.index): ReplicaRecord(
            group=row.group_name,
            index=row.index,
            ready=row.ready,
            started=row.started,
            failures_in_a_row=row.failures_in_a_row,
            backoff_step=row.backoff_step,
            restart_count=row.restart_count,
            next_restart_at=row.next_restart_at,
            ready_since=row.ready_since,
            phase=row.phase,
            host=row.host,
            port=row.port,
        )
        for row in session.scalars(select(Replica).where(Replica.proton_id == proton.id))
    }
    return ProtonSnapshot(
        id=proton.id,
        role=proton.role,
        status=Status(proton.status),
        spec=dict(proton.spec),
        runtime=dict(proton.runtime or {}),
        running_since=proton.running_since,
        replicas=records,
    )


def _replacement_snapshot(session: Session, workload_id: str) -> ReplacementSnapshot | None:
    row = open_replacement(session, workload_id)
    if row is None:
        return None
    config = row.config or {}
    return ReplacementSnapshot(
        id=row.id,
        status=row.status,
        candidate_proton_id=row.candidate_proton_id,
        previous_proton_id=row.previous_proton_id,
        warmup_seconds=60.0 * float(config.get("warmupDurationMinutes") or 0),
        keep_seconds=60.0 * float(config.get("keepOldVersionMinutes") or 0),
        switched_at=row.switched_at,
    )


@dataclass
class ReplicaOutcome:
    group: str
    index: int
    phase: str
    ready: bool
    started: bool
    host: str | None
    port: int | None
    restart_count: int
    failures_in_a_row: int
    backoff_step: int
    next_restart_at: datetime | None
    ready_since: datetime | None
    started_at: datetime | None
    message: str | None


@dataclass
class ProtonOutcome:
    proton_id: str
    replicas: list[ReplicaOutcome] = field(default_factory=list)
    removed: list[tuple[str, int]] = field(default_factory=list)
    status: Status | None = None
    reason: str | None = None
    log_tail: list[str] | None = None
    retire: bool = False  # its runtime objects are gone; keep the row for history only


@dataclass
class RolloutChange:
    """What happens to the open replacement in this pass."""

    status: str
    message: str | None = None
    switch: bool = False  # the candidate becomes active, the active one drains
    finished: bool = False


@dataclass
class Outcome:
    protons: list[ProtonOutcome] = field(default_factory=list)
    status: Status | None = None  # the workload's (its active proton's) status
    reason: str | None = None
    events: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    rollout: RolloutChange | None = None


def changes_nothing(snapshot: Snapshot, outcome: Outcome) -> bool:
    """A pass that saw everything as recorded: giving the lease back is all there is to do.

    Most passes over a healthy workload are like this, and skipping the loads and writes of
    `apply_outcome` is most of what keeps an idle server's CPU low."""
    if outcome.events or outcome.rollout is not None:
        return False
    if outcome.status is not None and outcome.status != snapshot.status:
        return False
    protons = {proton.id: proton for proton in snapshot.protons}
    for proton_outcome in outcome.protons:
        proton = protons.get(proton_outcome.proton_id)
        if proton is None or proton_outcome.removed or proton_outcome.retire:
            return False
        if proton_outcome.log_tail is not None:
            return False
        if proton_outcome.status is not None and proton_outcome.status != proton.status:
            return False
        if len(proton_outcome.replicas) != len(proton.replicas):
            return False
        for replica in proton_outcome.replicas:
            record = proton.replicas.get((replica.group, replica.index))
            if record is None or _differs(record, replica):
                return False
    return True


def _differs(record: ReplicaRecord, replica: ReplicaOutcome) -> bool:
    plain = (
        record.phase,
        record.ready,
        record.started,
        record.failures_in_a_row,
        record.backoff_step,
        record.restart_count,
        record.host,
        record.port,
    ) != (
        replica.phase,
        replica.ready,
        replica.started,
        replica.failures_in_a_row,
        replica.backoff_step,
        replica.restart_count,
        replica.host,
        replica.port,
    )
    return (
        plain
        or _moved(record.next_restart_at, replica.next_restart_at)
        or _moved(record.ready_since, replica.ready_since)
    )


def _moved(before: datetime | None, after: datetime | None) -> bool:
    # Times make a round trip through float seconds in a pass: a microsecond is not a change.
    if before is None or after is None:
        return before is not after
    return abs((before - after).total_seconds()) > 0.001


def apply_outcome(db: Database, snapshot: Snapshot, outcome: Outcome) -> bool:
    """Record a pass's outcome if the lease still holds; always give the lease back."""
    with db.unit_of_work() as session:
        workload = session.get(Workload, snapshot.workload_id)
        if workload is None or workload.lock_token != snapshot.lease:
            return False
        workload.lock_token = None
        workload.lock_expires_at = None
        for proton_outcome in outcome.protons:
            _apply_proton(session, proton_outcome)
        for event_type, details in outcome.events:
            record_event(session, workload.id, event_type, details)
        # A user changed what they want while this pass ran: its status verdict is stale.
        fresh = workload.generation == snapshot.generation
        if outcome.rollout is not None and fresh:
            _apply_rollout(session, workload, snapshot, outcome.rollout)
        if outcome.status is not None and fresh:
            set_status(session, workload, outcome.status, reason=outcome.reason)
            if outcome.status == Status.TERMINATED:
                workload.expires_at = None
        return True


def _apply_proton(session: Session, outcome: ProtonOutcome) -> None:
    proton = session.get(Proton, outcome.proton_id)
    if proton is None:
        return
    _write_replicas(session, proton.id, outcome)
    if outcome.log_tail is not None:
        proton.log_tail = outcome.log_tail
    if outcome.status is not None:
        set_proton_status(proton, outcome.status)
    if outcome.retire:
        proton.role = "retired"


def _apply_rollout(
    session: Session, workload: Workload, snapshot: Snapshot, change: RolloutChange
) -> None:
    replacement = open_replacement(session, workload.id)
    if replacement is None or snapshot.replacement is None:
        return
    replacement.status = change.status
    if change.message:
        replacement.message = change.message
    if change.switch:
        candidate = session.get(Proton, replacement.candidate_proton_id)
        previous = session.get(Proton, replacement.previous_proton_id)
        if candidate is not None:
            candidate.role = "active"
            workload.artifact_id = candidate.artifact_id
            workload.runtime = dict(candidate.runtime or {})
            artifact = (
                session.get(Artifact, candidate.artifact_id) if candidate.artifact_id else None
            )
            if artifact is not None and artifact.status == "locked":
                workload.expires_at = None
            set_status(session, workload, Status(candidate.status), reason="replacement switched")
        if previous is not None:
            previous.role = "draining"
            set_proton_status(previous, Status.DRAINING)
        replacement.switched_at = utcnow()
        record_event(
            session, workload.id, "replacement_switched", {"replacementId": replacement.id}
        )
    if change.finished:
        replacement.finished_at = utcnow()
        event = {"completed": "replacement_completed", "errored": "replacement_failed"}
        record_event(
            session,
            workload.id,
            event.get(change.status, "replacement_completed"),
            {"replacementId": replacement.id, "reason": change.message},
        )


def record_events(
    db: Database, workload_id: str, events: list[tuple[str, dict[str, Any]]]
) -> None:
    """Events outside a pass's outcome (e.g. the runtime could not be reached)."""
    with db.unit_of_work() as session:
        if session.get(Workload, workload_id) is None:
            return
        for event_type, details in events:
            record_event(session, workload_id, event_type, details)


def release(db: Database, snapshot: Snapshot) -> None:
    with db.unit_of_work() as session:
        session.execute(
            update(Workload)
            .where(Workload.id == snapshot.workload_id, Workload.lock_token == snapshot.lease)
            .values(lock_token=None, lock_expires_at=None)
        )


def _write_replicas(session: Session, proton_id: str, outcome: ProtonOutcome) -> None:
    rows = {
        (row.group_name, row.index): row
        for row in session.scalars(select(Replica).where(Replica.proton_id == proton_id))
    }
    for key in outcome.removed:
        if key in rows:
            session.delete(rows.pop(key))
    for state in outcome.replicas:
        row = rows.get((state.group, state.index))
        if row is None:
            row = Replica(proton_id=proton_id, group_name=state.group, index=state.index)
            session.add(row)
        row.phase = state.phase
        row.ready = state.ready
        row.started = state.started
        row.host = state.host
        row.port = state.port
        row.restart_count = state.restart_count
        row.failures_in_a_row = state.failures_in_a_row
        row.backoff_step = state.backoff_step
        row.next_restart_at = state.next_restart_at
        row.ready_since = state.ready_since
        row.started_at = state.started_at
        row.message = state.message


def due_workloads(db: Database) -> list[str]:
    """Every workload the reconciler should look at (all but the terminated)."""
    with db.unit_of_work(write=False) as session:
        return list(
            session.scalars(select(Workload.id).where(Workload.status != Status.TERMINATED.value))
        )


def workload_versions(db: Database) -> dict[str, datetime | None]:
    """Every workload the reconciler should look at, with the time of its row's last change."""
    with db.unit_of_work(write=False) as session:
        rows = session.execute(
            select(Workload.id, Workload.updated_at).where(
                Workload.status != Status.TERMINATED.value
            )
        )
        return {workload_id: updated_at for workload_id, updated_at in rows}


def active_proton_ids(db: Database) -> set[str]:
    """Protons whose runtime objects must be kept: all but the retired, of live workloads."""
    with db.unit_of_work(write=False) as session:
        return set(
            session.scalars(
                select(Proton.id)
                .join(Workload, Workload.id == Proton.workload_id)
                .where(Proton.role != "retired", Workload.status != Status.TERMINATED.value)
            )
        )


def missing_workloads(db: Database, workload_ids: set[str]) -> bool:
    """Whether any of these workloads no longer exists (deleted since it was nudged)."""
    with db.unit_of_work(write=False) as session:
        found = set(session.scalars(select(Workload.id).where(Workload.id.in_(workload_ids))))
    return bool(workload_ids - found)


def release_leases_of(db: Database, owner: str) -> int:
    """At start: leases this installation held when it died are free again at once."""
    if not owner:
        return 0
    with db.unit_of_work() as session:
        return session.execute(
            update(Workload)
            .where(Workload.lock_token.like(f"{owner}%"))
            .values(lock_token=None, lock_expires_at=None)
        ).rowcount

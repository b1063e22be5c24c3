"""The reconciler's writes: what a pass decided, and applying it in one transaction.

`changes_nothing` lets a pass that found everything as recorded end without a statement;
`apply_outcome` writes the rest under the pass's lease.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from dockyard.server.artifacts.models import Artifact
from dockyard.server.db.session import Database
from dockyard.server.kit.clock import utcnow
from dockyard.server.reconciler.store import ReplicaRecord, Snapshot
from dockyard.server.workloads.lifecycle import record_event, set_proton_status, set_status
from dockyard.server.workloads.models import Proton, Replica, Workload
from dockyard.server.workloads.repository import open_replacement
from dockyard.server.workloads.statuses import Failure, Status


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
    failure: Failure | None = None  # with status ERRORED: why, for statusDetails
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
    failure: Failure | None = None
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
            set_status(
                session, workload, outcome.status, reason=outcome.reason, failure=outcome.failure
            )
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


def record_events(db: Database, workload_id: str, events: list[tuple[str, dict[str, Any]]]) -> None:
    """Events outside a pass's outcome (e.g. the runtime could not be reached)."""
    with db.unit_of_work() as session:
        if session.get(Workload, workload_id) is None:
            return
        for event_type, details in events:
            record_event(session, workload_id, event_type, details)


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

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

from dockyard.server.db.session import Database
from dockyard.server.kit.clock import utcnow
from dockyard.server.workloads.lifecycle import record_event, set_proton_status, set_status
from dockyard.server.workloads.models import Proton, Replica, Workload
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


@dataclass(frozen=True)
class Snapshot:
    workload_id: str
    lease: str
    generation: int
    desired_state: str
    status: Status
    expires_at: datetime | None
    proton_id: str | None
    proton_spec: dict[str, Any]
    proton_runtime: dict[str, Any]
    replicas: dict[tuple[str, int], ReplicaRecord] = field(default_factory=dict)


def lease_and_load(db: Database, workload_id: str, now: datetime) -> Snapshot | None:
    """Take the workload's lease (None if another pass holds it) and read what to act on."""
    token = secrets.token_hex(8)
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
        proton = session.scalar(
            select(Proton).where(Proton.workload_id == workload_id, Proton.role == "active")
        )
        records: dict[tuple[str, int], ReplicaRecord] = {}
        if proton is not None:
            for row in session.scalars(select(Replica).where(Replica.proton_id == proton.id)):
                records[(row.group_name, row.index)] = ReplicaRecord(
                    group=row.group_name,
                    index=row.index,
                    ready=row.ready,
                    started=row.started,
                    failures_in_a_row=row.failures_in_a_row,
                    backoff_step=row.backoff_step,
                    restart_count=row.restart_count,
                    next_restart_at=row.next_restart_at,
                    ready_since=row.ready_since,
                )
        return Snapshot(
            workload_id=workload.id,
            lease=token,
            generation=workload.generation,
            desired_state=workload.desired_state,
            status=Status(workload.status),
            expires_at=workload.expires_at,
            proton_id=proton.id if proton else None,
            proton_spec=dict(proton.spec) if proton else {},
            proton_runtime=dict(proton.runtime or {}) if proton else {},
            replicas=records,
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
class Outcome:
    replicas: list[ReplicaOutcome] = field(default_factory=list)
    removed: list[tuple[str, int]] = field(default_factory=list)
    status: Status | None = None
    reason: str | None = None
    events: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    log_tail: list[str] | None = None


def apply_outcome(db: Database, snapshot: Snapshot, outcome: Outcome) -> bool:
    """Record a pass's outcome if the lease still holds; always give the lease back."""
    with db.unit_of_work() as session:
        workload = session.get(Workload, snapshot.workload_id)
        if workload is None or workload.lock_token != snapshot.lease:
            return False
        workload.lock_token = None
        workload.lock_expires_at = None
        proton = session.get(Proton, snapshot.proton_id) if snapshot.proton_id else None
        if proton is not None:
            _write_replicas(session, proton.id, outcome)
            if outcome.log_tail is not None:
                proton.log_tail = outcome.log_tail
        for event_type, details in outcome.events:
            record_event(session, workload.id, event_type, details)
        # A user changed what they want while this pass ran: its status verdict is stale.
        if outcome.status is not None and workload.generation == snapshot.generation:
            if proton is not None:
                set_proton_status(proton, outcome.status)
            set_status(session, workload, outcome.status, reason=outcome.reason)
            if outcome.status == Status.TERMINATED:
                workload.expires_at = None
        return True


def release(db: Database, snapshot: Snapshot) -> None:
    with db.unit_of_work() as session:
        session.execute(
            update(Workload)
            .where(Workload.id == snapshot.workload_id, Workload.lock_token == snapshot.lease)
            .values(lock_token=None, lock_expires_at=None)
        )


def _write_replicas(session, proton_id: str, outcome: Outcome) -> None:  # type: ignore[no-untyped-def]
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


def utc_now() -> datetime:
    return utcnow()


def active_proton_ids(db: Database) -> set[str]:
    """Protons whose runtime objects must be kept: those of workloads not terminated."""
    with db.unit_of_work(write=False) as session:
        return set(
            session.scalars(
                select(Proton.id)
                .join(Workload, Workload.id == Proton.workload_id)
                .where(Proton.role != "retired", Workload.status != Status.TERMINATED.value)
            )
        )

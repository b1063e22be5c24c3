"""The reconciler's reads: lease a workload, load its snapshot, find the workloads to look at.

What a pass writes back is in `outcomes.py`. Each function is one short transaction. Nothing
here talks to a runtime, and nothing in the runtime step holds a transaction open.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from dockyard.server.db.session import Database
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


def release(db: Database, snapshot: Snapshot) -> None:
    with db.unit_of_work() as session:
        session.execute(
            update(Workload)
            .where(Workload.id == snapshot.workload_id, Workload.lock_token == snapshot.lease)
            .values(lock_token=None, lock_expires_at=None)
        )


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

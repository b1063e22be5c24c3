"""Every statement the reconciler sends: leases, the snapshot a pass reads, what it writes.

Each function is one short transaction. Nothing here talks to a runtime, and nothing in the
runtime step holds a transaction open.
"""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import CursorResult, Update, func, or_, select, update
from sqlalchemy.orm import Session

from dockyard.core.spec import stored_spec
from dockyard.core.workloads import ReplacementConfig, WorkloadRuntime
from dockyard.server.artifacts.models import Artifact
from dockyard.server.autoscaling.rule import GroupScale, initial_replicas
from dockyard.server.db.session import Database
from dockyard.server.reconciler.act import Outcome, ProtonOutcome
from dockyard.server.reconciler.decide import RolloutChange
from dockyard.server.reconciler.state import (
    ProtonSnapshot,
    ReplacementSnapshot,
    ReplicaState,
    Snapshot,
)
from dockyard.server.workloads.lifecycle import record_event, set_proton_status, set_status
from dockyard.server.workloads.models import Proton, Replica, Workload
from dockyard.server.workloads.repository import open_replacement
from dockyard.server.workloads.statuses import Status

# What a task counting toward DOCKYARD_MAX_RUNNING_TASKS is in: started and not yet ended.
TASK_RUNNING = frozenset(
    {Status.PROVISIONING, Status.LAUNCHING, Status.RUNNING, Status.STOPPING, Status.INITIALIZING}
)

LEASE_SECONDS = 60


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
        taken = _rows_changed(
            session,
            update(Workload)
            .where(
                Workload.id == workload_id,
                or_(Workload.lock_token.is_(None), Workload.lock_expires_at < now),
            )
            .values(lock_token=token, lock_expires_at=now + timedelta(seconds=LEASE_SECONDS)),
        )
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
    rows = session.scalars(select(Replica).where(Replica.proton_id == proton.id))
    records = {(row.group_name, row.index): ReplicaState.from_storage(row) for row in rows}
    runtime = WorkloadRuntime.model_validate(proton.runtime or {})
    stored = proton.scale or {}
    scale = {
        group.name: GroupScale.from_storage(stored.get(group.name), initial_replicas(group))
        for group in runtime.container_groups
        if group.autoscaling is not None and group.scaled()
    }
    return ProtonSnapshot(
        id=proton.id,
        role=proton.role,
        status=Status(proton.status),
        spec=stored_spec(proton.spec),
        runtime=runtime,
        running_since=proton.running_since,
        replicas=records,
        task=proton.task,
        scale=scale,
        scale_stored=proton.scale is not None,
    )


def _replacement_snapshot(session: Session, workload_id: str) -> ReplacementSnapshot | None:
    row = open_replacement(session, workload_id)
    if row is None:
        return None
    config = ReplacementConfig.model_validate(row.config or {})
    return ReplacementSnapshot(
        id=row.id,
        status=row.status,
        candidate_proton_id=row.candidate_proton_id,
        previous_proton_id=row.previous_proton_id,
        warmup_seconds=60.0 * config.warmup_duration_minutes,
        keep_seconds=60.0 * config.keep_old_version_minutes,
        switched_at=row.switched_at,
    )


def _rows_changed(session: Session, statement: Update) -> int:
    result = cast(CursorResult[Any], session.execute(statement))
    return result.rowcount


def release(db: Database, snapshot: Snapshot) -> None:
    with db.unit_of_work() as session:
        session.execute(
            update(Workload)
            .where(Workload.id == snapshot.workload_id, Workload.lock_token == snapshot.lease)
            .values(lock_token=None, lock_expires_at=None)
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


def running_tasks(db: Database) -> int:
    """Declared tasks handed to the runtime and not finished, over the whole installation."""
    with db.unit_of_work(write=False) as session:
        found = session.scalar(
            select(func.count())
            .select_from(Workload)
            .join(Proton, Proton.workload_id == Workload.id)
            .where(
                Proton.role == "active",
                Proton.task.is_(True),
                Workload.status.in_([status.value for status in TASK_RUNNING]),
            )
        )
        return int(found or 0)


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
        return _rows_changed(
            session,
            update(Workload)
            .where(Workload.lock_token.like(f"{owner}%"))
            .values(lock_token=None, lock_expires_at=None),
        )


# --- what a pass writes ----------------------------------------------------------------------


def apply(db: Database, snapshot: Snapshot, outcome: Outcome, now: datetime) -> bool:
    """Record a pass's outcome if the lease still holds; always give the lease back.

    `now` is the reconciler's clock, which times the rollout as its decisions do."""
    with db.unit_of_work() as session:
        workload = session.get(Workload, snapshot.workload_id)
        if workload is None or workload.lock_token != snapshot.lease:
            return False
        workload.lock_token = None
        workload.lock_expires_at = None
        for proton_outcome in outcome.protons:
            _apply_proton(session, proton_outcome, now)
        for event_type, details in outcome.events:
            record_event(session, workload.id, event_type, details)
        # A user changed what they want while this pass ran: its status verdict is stale.
        fresh = workload.generation == snapshot.generation
        if outcome.rollout is not None and fresh:
            _apply_rollout(session, workload, snapshot, outcome.rollout, now)
        if outcome.status is not None and fresh:
            set_status(
                session,
                workload,
                outcome.status,
                reason=outcome.reason,
                failure=outcome.failure,
                exit_code=outcome.exit_code,
            )
            if outcome.status == Status.TERMINATED:
                workload.expires_at = None
        return True


def _apply_proton(session: Session, outcome: ProtonOutcome, now: datetime) -> None:
    proton = session.get(Proton, outcome.proton_id)
    if proton is None:
        return
    _write_replicas(session, proton.id, outcome)
    if outcome.scale is not None:
        proton.scale = {group: state.for_storage() for group, state in outcome.scale.items()}
    if outcome.log_tail is not None:
        proton.log_tail = outcome.log_tail
    if outcome.status is not None:
        set_proton_status(proton, outcome.status, now)
    if outcome.retire:
        proton.role = "retired"


def _apply_rollout(
    session: Session, workload: Workload, snapshot: Snapshot, change: RolloutChange, now: datetime
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
            set_proton_status(previous, Status.DRAINING, now)
        replacement.switched_at = now
        record_event(
            session, workload.id, "replacement_switched", {"replacementId": replacement.id}
        )
    if change.finished:
        replacement.finished_at = now
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
    for key, state in outcome.replicas.items():
        row = rows.get(key)
        if row is None:
            row = Replica(proton_id=proton_id, group_name=key[0], index=key[1])
            session.add(row)
        elif not state.changed():
            continue  # as read: nothing to write
        for column, value in state.for_storage().items():
            setattr(row, column, value)

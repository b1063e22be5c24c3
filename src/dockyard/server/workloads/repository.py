"""SQL for workloads, their protons, replicas and events."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ColumnElement, Select, func, select, update
from sqlalchemy.orm import Session

from dockyard.server.users.models import User
from dockyard.server.workloads.models import Proton, Replacement, Replica, Workload, WorkloadEvent
from dockyard.server.workloads.statuses import INACTIVE


def add(session: Session, row: Workload | Proton) -> None:
    session.add(row)
    session.flush()


def active_on_artifact(
    session: Session, artifact_id: str, *, excluding: str | None = None
) -> list[Workload]:
    """Workloads on the artifact that are not stopped, errored or terminated."""
    query = select(Workload).where(
        Workload.artifact_id == artifact_id,
        Workload.status.not_in([status.value for status in INACTIVE]),
    )
    if excluding:
        query = query.where(Workload.id != excluding)
    return list(session.scalars(query))


def using_artifacts(session: Session, artifact_ids: list[str]) -> list[tuple[str, str, str]]:
    """`(artifact id, workload id, workload name)` for each workload that is not terminated
    and runs one of the artifacts, as its artifact or through one of its protons."""
    if not artifact_ids:
        return []
    live = Workload.status != "terminated"
    direct = select(Workload.artifact_id, Workload.id, Workload.name).where(
        Workload.artifact_id.in_(artifact_ids), live
    )
    through_protons = (
        select(Proton.artifact_id, Workload.id, Workload.name)
        .join(Workload, Workload.id == Proton.workload_id)
        .where(Proton.artifact_id.in_(artifact_ids), live)
    )
    rows = session.execute(direct.union(through_protons))
    return sorted({(str(a), str(w), str(n)) for a, w, n in rows})


def list_workloads(
    session: Session,
    conditions: list[ColumnElement[bool]],
    order_by: list[ColumnElement],
    *,
    offset: int,
    limit: int,
) -> tuple[list[Workload], int]:
    total = session.scalar(select(func.count()).select_from(Workload).where(*conditions))
    rows = session.scalars(
        select(Workload).where(*conditions).order_by(*order_by).offset(offset).limit(limit)
    )
    return list(rows), int(total or 0)


def active_proton(session: Session, workload_id: str) -> Proton | None:
    return session.scalar(
        select(Proton).where(Proton.workload_id == workload_id, Proton.role == "active")
    )


def protons_of(session: Session, workload_id: str) -> list[Proton]:
    return list(
        session.scalars(
            select(Proton)
            .where(Proton.workload_id == workload_id)
            .order_by(Proton.created_at.desc(), Proton.id.desc())
        )
    )


def get_proton(session: Session, workload_id: str, proton_id: str) -> Proton | None:
    return session.scalar(
        select(Proton).where(Proton.workload_id == workload_id, Proton.id == proton_id)
    )


def replicas_of(session: Session, proton_id: str) -> list[Replica]:
    return list(
        session.scalars(
            select(Replica)
            .where(Replica.proton_id == proton_id)
            .order_by(Replica.group_name, Replica.index)
        )
    )


def events_of(
    session: Session, workload_id: str, *, offset: int, limit: int
) -> tuple[list[WorkloadEvent], int]:
    condition = WorkloadEvent.workload_id == workload_id
    total = session.scalar(select(func.count()).select_from(WorkloadEvent).where(condition))
    rows = session.scalars(
        select(WorkloadEvent)
        .where(condition)
        .order_by(WorkloadEvent.timestamp.desc(), WorkloadEvent.id.desc())
        .offset(offset)
        .limit(limit)
    )
    return list(rows), int(total or 0)


def delete_workload(session: Session, row: Workload) -> None:
    session.delete(row)
    session.flush()


def clear_expiry(session: Session, artifact_id: str) -> None:
    """A locked artifact's workloads live until stopped: drop their draft expiry."""
    for row in session.scalars(
        select(Workload).where(
            Workload.artifact_id == artifact_id, Workload.expires_at.is_not(None)
        )
    ):
        row.expires_at = None


# Replacement statuses that mean "still in flight".
OPEN_REPLACEMENT = ("submitted", "initializing", "awaiting_promotion", "switching", "cleaning_up")


def open_replacement(session: Session, workload_id: str) -> Replacement | None:
    return session.scalar(
        select(Replacement).where(
            Replacement.workload_id == workload_id, Replacement.status.in_(OPEN_REPLACEMENT)
        )
    )


def open_replacements(session: Session, workload_ids: list[str]) -> dict[str, Replacement]:
    if not workload_ids:
        return {}
    rows = session.scalars(
        select(Replacement).where(
            Replacement.workload_id.in_(workload_ids), Replacement.status.in_(OPEN_REPLACEMENT)
        )
    )
    return {row.workload_id: row for row in rows}


def runner_of(session: Session, workload_id: str) -> tuple[str, bool] | None:
    """The user a workload runs for (its creator) and whether they are an admin."""
    row = session.execute(
        select(User.id, User.is_admin)
        .join(Workload, Workload.creator_id == User.id)
        .where(Workload.id == workload_id)
    ).first()
    return (row[0], bool(row[1])) if row is not None else None


def starters_of_candidates(session: Session, proton_ids: list[str]) -> dict[str, str | None]:
    """Who started the replacement that created each of these protons (candidates only)."""
    if not proton_ids:
        return {}
    rows = session.execute(
        select(Replacement.candidate_proton_id, Replacement.user_id).where(
            Replacement.candidate_proton_id.in_(proton_ids)
        )
    )
    return {proton_id: user_id for proton_id, user_id in rows if proton_id}


def statuses_where(
    session: Session, conditions: list[ColumnElement[bool]]
) -> list[tuple[str, str]]:
    """(id, status) of every workload the conditions select."""
    rows = session.execute(select(Workload.id, Workload.status).where(*conditions))
    return [(workload_id, status) for workload_id, status in rows]


def existing_ids(session: Session, workload_ids: set[str]) -> set[str]:
    return set(session.scalars(select(Workload.id).where(Workload.id.in_(workload_ids))))


def note_last_responses(session: Session, moments: dict[str, datetime]) -> None:
    """Moves each workload's last response forward (never back, as servers flush in any order)."""
    for workload_id, moment in sorted(moments.items()):
        session.execute(
            update(Workload)
            .where(
                Workload.id == workload_id,
                (Workload.last_response_at.is_(None)) | (Workload.last_response_at < moment),
            )
            # Traffic is not an edit: updatedAt keeps its value.
            .values(last_response_at=moment, updated_at=Workload.updated_at)
        )


def statuses_of(session: Session, workload_ids: set[str]) -> dict[str, str]:
    if not workload_ids:
        return {}
    rows = session.execute(
        select(Workload.id, Workload.status).where(Workload.id.in_(workload_ids))
    )
    return {workload_id: status for workload_id, status in rows}


def ids_where(condition: ColumnElement[bool]) -> Select[str]:
    """The ids of the workloads the condition selects, as a subquery for another listing."""
    return select(Workload.id).where(condition)


def active_protons(session: Session, workload_ids: list[str]) -> dict[str, Proton]:
    """The active proton of each workload that has one, by workload id."""
    if not workload_ids:
        return {}
    rows = session.scalars(
        select(Proton).where(Proton.workload_id.in_(workload_ids), Proton.role == "active")
    )
    return {p.workload_id: p for p in rows}


def serving_counts(session: Session, proton_ids: list[str]) -> dict[tuple[str, str], int]:
    """Ready replicas that take traffic (not draining), by (proton id, group)."""
    if not proton_ids:
        return {}
    rows = session.execute(
        select(Replica.proton_id, Replica.group_name, func.count())
        .where(
            Replica.proton_id.in_(proton_ids),
            Replica.ready.is_(True),
            Replica.draining_since.is_(None),
        )
        .group_by(Replica.proton_id, Replica.group_name)
    )
    return {(proton_id, group): count for proton_id, group, count in rows}


def replacements_page(
    session: Session, workload_id: str, *, offset: int, limit: int
) -> tuple[list[Replacement], int]:
    """A workload's replacements, newest first, and how many there are."""
    condition = Replacement.workload_id == workload_id
    total = session.scalar(select(func.count()).select_from(Replacement).where(condition))
    rows = session.scalars(
        select(Replacement)
        .where(condition)
        .order_by(Replacement.created_at.desc(), Replacement.id.desc())
        .offset(offset)
        .limit(limit)
    )
    return list(rows), int(total or 0)

"""The status choke point: every status change and every event is written here."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from dockyard.server.kit.clock import utcnow
from dockyard.server.workloads.models import Proton, Workload, WorkloadEvent
from dockyard.server.workloads.statuses import (
    EXPLAINED,
    FINISHED,
    ErrorReason,
    Failure,
    Status,
    check_transition,
)


def record_event(
    session: Session,
    workload_id: str,
    event_type: str,
    details: dict[str, Any] | None = None,
    *,
    actor_id: str | None = None,
) -> WorkloadEvent:
    event = WorkloadEvent(
        workload_id=workload_id,
        event_type=event_type,
        details=details or {},
        actor_id=actor_id,
        timestamp=utcnow(),
    )
    session.add(event)
    return event


def set_status(
    session: Session,
    workload: Workload,
    new: Status,
    *,
    reason: str | None = None,
    actor_id: str | None = None,
    failure: Failure | None = None,
    exit_code: int | None = None,
) -> bool:
    """Move a workload to `new` if the table allows it; False when it already was there.

    `reason` says why in the event; `failure` is what an errored workload (or a failed task)
    shows in its `statusDetails` until it leaves that status (then both are cleared here).
    `exit_code` is a finished task's (None when Dockyard killed it); any other status clears
    it. A task's end is also an event of its own, `succeeded` or `failed`."""
    current = Status(workload.status)
    if current == new:
        return False
    check_transition(current, new)
    workload.status = new.value
    workload.status_changed_at = utcnow()
    details: dict[str, Any] = {"from": current.value, "to": new.value}
    if new in EXPLAINED:
        failure = failure or Failure(ErrorReason.START_FAILED, reason or "The workload failed.")
        workload.status_reason = failure.reason.value
        workload.status_message = failure.message
        details["code"] = failure.reason.value
        reason = reason or failure.message
    else:
        workload.status_reason = workload.status_message = None
    workload.exit_code = exit_code if new in FINISHED else None
    if reason:
        details["reason"] = reason
    record_event(session, workload.id, "status_changed", details, actor_id=actor_id)
    if new in FINISHED:
        ended: dict[str, Any] = {"exitCode": exit_code}
        if failure is not None and new == Status.FAILED:
            ended.update(code=failure.reason.value, reason=failure.message)
        record_event(session, workload.id, new.value, ended, actor_id=actor_id)
    return True


def set_proton_status(proton: Proton, new: Status, now: datetime | None = None) -> bool:
    """Protons follow the same table; their changes show through the workload's events.

    `now` is the reconciler's clock when a pass moves it: its `running_since` times the
    warm-up, which the pass measures with that clock (the wall clock runs on while a pass
    works)."""
    current = Status(proton.status)
    if current == new:
        return False
    check_transition(current, new)
    proton.status = new.value
    if new in (Status.RUNNING, Status.WARMING) and proton.running_since is None:
        proton.running_since = now or utcnow()
    elif new != Status.RUNNING and new not in (Status.WARMING, Status.DRAINING):
        proton.running_since = None
    return True

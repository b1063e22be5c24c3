"""Replacement, runtime settings rollouts, promote and history of a workload."""

from __future__ import annotations

from sqlalchemy.orm import Session

from dockyard.core.errors import BadRequest, Conflict, NotFound, RuleViolation
from dockyard.core.models import UserData
from dockyard.core.spec import ServiceArtifactSpec, stored_spec
from dockyard.core.workloads import (
    Replacement as ReplacementOut,
)
from dockyard.core.workloads import (
    ReplacementConfig,
    WorkloadRuntime,
)
from dockyard.core.workloads import Workload as WorkloadOut
from dockyard.server.artifacts import service as artifacts
from dockyard.server.artifacts.models import Artifact
from dockyard.server.artifacts.public import creators
from dockyard.server.artifacts.schemas import ArtifactUpdate
from dockyard.server.kit.after_commit import on_commit
from dockyard.server.kit.auth import Principal
from dockyard.server.kit.clock import isoformat, utcnow
from dockyard.server.kit.pagination import PageParams
from dockyard.server.kit.repository import find
from dockyard.server.platform import Platform
from dockyard.server.sharing.roles import Right
from dockyard.server.workloads import repository, stats
from dockyard.server.workloads.lifecycle import record_event
from dockyard.server.workloads.models import Proton, Replacement, Workload
from dockyard.server.workloads.runtime_rules import check_runtime
from dockyard.server.workloads.schemas import ReplacementCreate, SettingsUpdate
from dockyard.server.workloads.service import (
    publish_one,
    refuse_if_draft_busy,
    require,
)
from dockyard.server.workloads.statuses import INACTIVE, Status


def start_replacement(
    session: Session,
    principal: Principal,
    workload_id: str,
    body: ReplacementCreate,
    platform: Platform,
) -> ReplacementOut:
    row = require(session, principal, workload_id, Right.UPDATE, for_update=True)
    candidate = artifacts.require_runnable(session, principal, body.artifact_id)
    # The candidate runs for the workload's creator, with their credentials only: one it
    # names that they may not use would start without its secret, so it is refused here.
    artifacts.check_runnable(
        session,
        principal,
        candidate,
        runner=repository.runner_of(session, row.id) or ("", False),
        loc=["body", "artifactId", "spec"],
    )
    _refuse_for_tasks(session, row, candidate)
    current = find(session, Artifact, row.artifact_id) if row.artifact_id else None
    if current is not None and current.status != candidate.status:
        raise BadRequest(
            f"Artifact status mismatch: the workload runs a {current.status} artifact and "
            f"'{candidate.name}' is {candidate.status}. Replace draft with draft and locked "
            "with locked (promote turns a draft workload into a locked one).",
            code="artifact_status_mismatch",
        )
    if candidate.status == "locked" and current is not None and candidate.id == current.id:
        raise RuleViolation(
            "The workload already runs this locked artifact; change the runtime with "
            "PATCH /settings instead.",
            code="same_artifact",
        )
    if candidate.status != "locked":
        refuse_if_draft_busy(session, principal, candidate, excluding=row.id)
    runtime = body.runtime or WorkloadRuntime.model_validate(row.runtime or {})
    kind = "rollback" if _is_rollback(current, candidate) else "replacement"
    replacement = _begin(session, principal, row, candidate, runtime, body.config, kind, platform)
    return publish_replacement(session, replacement)


def update_settings(
    session: Session,
    principal: Principal,
    workload_id: str,
    body: SettingsUpdate,
    platform: Platform,
) -> ReplacementOut:
    """A new runtime rolls out like a replacement onto the same artifact (a task's applies to
    its next run)."""
    row = require(session, principal, workload_id, Right.UPDATE, for_update=True)
    artifact = artifacts.load(session, row.artifact_id or "")
    if _runs_task(session, row):
        return _settle_task_settings(session, principal, row, artifact, body, platform)
    replacement = _begin(
        session, principal, row, artifact, body.runtime, ReplacementConfig(), "settings", platform
    )
    record_event(
        session,
        row.id,
        "settings_changed",
        {"runtime": body.runtime.model_dump(by_alias=True, exclude_none=True)},
        actor_id=principal.user_id,
    )
    return publish_replacement(session, replacement)


def get_replacement(session: Session, principal: Principal, workload_id: str) -> ReplacementOut:
    require(session, principal, workload_id, Right.VIEW)
    found = repository.open_replacement(session, workload_id)
    if found is None:
        raise NotFound(
            "There is no active replacement for this workload.", code="replacement_not_found"
        )
    return publish_replacement(session, found)


def cancel_replacement(
    session: Session, principal: Principal, workload_id: str, platform: Platform
) -> ReplacementOut:
    row = require(session, principal, workload_id, Right.UPDATE, for_update=True)
    found = repository.open_replacement(session, workload_id)
    if found is None:
        raise NotFound(
            "There is no active replacement for this workload.", code="replacement_not_found"
        )
    if found.switched_at is not None:
        raise Conflict(
            "Traffic has already switched to the new version; roll back with a new "
            "replacement onto the earlier version instead.",
            code="replacement_switched",
        )
    found.status = "canceled"
    found.finished_at = utcnow()
    candidate = (
        find(session, Proton, found.candidate_proton_id) if found.candidate_proton_id else None
    )
    if candidate is not None:
        candidate.role = "retired"  # its runtime objects are garbage-collected
    record_event(
        session,
        row.id,
        "replacement_canceled",
        {"replacementId": found.id},
        actor_id=principal.user_id,
    )
    on_commit(session, lambda: platform.nudge(row.id))
    return publish_replacement(session, found)


def promote(
    session: Session, principal: Principal, workload_id: str, platform: Platform
) -> WorkloadOut:
    """Lock the draft the workload runs, in place: same id, endpoint and sharing, no restart."""
    row = require(session, principal, workload_id, Right.UPDATE, for_update=True)
    artifact = artifacts.load(session, row.artifact_id or "")
    if artifact.status == "locked":
        raise RuleViolation(
            "The workload already runs a locked artifact.", code="artifact_not_draft"
        )
    if Status(row.status) in INACTIVE or row.desired_state != "running":
        raise RuleViolation(
            "Only a running workload can be promoted; start it first.", code="promote_not_allowed"
        )
    if repository.open_replacement(session, row.id) is not None:
        raise RuleViolation(
            "A replacement is in progress; promote once it has finished.",
            code="promote_not_allowed",
        )
    artifacts.update_artifact(
        session, principal, artifact.id, ArtifactUpdate(status="locked"), platform.settings
    )
    row.expires_at = None
    stats.forget_stats(session, row.id)  # the production record starts at the promote
    now = utcnow()
    session.add(
        Replacement(
            workload_id=row.id,
            kind="promote",
            status="completed",
            candidate_artifact_id=artifact.id,
            previous_artifact_id=artifact.id,
            user_id=principal.user_id,
            runtime=dict(row.runtime or {}),
            switched_at=now,
            finished_at=now,
        )
    )
    record_event(
        session,
        row.id,
        "promoted",
        {"artifactId": artifact.id, "version": artifact.version},
        actor_id=principal.user_id,
    )
    session.flush()
    return publish_one(session, principal, row, platform)


def history(
    session: Session, principal: Principal, workload_id: str, paging: PageParams
) -> tuple[list[ReplacementOut], int]:
    require(session, principal, workload_id, Right.VIEW)
    rows, total = repository.replacements_page(
        session, workload_id, offset=paging.offset, limit=paging.limit
    )
    return publish_replacements(session, rows), total


# --- helpers ---------------------------------------------------------------------------------


def _runs_task(session: Session, row: Workload) -> bool:
    active = repository.active_proton(session, row.id)
    return active is not None and active.task


def _refuse_for_tasks(session: Session, row: Workload, candidate: Artifact) -> None:
    """A task runs once: there is no traffic to move, so nothing to replace it or with it."""
    if _runs_task(session, row) or stored_spec(candidate.spec).is_task:
        raise RuleViolation(
            "Replacement is not for tasks (a primary container without a port): a task runs "
            "once; create a new workload, or start this one again.",
            code="not_for_tasks",
        )


def _settle_task_settings(
    session: Session,
    principal: Principal,
    row: Workload,
    artifact: Artifact,
    body: SettingsUpdate,
    platform: Platform,
) -> ReplacementOut:
    """A task's new runtime is kept for its next run (`start`); nothing running changes.
    Recorded as a settings change that completed at once, as promote is."""
    runtime = check_runtime(
        body.runtime, ServiceArtifactSpec.model_validate(artifact.spec), ["body", "runtime"]
    )
    platform.check_can_start(principal, artifact.spec)
    row.runtime = runtime.model_dump(by_alias=True, exclude_none=True)
    now = utcnow()
    done = Replacement(
        workload_id=row.id,
        kind="settings",
        status="completed",
        candidate_artifact_id=artifact.id,
        previous_artifact_id=artifact.id,
        user_id=principal.user_id,
        runtime=dict(row.runtime),
        message="a task's settings apply to its next run",
        switched_at=now,
        finished_at=now,
    )
    session.add(done)
    session.flush()
    record_event(
        session, row.id, "settings_changed", {"runtime": row.runtime}, actor_id=principal.user_id
    )
    return publish_replacement(session, done)


def _begin(
    session: Session,
    principal: Principal,
    row: Workload,
    candidate: Artifact,
    runtime: WorkloadRuntime,
    config: ReplacementConfig,
    kind: str,
    platform: Platform,
) -> Replacement:
    if repository.open_replacement(session, row.id) is not None:
        raise Conflict(
            "A replacement is already in progress for this workload; wait for it or cancel it.",
            code="replacement_in_progress",
        )
    if Status(row.status) in INACTIVE or row.desired_state != "running":
        raise Conflict(
            "The workload is not running; start it (it starts on its current artifact) before "
            "rolling out a new version.",
            code="workload_not_running",
        )
    runtime = check_runtime(
        runtime,
        ServiceArtifactSpec.model_validate(candidate.spec),
        ["body", "runtime"],
        max_replicas=platform.settings.max_replicas,
    )
    platform.check_can_start(principal, candidate.spec, runtime)
    active = repository.active_proton(session, row.id)
    proton = Proton(
        workload_id=row.id,
        artifact_id=candidate.id,
        role="candidate",
        status=Status.SUBMITTED.value,
        spec=dict(candidate.spec),
        runtime=runtime.model_dump(by_alias=True, exclude_none=True),
    )
    repository.add(session, proton)
    replacement = Replacement(
        workload_id=row.id,
        kind=kind,
        status="submitted",
        candidate_artifact_id=candidate.id,
        previous_artifact_id=row.artifact_id,
        candidate_proton_id=proton.id,
        previous_proton_id=active.id if active else None,
        config=config.model_dump(by_alias=True),
        runtime=proton.runtime,
        user_id=principal.user_id,
    )
    session.add(replacement)
    session.flush()
    record_event(
        session,
        row.id,
        "replacement_started",
        {"replacementId": replacement.id, "artifactId": candidate.id, "kind": kind},
        actor_id=principal.user_id,
    )
    on_commit(session, lambda: platform.nudge(row.id))
    return replacement


def _is_rollback(current: Artifact | None, candidate: Artifact) -> bool:
    return (
        current is not None
        and candidate.status == "locked"
        and current.status == "locked"
        and candidate.repository_id == current.repository_id
        and (candidate.version or 0) < (current.version or 0)
    )


def publish_replacements(session: Session, rows: list[Replacement]) -> list[ReplacementOut]:
    """Replacements with their `creator` (who started each), people read in one query."""
    people = creators(session, {row.user_id for row in rows})
    return [_public(row, people.get(row.user_id or "")) for row in rows]


def publish_replacement(session: Session, row: Replacement) -> ReplacementOut:
    return publish_replacements(session, [row])[0]


def _public(row: Replacement, creator: UserData | None) -> ReplacementOut:
    return ReplacementOut(
        id=row.id,
        name=f"{row.kind}-{row.id[-8:]}",
        kind=row.kind,
        workload_id=row.workload_id,
        candidate_artifact_id=row.candidate_artifact_id,
        previous_artifact_id=row.previous_artifact_id,
        user_id=row.user_id,
        candidate_proton_ids=[row.candidate_proton_id] if row.candidate_proton_id else [],
        previous_proton_ids=[row.previous_proton_id] if row.previous_proton_id else None,
        config=ReplacementConfig.model_validate(row.config or {}),
        runtime=WorkloadRuntime.model_validate(row.runtime or {}),
        status=row.status,
        strategy=row.strategy,
        message=row.message,
        switched_at=isoformat(row.switched_at),
        creator=creator,
        created_at=isoformat(row.created_at) or "",
        updated_at=isoformat(row.updated_at) or "",
    )

"""Workload rules: create, edit, start, stop, delete, and who may do each."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from dockyard.core.errors import Conflict
from dockyard.core.spec import ServiceArtifactSpec, stored_spec
from dockyard.core.workloads import Workload as WorkloadOut
from dockyard.core.workloads import WorkloadOperation, WorkloadRuntime, WorkloadSettings
from dockyard.server.artifacts import service as artifacts
from dockyard.server.artifacts.models import Artifact
from dockyard.server.kit.after_commit import on_commit
from dockyard.server.kit.auth import Principal
from dockyard.server.kit.clock import utcnow
from dockyard.server.kit.repository import find, load_or_404
from dockyard.server.platform import Platform
from dockyard.server.settings import Settings
from dockyard.server.sharing import service as sharing
from dockyard.server.sharing.roles import Right
from dockyard.server.sharing.service import Target
from dockyard.server.tags import service as tags
from dockyard.server.workloads import repository, usage
from dockyard.server.workloads.lifecycle import record_event, set_status
from dockyard.server.workloads.models import Proton, Workload
from dockyard.server.workloads.public import WORKLOAD, publish, workload_target
from dockyard.server.workloads.runtime_rules import check_runtime
from dockyard.server.workloads.schemas import WorkloadCreate, WorkloadUpdate
from dockyard.server.workloads.statuses import FINISHED, INACTIVE, STARTING, Status

# --- access ----------------------------------------------------------------------------------


def load(session: Session, workload_id: str, *, for_update: bool = False) -> Workload:
    return load_or_404(session, Workload, WORKLOAD, workload_id, for_update=for_update)


def require(
    session: Session, principal: Principal, workload_id: str, right: Right, *, for_update=False
) -> Workload:
    row = load(session, workload_id, for_update=for_update)
    sharing.require(session, principal, workload_target(row.id), right)
    return row


def resolve_target(session: Session, workload_id: str) -> Target:
    return workload_target(load(session, workload_id).id)


def publish_one(
    session: Session, principal: Principal, row: Workload, platform: Platform
) -> WorkloadOut:
    return publish(session, principal, [row], platform.base_url)[0]


# --- create and edit -------------------------------------------------------------------------


def get_workload(
    session: Session, principal: Principal, workload_id: str, platform: Platform
) -> WorkloadOut:
    row = require(session, principal, workload_id, Right.VIEW)
    return publish_one(session, principal, row, platform)


def get_workload_and_proton(
    session: Session, principal: Principal, workload_id: str, platform: Platform
) -> tuple[WorkloadOut, Proton | None]:
    """One workload and its active proton (whose output its `statusDetails.logTail` shows)."""
    out = get_workload(session, principal, workload_id, platform)
    # Loaded by `publish` already: the identity map answers without a query.
    return out, find(session, Proton, out.proton_id) if out.proton_id else None


def create_workload(
    session: Session, principal: Principal, body: WorkloadCreate, platform: Platform
) -> WorkloadOut:
    if body.artifact is not None:
        created = artifacts.create_artifact(
            session,
            principal,
            body.artifact,
            platform.settings,
            spec_loc=["body", "artifact", "spec"],
        )
        artifact = artifacts.load(session, created.id)
    else:
        artifact = artifacts.require_runnable(session, principal, body.artifact_id or "")
        artifacts.check_runnable(
            session,
            principal,
            artifact,
            runner=(principal.user_id, principal.is_admin),
            loc=["body", "artifactId", "spec"],
        )
    runtime = check_runtime(
        body.runtime,
        ServiceArtifactSpec.model_validate(artifact.spec),
        ["body", "runtime"],
        max_replicas=platform.settings.max_replicas,
    )
    platform.check_can_start(principal, artifact.spec, runtime)
    if artifact.status != "locked":
        refuse_if_draft_busy(session, principal, artifact, excluding=None)
    now = utcnow()
    row = Workload(
        name=body.name or artifact.name,
        description=body.description,
        importance=body.importance,
        type=artifact.type,
        artifact_id=artifact.id,
        desired_state="running",
        status=Status.SUBMITTED.value,
        runtime=runtime.model_dump(by_alias=True, exclude_none=True),
        use_case_id=body.use_case_id,
        last_started_at=now,
        expires_at=_expiry(artifact, platform.settings, now),
        creator_id=principal.user_id,
    )
    repository.add(session, row)
    _new_proton(session, row, artifact)
    sharing.grant_owner(session, WORKLOAD, row.id, principal.user_id)
    if body.tags:
        tags.set_tags(session, WORKLOAD, row.id, body.tags)
    record_event(
        session, row.id, "created", {"artifactId": artifact.id}, actor_id=principal.user_id
    )
    on_commit(session, lambda: platform.nudge(row.id))
    return publish_one(session, principal, row, platform)


def update_workload(
    session: Session,
    principal: Principal,
    workload_id: str,
    body: WorkloadUpdate,
    platform: Platform,
) -> WorkloadOut:
    row = require(session, principal, workload_id, Right.UPDATE)
    changed = body.model_dump(exclude_unset=True, exclude={"tags"})
    for field, value in changed.items():
        if value is not None:
            setattr(row, field, value)
    if body.tags is not None:
        tags.set_tags(session, WORKLOAD, row.id, body.tags)
    row.updated_at = utcnow()
    record_event(
        session,
        row.id,
        "updated",
        {"fields": sorted(body.model_fields_set)},
        actor_id=principal.user_id,
    )
    session.flush()
    return publish_one(session, principal, row, platform)


def get_settings(session: Session, principal: Principal, workload_id: str) -> WorkloadSettings:
    row = require(session, principal, workload_id, Right.VIEW)
    return WorkloadSettings(runtime=WorkloadRuntime.model_validate(row.runtime or {}))


# --- lifecycle -------------------------------------------------------------------------------


def start_workload(
    session: Session, principal: Principal, workload_id: str, platform: Platform
) -> WorkloadOperation:
    row = require(session, principal, workload_id, Right.UPDATE, for_update=True)
    status = Status(row.status)
    if status == Status.TERMINATED:
        raise Conflict(
            "This workload has been terminated and cannot start again.", code="workload_terminated"
        )
    if status == Status.STOPPING:
        raise Conflict(
            "The workload is still stopping; start it once it has stopped.",
            code="workload_transitioning",
        )
    if status in INACTIVE:
        artifact = artifacts.load(session, row.artifact_id or "")
        platform.check_can_start(
            principal, artifact.spec, WorkloadRuntime.model_validate(row.runtime or {})
        )
        if artifact.status != "locked":
            refuse_if_draft_busy(session, principal, artifact, excluding=row.id)
        _retire_protons(session, row.id)
        _new_proton(session, row, artifact)
        now = utcnow()
        row.desired_state = "running"
        row.generation += 1
        row.last_started_at = now
        row.expires_at = _expiry(artifact, platform.settings, now)
        set_status(session, row, Status.SUBMITTED, reason="started", actor_id=principal.user_id)
        record_event(session, row.id, "started", {}, actor_id=principal.user_id)
        on_commit(session, lambda: platform.nudge(row.id))
        return _operation(row, "Workload is starting.", platform)
    # A no-op 202, like the stop of a stopped workload: say that nothing changed.
    if status in STARTING:
        return _operation(row, "Workload is already starting.", platform)
    return _operation(row, "Workload is already running.", platform)


def stop_workload(
    session: Session, principal: Principal, workload_id: str, platform: Platform
) -> WorkloadOperation:
    row = require(session, principal, workload_id, Right.UPDATE, for_update=True)
    status = Status(row.status)
    if status == Status.TERMINATED:
        raise Conflict("This workload has been terminated.", code="workload_terminated")
    if status in FINISHED:
        # Nothing runs any more, and clients read `stopped` as a failure: the task keeps the
        # status it ended with.
        return _operation(row, f"The task has already finished ({status}).", platform)
    if status != Status.STOPPED and row.desired_state != "stopped" or status == Status.ERRORED:
        row.desired_state = "stopped"
        row.generation += 1
        if status not in (Status.STOPPING, Status.STOPPED):
            set_status(
                session, row, Status.STOPPING, reason="stop requested", actor_id=principal.user_id
            )
        record_event(session, row.id, "stopped", {}, actor_id=principal.user_id)
        on_commit(session, lambda: platform.nudge(row.id))
        return _operation(row, "Workload is stopping.", platform)
    # Still the 202 of a successful stop (clients rely on that), but saying nothing changed.
    if status == Status.STOPPED:
        return _operation(row, "Workload is already stopped.", platform)
    return _operation(row, "Workload is already stopping.", platform)


def delete_workload(
    session: Session, principal: Principal, workload_id: str, platform: Platform
) -> None:
    """Removes the record; the reconciler removes the runtime objects it leaves (by label)."""
    row = require(session, principal, workload_id, Right.OWN, for_update=True)
    serving = usage.usage(session, row.id)
    if serving:
        # The workload's owners own the deployments in front of it, so nothing is hidden
        # from them here; the filter keeps that true for anyone else who gets this far.
        shown, hidden = sharing.visible_blockers(session, principal, serving)
        raise Conflict(
            f"A deployment serves (or is switching to) this workload{sharing.hidden_note(hidden)}"
            "; point the deployment at another workload or delete it first.",
            code="workload_in_use",
            blockers=shown,
        )
    sharing.forget_object(session, WORKLOAD, [row.id])
    tags.forget_tags(session, WORKLOAD, [row.id])
    repository.delete_workload(session, row)
    on_commit(session, lambda: platform.nudge(workload_id))


# --- helpers ---------------------------------------------------------------------------------


def refuse_if_draft_busy(
    session: Session, principal: Principal, artifact: Artifact, *, excluding: str | None
) -> None:
    """409 when another active workload runs the draft (a draft backs one at a time)."""
    busy = repository.active_on_artifact(session, artifact.id, excluding=excluding)
    if busy:
        shown, hidden = sharing.visible_blockers(
            session, principal, [(workload_target(w.id), w.name) for w in busy]
        )
        raise Conflict(
            f"The draft artifact '{artifact.name}' already backs an active workload"
            f"{sharing.hidden_note(hidden)}; stop it first or lock the artifact (locked "
            "artifacts back any number of workloads).",
            code="draft_artifact_in_use",
            blockers=shown,
        )


def _new_proton(session: Session, row: Workload, artifact: Artifact) -> Proton:
    # A snapshot: edits to a draft reach the containers at the next start, not before.
    proton = Proton(
        workload_id=row.id,
        artifact_id=artifact.id,
        role="active",
        status=Status.SUBMITTED.value,
        spec=dict(artifact.spec),
        runtime=dict(row.runtime or {}),
        task=stored_spec(artifact.spec).is_task,
    )
    repository.add(session, proton)
    return proton


def _retire_protons(session: Session, workload_id: str) -> None:
    for proton in repository.protons_of(session, workload_id):
        if proton.role != "retired":
            proton.role = "retired"
    session.flush()


def _expiry(artifact: Artifact, settings: Settings, now: datetime) -> datetime | None:
    if artifact.status == "locked":
        return None
    return now + timedelta(seconds=settings.draft_ttl_seconds)


def _operation(row: Workload, message: str, platform: Platform) -> WorkloadOperation:
    return WorkloadOperation(
        status=message,
        workload_id=row.id,
        track_via=f"{platform.base_url}/api/v2/workloads/{row.id}",
    )

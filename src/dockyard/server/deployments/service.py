"""Deployment rules: a governed endpoint on locked workloads, every action audited."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from dockyard.core.deployments import AuditEntry
from dockyard.core.deployments import Deployment as DeploymentOut
from dockyard.core.errors import Conflict
from dockyard.core.models import UserData
from dockyard.server.artifacts.models import Artifact
from dockyard.server.artifacts.public import creators
from dockyard.server.deployments import audit, repository
from dockyard.server.deployments.models import Deployment, DeploymentAuditEntry
from dockyard.server.deployments.public import (
    DEPLOYMENT,
    audit_body,
    deployment_target,
    publish,
)
from dockyard.server.deployments.schemas import DeploymentCreate, DeploymentUpdate
from dockyard.server.kit.auth import Principal
from dockyard.server.kit.clock import utcnow
from dockyard.server.kit.pagination import PageParams
from dockyard.server.kit.repository import find, load_or_404
from dockyard.server.platform import Platform
from dockyard.server.sharing import service as sharing
from dockyard.server.sharing.roles import Right
from dockyard.server.sharing.service import Target
from dockyard.server.tags import service as tags
from dockyard.server.workloads import repository as workload_rows
from dockyard.server.workloads import service as workloads
from dockyard.server.workloads.models import Workload
from dockyard.server.workloads.public import workload_target
from dockyard.server.workloads.statuses import Status

# --- access ----------------------------------------------------------------------------------


def load(session: Session, deployment_id: str, *, for_update: bool = False) -> Deployment:
    return load_or_404(
        session, Deployment, DEPLOYMENT, deployment_id, for_update=for_update, where=repository.LIVE
    )


def require(
    session: Session, principal: Principal, deployment_id: str, right: Right, *, for_update=False
) -> Deployment:
    row = load(session, deployment_id, for_update=for_update)
    sharing.require(session, principal, deployment_target(row), right)
    return row


def resolve_target(session: Session, deployment_id: str) -> Target:
    return deployment_target(load(session, deployment_id))


def get_deployment(
    session: Session, principal: Principal, deployment_id: str, platform: Platform
) -> DeploymentOut:
    row = require(session, principal, deployment_id, Right.VIEW)
    return publish(session, principal, [row], platform.base_url)[0]


# --- writing ---------------------------------------------------------------------------------


def create_deployment(
    session: Session, principal: Principal, body: DeploymentCreate, platform: Platform
) -> DeploymentOut:
    workload = _servable_workload(session, principal, body.workload_id)
    row = Deployment(
        name=body.name or workload.name,
        description=body.description,
        workload_id=workload.id,
        creator_id=principal.user_id,
    )
    repository.add(session, row)
    sharing.grant_owner(session, DEPLOYMENT, row.id, principal.user_id)
    if body.tags:
        tags.set_tags(session, DEPLOYMENT, row.id, body.tags)
    _audit(session, row, "create", principal, None, platform)
    return publish(session, principal, [row], platform.base_url)[0]


def update_deployment(
    session: Session,
    principal: Principal,
    deployment_id: str,
    body: DeploymentUpdate,
    platform: Platform,
) -> DeploymentOut:
    row = require(session, principal, deployment_id, Right.UPDATE, for_update=True)
    before = audit_body(session, row, platform.base_url)
    if body.name is not None:
        row.name = body.name
    if body.description is not None:
        row.description = body.description
    if body.tags is not None:
        tags.set_tags(session, DEPLOYMENT, row.id, body.tags)
    row.updated_at = utcnow()
    if {"name", "description", "tags"} & body.model_fields_set:
        _audit(session, row, "update", principal, before, platform)
    if body.workload_id is not None and body.workload_id != row.workload_id:
        target = _servable_workload(session, principal, body.workload_id)
        before = audit_body(session, row, platform.base_url)
        # A newer request replaces a pending one; traffic moves only once it is running.
        row.pending_workload_id = target.id
        _audit(session, row, "switch_requested", principal, before, platform)
        if target.status == "running":
            _switch(session, platform.audit_seal, row, principal.user_id, platform.base_url)
    elif body.workload_id is not None and row.pending_workload_id is not None:
        before = audit_body(session, row, platform.base_url)
        row.pending_workload_id = None  # asked to stay on the current one: drop the switch
        _audit(session, row, "switch_canceled", principal, before, platform)
    session.flush()
    return publish(session, principal, [row], platform.base_url)[0]


def stop_deployment(
    session: Session, principal: Principal, deployment_id: str, platform: Platform
) -> DeploymentOut:
    row = _require_workload_control(session, principal, deployment_id)
    others = [d for d in repository.naming_workload(session, row.workload_id) if d.id != row.id]
    if others:
        shown, hidden = sharing.visible_blockers(
            session, principal, [(deployment_target(d), d.name) for d in others]
        )
        raise Conflict(
            "The workload behind this deployment also serves other deployments"
            f"{sharing.hidden_note(hidden)}; stopping it would stop them too.",
            code="workload_shared",
            blockers=shown,
        )
    before = audit_body(session, row, platform.base_url)
    workloads.stop_workload(session, principal, row.workload_id, platform)
    session.flush()
    _audit(session, row, "stop", principal, before, platform)
    return publish(session, principal, [row], platform.base_url)[0]


def start_deployment(
    session: Session, principal: Principal, deployment_id: str, platform: Platform
) -> DeploymentOut:
    row = _require_workload_control(session, principal, deployment_id)
    before = audit_body(session, row, platform.base_url)
    workloads.start_workload(session, principal, row.workload_id, platform)
    session.flush()
    _audit(session, row, "start", principal, before, platform)
    return publish(session, principal, [row], platform.base_url)[0]


def delete_deployment(
    session: Session, principal: Principal, deployment_id: str, platform: Platform
) -> None:
    """The deployment goes (not its workload); its audit log stays readable by admins."""
    row = require(session, principal, deployment_id, Right.OWN, for_update=True)
    before = audit_body(session, row, platform.base_url)
    row.deleted_at = utcnow()
    row.pending_workload_id = None
    _audit(session, row, "delete", principal, before, platform, after_body=False)
    sharing.forget_object(session, DEPLOYMENT, [row.id])
    tags.forget_tags(session, DEPLOYMENT, [row.id])


def audit_log(
    session: Session,
    principal: Principal,
    deployment_id: str,
    paging: PageParams,
    platform: Platform,
) -> tuple[list[AuditEntry], int, bool]:
    live = () if principal.is_admin else repository.LIVE
    row = load_or_404(session, Deployment, DEPLOYMENT, deployment_id, where=live)
    if row.deleted_at is None:
        sharing.require(session, principal, deployment_target(row), Right.VIEW)
    rows, total = repository.audit_entries(
        session, row.id, offset=paging.offset, limit=paging.limit
    )
    people = creators(session, {e.actor_id for e in rows})
    verified = audit.verify(session, platform.audit_seal, row)
    return [_entry(e, people) for e in rows], total, verified


def record_sharing_change(
    session: Session, principal: Principal, deployment_id: str, platform: Platform
) -> None:
    # The row lock orders this entry after any other change's to the same deployment: two
    # writers reading the same last entry would both take its next sequence number.
    row = load(session, deployment_id, for_update=True)
    _audit(session, row, "share", principal, None, platform)


# --- switching (also driven by the reconciler) ---------------------------------------------


def advance_switches(session: Session, seal: audit.AuditSeal, base_url: str) -> list[str]:
    """Complete pending switches whose workload runs; drop those whose workload failed."""
    changed = []
    for row in repository.with_pending_switch(session):
        pending = find(session, Workload, row.pending_workload_id)
        if pending is not None and pending.status == "running":
            _switch(session, seal, row, None, base_url)
            changed.append(row.id)
        elif pending is None or pending.status in ("errored", "terminated"):
            before = audit_body(session, row, base_url)
            row.pending_workload_id = None
            audit.append(
                session,
                seal,
                row,
                "switch_failed",
                actor_id=None,
                before=before,
                after=audit_body(session, row, base_url),
            )
            changed.append(row.id)
    return changed


def _switch(
    session: Session, seal: audit.AuditSeal, row: Deployment, actor_id: str | None, base_url: str
) -> None:
    before = audit_body(session, row, base_url)
    row.workload_id = row.pending_workload_id or row.workload_id
    row.pending_workload_id = None
    row.updated_at = utcnow()
    session.flush()
    audit.append(
        session,
        seal,
        row,
        "switch_done",
        actor_id=actor_id,
        before=before,
        after=audit_body(session, row, base_url),
    )


# --- helpers ---------------------------------------------------------------------------------

_NOT_SERVABLE = frozenset({Status.ERRORED.value, Status.TERMINATED.value})


def _require_workload_control(
    session: Session, principal: Principal, deployment_id: str
) -> Deployment:
    """Stop and start act on the workload behind the deployment: they take the right to
    change both (403, not 404, for the workload: the deployment names it)."""
    row = require(session, principal, deployment_id, Right.UPDATE, for_update=True)
    sharing.require_related(
        session,
        principal,
        workload_target(row.workload_id),
        Right.UPDATE,
        "Stopping or starting a deployment stops or starts its workload, which you may not change.",
    )
    return row


def _servable_workload(session: Session, principal: Principal, workload_id: str) -> Workload:
    """The workload a deployment may be put in front of, by this caller.

    Exposing a workload is changing who reaches it, so it takes the right to update it:
    a viewer must not open their own door onto someone else's workload."""
    workload = workloads.require(session, principal, workload_id, Right.UPDATE)
    active = workload_rows.active_proton(session, workload.id)
    if active is not None and active.task:
        raise Conflict(
            f"The workload '{workload.name}' is a task: it runs to completion and serves no "
            "requests, so no deployment can be put in front of it.",
            code="workload_not_invokable",
        )
    if workload.status in _NOT_SERVABLE:
        raise Conflict(
            f"The workload '{workload.name}' is {workload.status}; a deployment needs a "
            "workload that is running or on its way (start it, or create a new one).",
            code="workload_not_ready",
        )
    artifact = find(session, Artifact, workload.artifact_id) if workload.artifact_id else None
    if artifact is None or artifact.status != "locked":
        raise Conflict(
            "A deployment serves only workloads on locked artifacts: lock the artifact "
            "(PATCH its status to locked) or promote the workload first.",
            code="artifact_not_locked",
        )
    return workload


def _audit(
    session: Session,
    row: Deployment,
    action: str,
    principal: Principal,
    before: dict[str, Any] | None,
    platform: Platform,
    *,
    after_body: bool = True,
) -> None:
    session.flush()
    after = audit_body(session, row, platform.base_url) if after_body else None
    audit.append(
        session,
        platform.audit_seal,
        row,
        action,
        actor_id=principal.user_id,
        before=before,
        after=after,
    )


def _entry(row: DeploymentAuditEntry, people: dict[str, UserData]) -> AuditEntry:
    # The name is looked up at read time: it is shown, never hashed.
    actor = people.get(row.actor_id) if row.actor_id else None
    return AuditEntry(
        **{**audit.entry_body(row), "hash": row.hash, "hmac": row.hmac},
        actor_name=actor.username if actor else None,
    )

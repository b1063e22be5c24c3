"""Workload rows → public models, a page at a time (tags, rights, people in one query each)."""

from __future__ import annotations

from sqlalchemy.orm import Session

from dockyard.core.models import UserData
from dockyard.core.workloads import (
    ArtifactInfo,
    ProtonStatusDetails,
    WorkloadReplacementInfo,
    WorkloadRuntime,
    WorkloadStatusDetails,
)
from dockyard.core.workloads import Proton as ProtonOut
from dockyard.core.workloads import Workload as WorkloadOut
from dockyard.core.workloads import WorkloadEvent as EventOut
from dockyard.server.artifacts.models import Artifact
from dockyard.server.artifacts.public import creators
from dockyard.server.artifacts.repository import artifacts_by_id
from dockyard.server.kit.auth import Principal
from dockyard.server.kit.clock import isoformat
from dockyard.server.sharing import service as sharing
from dockyard.server.sharing.service import Target
from dockyard.server.tags import service as tags
from dockyard.server.workloads import repository
from dockyard.server.workloads.models import Proton, Replacement, Workload, WorkloadEvent
from dockyard.server.workloads.repository import open_replacements, starters_of_candidates

WORKLOAD = "workload"  # resource type of grants and tags, and the prefix of its error codes


def workload_target(workload_id: str) -> Target:
    return Target(WORKLOAD, workload_id, WORKLOAD)


def endpoint_of(base_url: str, workload_id: str) -> str:
    return f"{base_url}/api/v2/endpoints/workloads/{workload_id}/"


def publish(
    session: Session, principal: Principal, rows: list[Workload], base_url: str
) -> list[WorkloadOut]:
    ids = [row.id for row in rows]
    tag_map = tags.tags_for(session, WORKLOAD, ids)
    levels = sharing.levels_of(session, principal, [workload_target(i) for i in ids])
    people = creators(session, {row.creator_id for row in rows})
    artifact_ids = {row.artifact_id for row in rows if row.artifact_id}
    artifacts = artifacts_by_id(session, artifact_ids)
    protons = repository.active_protons(session, ids)
    serving = repository.serving_counts(session, [p.id for p in protons.values()])
    rollouts = open_replacements(session, ids)
    out = []
    for row in rows:
        rollout = rollouts.get(row.id)
        artifact = artifacts.get(row.artifact_id or "")
        creator = people.get(row.creator_id) if row.creator_id else None
        proton = protons.get(row.id)
        out.append(
            WorkloadOut(
                id=row.id,
                name=row.name,
                description=row.description or "",
                importance=row.importance,
                status=row.status,
                type=row.type,
                artifact_id=row.artifact_id,
                artifact=_artifact_info(artifact) if artifact else None,
                proton_id=proton.id if proton else None,
                # A task serves no requests: nothing to invoke.
                endpoint=None
                if proton is not None and proton.task
                else endpoint_of(base_url, row.id),
                exit_code=row.exit_code,
                runtime=_with_counts(row, proton, serving),
                replacement=_rollout_summary(rollout) if rollout else None,
                use_case_id=row.use_case_id,
                last_response=isoformat(row.last_response_at),
                status_details=WorkloadStatusDetails(
                    # What the reconciler kept of the output when it errored; GET of one
                    # workload reads the current tail from the runtime (`logs.fill_log_tail`).
                    log_tail=proton.log_tail if proton else None,
                    reason=row.status_reason,
                    message=row.status_message,
                ),
                expires_at=isoformat(row.expires_at),
                owners=[creator] if creator else [],
                creator=creator,
                permissions=sharing.permissions(levels.get(row.id)),
                tags=tag_map.get(row.id, []),
                created_at=isoformat(row.created_at) or "",
                updated_at=isoformat(row.updated_at) or "",
            )
        )
    return out


def _with_counts(
    row: Workload, proton: Proton | None, serving: dict[tuple[str, str], int]
) -> WorkloadRuntime:
    """The workload's runtime with each group's current (ready) and desired replica counts:
    the autoscaler's count for a scaled group, replicaCount for the others, 0 when stopped."""
    runtime = WorkloadRuntime.model_validate(row.runtime or {})
    running = row.desired_state == "running" and proton is not None
    scale = (proton.scale if proton is not None else None) or {}
    for group in runtime.container_groups:
        group.current_replica_count = serving.get((proton.id, group.name), 0) if proton else 0
        desired = group.replica_count or 1
        if group.scaled():
            stored = scale.get(group.name) or {}
            lowest = group.autoscaling.lowest if group.autoscaling is not None else 1
            desired = int(stored.get("desired", max(lowest, 1)))
        group.desired_replica_count = desired if running else 0
    return runtime


def _rollout_summary(row: Replacement) -> WorkloadReplacementInfo:
    return WorkloadReplacementInfo(
        candidate_proton_ids=[row.candidate_proton_id] if row.candidate_proton_id else [],
        status=row.status,
        strategy=row.strategy,
    )


def _artifact_info(artifact: Artifact) -> ArtifactInfo:
    return ArtifactInfo(
        id=artifact.id,
        name=artifact.name,
        status="locked" if artifact.status == "locked" else "draft",
        type=artifact.type,
        version=artifact.version,
        artifact_repository_id=artifact.repository_id,
    )


def publish_protons(
    session: Session, workload: Workload, rows: list[Proton], base_url: str
) -> list[ProtonOut]:
    """A candidate proton's creator started its replacement; the others, the workload's."""
    starters = starters_of_candidates(session, [row.id for row in rows])
    made_by = {row.id: starters.get(row.id, workload.creator_id) for row in rows}
    people = creators(session, set(made_by.values()))
    return [publish_proton(row, base_url, people.get(made_by[row.id] or "")) for row in rows]


def publish_proton(proton: Proton, base_url: str, creator: UserData | None = None) -> ProtonOut:
    return ProtonOut(
        id=proton.id,
        name=f"proton-{proton.id[-8:]}",
        workload_id=proton.workload_id,
        artifact_id=proton.artifact_id,
        role=proton.role,
        status=proton.status,
        running_since=isoformat(proton.running_since),
        runtime=WorkloadRuntime.model_validate(proton.runtime or {}),
        endpoint=endpoint_of(base_url, proton.workload_id)
        if proton.role == "active" and not proton.task
        else None,
        creator=creator,
        status_details=ProtonStatusDetails(log_tail=proton.log_tail),
        created_at=isoformat(proton.created_at) or "",
        updated_at=isoformat(proton.updated_at) or "",
    )


def publish_event(event: WorkloadEvent) -> EventOut:
    return EventOut(
        id=event.id,
        workload_id=event.workload_id,
        timestamp=isoformat(event.timestamp) or "",
        event_type=event.event_type,
        actor_id=event.actor_id,
        details=event.details or {},
    )

"""Read-only views of a workload: events, protons, replica status and related objects."""

from __future__ import annotations

from typing import Literal

from sqlalchemy.orm import Session

from dockyard.core.errors import NotFound
from dockyard.core.spec import ContainerGroup, parse_stored
from dockyard.core.workloads import (
    OverallStatus,
    Proton,
    RelatedEntities,
    RelatedItem,
    ReplicaCondition,
    ReplicaContainer,
    ReplicaDetail,
    ReplicaStatusesSnapshot,
    WorkloadEvent,
)
from dockyard.server.artifact_repos.service import target_of as repository_target
from dockyard.server.artifacts.models import Artifact, ArtifactRepository
from dockyard.server.artifacts.public import artifact_target, creators
from dockyard.server.kit.auth import Principal
from dockyard.server.kit.clock import isoformat
from dockyard.server.kit.pagination import PageParams
from dockyard.server.kit.repository import find
from dockyard.server.sharing import service as sharing
from dockyard.server.sharing.roles import Right
from dockyard.server.workloads import repository
from dockyard.server.workloads.models import Replica
from dockyard.server.workloads.public import publish_event, publish_protons
from dockyard.server.workloads.service import require

PodPhase = Literal["pending", "running", "succeeded", "failed", "unknown"]
_PHASES: dict[str, PodPhase] = {
    "pending": "pending",
    "running": "running",
    "failed": "failed",
    "stopped": "succeeded",
}


def events(
    session: Session, principal: Principal, workload_id: str, paging: PageParams
) -> tuple[list[WorkloadEvent], int]:
    require(session, principal, workload_id, Right.VIEW)
    rows, total = repository.events_of(
        session, workload_id, offset=paging.offset, limit=paging.limit
    )
    return [publish_event(row) for row in rows], total


def protons(
    session: Session, principal: Principal, workload_id: str, base_url: str
) -> list[Proton]:
    workload = require(session, principal, workload_id, Right.VIEW)
    return publish_protons(session, workload, repository.protons_of(session, workload_id), base_url)


def proton(
    session: Session, principal: Principal, workload_id: str, proton_id: str, base_url: str
) -> Proton:
    workload = require(session, principal, workload_id, Right.VIEW)
    row = repository.get_proton(session, workload_id, proton_id)
    if row is None:
        raise NotFound.of("proton", proton_id)
    return publish_protons(session, workload, [row], base_url)[0]


def status_details(
    session: Session, principal: Principal, workload_id: str, proton_id: str
) -> ReplicaStatusesSnapshot | None:
    """Per-replica state as last recorded by the reconciler; None before the first record."""
    require(session, principal, workload_id, Right.VIEW)
    row = repository.get_proton(session, workload_id, proton_id)
    if row is None:
        raise NotFound.of("proton", proton_id)
    replicas = repository.replicas_of(session, row.id)
    if not replicas and not row.log_tail:
        return None
    ready = sum(1 for r in replicas if r.ready)
    summary = f"{ready}/{len(replicas)} replicas ready"
    latest = max([r.updated_at for r in replicas] + [row.updated_at])
    spec = parse_stored(row.spec)  # None: refused by today's rules, so nothing of it ran
    return ReplicaStatusesSnapshot(
        overall_status=OverallStatus(
            state=row.status, summary=summary, last_updated=isoformat(latest) or ""
        ),
        replicas=[_replica(r, spec.group(r.group_name) if spec else None) for r in replicas],
        log_tail=row.log_tail,
    )


def _replica(replica: Replica, group: ContainerGroup | None) -> ReplicaDetail:
    running = replica.phase == "running"
    address = f"{replica.host}:{replica.port}" if replica.host and replica.port else None
    return ReplicaDetail(
        name=f"{replica.group_name}-{replica.index}",
        status=_PHASES.get(replica.phase, "unknown"),
        address=address,
        node_address=replica.host,
        started_at=isoformat(replica.started_at),
        message=replica.message,
        conditions=[
            ReplicaCondition(type="Started", met=replica.started),
            ReplicaCondition(type="Ready", met=replica.ready, since=isoformat(replica.ready_since)),
        ],
        containers=[
            ReplicaContainer(
                name=c.filled_name,
                image=c.image_uri,
                ready=replica.ready,
                restart_count=replica.restart_count,
                started_at=isoformat(replica.started_at),
                status="running"
                if running
                else ("terminated" if replica.phase in ("failed", "stopped") else "waiting"),
            )
            for c in (group.containers if group is not None else [])
        ],
    )


def related(session: Session, principal: Principal, workload_id: str) -> RelatedEntities:
    row = require(session, principal, workload_id, Right.VIEW)
    items: list[RelatedItem] = []
    artifact = find(session, Artifact, row.artifact_id) if row.artifact_id else None
    if artifact is not None:
        lineage = find(session, ArtifactRepository, artifact.repository_id)
        targets = [artifact_target(artifact), repository_target(artifact.repository_id)]
        levels = sharing.levels_of(session, principal, targets)
        people = creators(session, {artifact.creator_id, lineage.creator_id if lineage else None})
        items.append(
            RelatedItem(
                id=artifact.id,
                type="artifact",
                name=artifact.name,
                created_at=isoformat(artifact.created_at),
                updated_at=isoformat(artifact.updated_at),
                creator=people.get(artifact.creator_id or ""),
                permissions=sharing.permissions(levels.get(artifact.id)),
            )
        )
        items.append(
            RelatedItem(
                id=artifact.repository_id,
                type="artifact_repository",
                name=lineage.name if lineage else None,
                created_at=isoformat(lineage.created_at) if lineage else None,
                updated_at=isoformat(lineage.updated_at) if lineage else None,
                creator=people.get(lineage.creator_id or "") if lineage else None,
                permissions=sharing.permissions(levels.get(artifact.repository_id)),
            )
        )
    for p in repository.protons_of(session, row.id):
        items.append(
            RelatedItem(
                id=p.id,
                type="proton",
                name=f"proton-{p.id[-8:]}",
                created_at=isoformat(p.created_at),
                updated_at=isoformat(p.updated_at),
            )
        )
    return RelatedEntities(count=len(items), data=items)

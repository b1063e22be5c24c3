"""Workloads (desired state), their protons (concrete runs), replicas and events."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from dockyard.core.workloads import Importance, ReplacementKind
from dockyard.server.db.base import Base, IdMixin, TimestampMixin, UTCDateTime
from dockyard.server.kit.clock import utcnow


class Workload(IdMixin, TimestampMixin, Base):
    __tablename__ = "workloads"
    __table_args__ = (
        Index("ix_workloads_created_at", "created_at"),
        Index("ix_workloads_artifact_id", "artifact_id"),
        Index("ix_workloads_status", "status"),
        # The reconciler's sweep looks for rows whose lease is free and that need attention.
        Index("ix_workloads_lease", "lock_expires_at"),
    )

    name: Mapped[str] = mapped_column(String(5000))
    description: Mapped[str] = mapped_column(Text, default="")
    importance: Mapped[Importance] = mapped_column(String(16), default="low")
    type: Mapped[str] = mapped_column(String(32), default="service")
    # Null only once a terminated workload's artifact has been deleted.
    artifact_id: Mapped[str | None] = mapped_column(ForeignKey("artifacts.id", ondelete="SET NULL"))
    # What the user asked for: "running" or "stopped". The reconciler moves actual toward it.
    desired_state: Mapped[str] = mapped_column(String(16), default="running")
    status: Mapped[str] = mapped_column(String(16), default="submitted")
    status_changed_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    # Why it is errored (statusDetails): a stable code and the cause in the engine's words.
    # Set and cleared only by `lifecycle.set_status`.
    status_reason: Mapped[str | None] = mapped_column(String(64))
    status_message: Mapped[str | None] = mapped_column(Text)
    # A finished task's exit code (null while it runs, and when Dockyard killed it). Set and
    # cleared only by `lifecycle.set_status`.
    exit_code: Mapped[int | None] = mapped_column(Integer)
    runtime: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    last_started_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_response_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    creator_id: Mapped[str | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    # The hosted platform's Use Case the workload belongs to: kept for its clients, unused here.
    use_case_id: Mapped[str | None] = mapped_column(String(64))
    # Bumped on every change of desired state so a reconcile pass knows it acted on stale data.
    generation: Mapped[int] = mapped_column(Integer, default=1)
    lock_token: Mapped[str | None] = mapped_column(String(32))
    lock_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class Proton(IdMixin, TimestampMixin, Base):
    __tablename__ = "protons"
    __table_args__ = (Index("ix_protons_workload_role", "workload_id", "role"),)

    workload_id: Mapped[str] = mapped_column(ForeignKey("workloads.id", ondelete="CASCADE"))
    artifact_id: Mapped[str | None] = mapped_column(ForeignKey("artifacts.id", ondelete="SET NULL"))
    role: Mapped[str] = mapped_column(String(16), default="active")  # active | candidate | retired
    status: Mapped[str] = mapped_column(String(16), default="submitted")
    # The artifact spec and runtime as they were when this proton was made: later edits to a
    # draft do not reach running containers until the next start or replacement.
    spec: Mapped[dict[str, Any]] = mapped_column(JSON)
    runtime: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    running_since: Mapped[datetime | None] = mapped_column(UTCDateTime())
    log_tail: Mapped[list[str] | None] = mapped_column(JSON)
    # A declared task (its primary container has no port): runs once, never restarted, and
    # counts toward DOCKYARD_MAX_RUNNING_TASKS. Fixed when the proton is made from its spec.
    task: Mapped[bool] = mapped_column(Boolean, default=False)
    # Per autoscaled group, where the autoscaler stands (`GroupScale.for_storage`): the count
    # it asks for, since when it would ask for fewer, why a wake from zero failed.
    scale: Mapped[dict[str, Any] | None] = mapped_column(JSON)


class Replica(IdMixin, TimestampMixin, Base):
    __tablename__ = "replicas"
    __table_args__ = (
        UniqueConstraint("proton_id", "group_name", "index", name="uq_replicas_slot"),
    )

    proton_id: Mapped[str] = mapped_column(ForeignKey("protons.id", ondelete="CASCADE"))
    group_name: Mapped[str] = mapped_column(String(200), default="default")
    index: Mapped[int] = mapped_column(Integer)
    phase: Mapped[str] = mapped_column(String(16), default="pending")
    handle: Mapped[str | None] = mapped_column(String(200))
    host: Mapped[str | None] = mapped_column(String(100))
    port: Mapped[int | None] = mapped_column(Integer)
    ready: Mapped[bool] = mapped_column(Boolean, default=False)
    # Was ready at least once since it was made: a replica with no probes whose primary exits
    # before that ends as a task instead of being restarted.
    ever_ready: Mapped[bool] = mapped_column(Boolean, default=False)
    started: Mapped[bool] = mapped_column(Boolean, default=False)  # startup probe passed
    restart_count: Mapped[int] = mapped_column(Integer, default=0)
    # Restarts since the replica was last ready: past the limit the workload is errored.
    failures_in_a_row: Mapped[int] = mapped_column(Integer, default=0)
    # Exponent of the restart back-off; reset once the replica stays healthy long enough.
    backoff_step: Mapped[int] = mapped_column(Integer, default=0)
    ready_since: Mapped[datetime | None] = mapped_column(UTCDateTime())
    next_restart_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    message: Mapped[str | None] = mapped_column(Text)
    # Scaled away: it gets no new requests and is removed once those in flight end.
    draining_since: Mapped[datetime | None] = mapped_column(UTCDateTime())


class WorkloadEvent(IdMixin, Base):
    __tablename__ = "workload_events"
    __table_args__ = (Index("ix_workload_events_workload_time", "workload_id", "timestamp"),)

    workload_id: Mapped[str] = mapped_column(ForeignKey("workloads.id", ondelete="CASCADE"))
    timestamp: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    event_type: Mapped[str] = mapped_column(String(40))
    actor_id: Mapped[str | None] = mapped_column(String(24))
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class Replacement(IdMixin, TimestampMixin, Base):
    """A rollout of another artifact or runtime onto a workload, and its history entry.

    `kind` says what started it: a replacement, a runtime settings change, a rollback to an
    earlier locked version, or a promote (which changes no containers and completes at once).
    """

    __tablename__ = "replacements"
    __table_args__ = (Index("ix_replacements_workload_created", "workload_id", "created_at"),)

    workload_id: Mapped[str] = mapped_column(ForeignKey("workloads.id", ondelete="CASCADE"))
    kind: Mapped[ReplacementKind] = mapped_column(String(16), default="replacement")
    status: Mapped[str] = mapped_column(String(20), default="submitted")
    strategy: Mapped[str] = mapped_column(String(16), default="rolling")
    candidate_artifact_id: Mapped[str | None] = mapped_column(String(24))
    previous_artifact_id: Mapped[str | None] = mapped_column(String(24))
    candidate_proton_id: Mapped[str | None] = mapped_column(String(24))
    previous_proton_id: Mapped[str | None] = mapped_column(String(24))
    config: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    runtime: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    message: Mapped[str | None] = mapped_column(Text)
    user_id: Mapped[str | None] = mapped_column(String(24))
    switched_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

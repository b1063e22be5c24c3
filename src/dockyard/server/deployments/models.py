"""Deployments (a stable, governed endpoint in front of a workload) and their audit chain."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from dockyard.server.db.base import Base, IdMixin, TimestampMixin, UTCDateTime

GENESIS = "0" * 64  # the `prevHash` of a chain's first entry, and the head of an empty chain


class Deployment(IdMixin, TimestampMixin, Base):
    __tablename__ = "deployments"
    __table_args__ = (
        Index("ix_deployments_created_at", "created_at"),
        Index("ix_deployments_workload", "workload_id"),
        Index("ix_deployments_pending_workload", "pending_workload_id"),
    )

    name: Mapped[str] = mapped_column(String(5000))
    description: Mapped[str] = mapped_column(Text, default="")
    # No foreign keys: a deployment outlives nothing it points at, but its audit log outlives
    # the deployment, and workloads cannot be deleted while a deployment names them.
    workload_id: Mapped[str] = mapped_column(String(24))
    pending_workload_id: Mapped[str | None] = mapped_column(String(24))
    creator_id: Mapped[str | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    # Deleted deployments stay as rows so their audit log remains readable by admins.
    deleted_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # The audit chain's head: its last entry's sequence and hash, sealed with an HMAC under the
    # server's key. Cutting entries off the end of the chain no longer matches it.
    audit_sequence: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    audit_hash: Mapped[str] = mapped_column(String(64), default=GENESIS, server_default=GENESIS)
    audit_hmac: Mapped[str | None] = mapped_column(String(64))


class DeploymentAuditEntry(IdMixin, Base):
    __tablename__ = "deployment_audit"
    __table_args__ = (
        UniqueConstraint("deployment_id", "sequence", name="uq_deployment_audit_sequence"),
    )

    deployment_id: Mapped[str] = mapped_column(String(24))
    sequence: Mapped[int] = mapped_column(Integer)
    timestamp: Mapped[str] = mapped_column(String(40))  # kept as hashed: RFC 3339, µs, Z
    actor_id: Mapped[str | None] = mapped_column(String(24))
    action: Mapped[str] = mapped_column(String(40))
    before: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    after: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))
    hmac: Mapped[str] = mapped_column(String(64))  # HMAC-SHA-256 of `hash`, server's key

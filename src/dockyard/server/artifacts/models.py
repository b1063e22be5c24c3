"""Artifacts (container specs, draft or locked at a version) and the repositories that number
their versions."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from dockyard.server.db.base import Base, IdMixin, TimestampMixin, UTCDateTime


class Artifact(IdMixin, TimestampMixin, Base):
    __tablename__ = "artifacts"
    __table_args__ = (
        # Versions are unique per repository: a second guard behind the atomic counter.
        UniqueConstraint("repository_id", "version", name="uq_artifacts_repository_version"),
        Index("ix_artifacts_created_at", "created_at"),
        Index("ix_artifacts_status_created_at", "status", "created_at"),
        Index("ix_artifacts_repository_created_at", "repository_id", "created_at"),
        Index("ix_artifacts_creator_created_at", "creator_id", "created_at"),
    )

    repository_id: Mapped[str] = mapped_column(
        ForeignKey("artifact_repositories.id", ondelete="CASCADE")
    )
    name: Mapped[str] = mapped_column(String(5000))
    description: Mapped[str] = mapped_column(Text, default="")
    type: Mapped[str] = mapped_column(String(32), default="service")
    status: Mapped[str] = mapped_column(String(16), default="draft")
    version: Mapped[int | None] = mapped_column(Integer)
    spec: Mapped[dict[str, Any]] = mapped_column(JSON)
    creator_id: Mapped[str | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    locked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


# An artifact repository: the numbered lineage of one artifact's versions.
class ArtifactRepository(IdMixin, TimestampMixin, Base):
    __tablename__ = "artifact_repositories"
    __table_args__ = (Index("ix_artifact_repositories_created_at", "created_at"),)

    name: Mapped[str] = mapped_column(String(5000))
    description: Mapped[str] = mapped_column(Text, default="")
    type: Mapped[str] = mapped_column(String(32), default="service")
    # Bumped under a row lock by every lock of an artifact in the repository; never reused.
    last_version_number: Mapped[int] = mapped_column(Integer, default=0)
    creator_id: Mapped[str | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), index=True
    )

"""Artifact repositories: the numbered lineage of one artifact's versions."""

from __future__ import annotations

from sqlalchemy import ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from dockyard.server.db.base import Base, IdMixin, TimestampMixin


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

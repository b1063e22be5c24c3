"""Grants of a role on one object to one user."""

from __future__ import annotations

from sqlalchemy import ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from dockyard.server.db.base import Base, IdMixin, TimestampMixin


class SharedRole(IdMixin, TimestampMixin, Base):
    __tablename__ = "shared_roles"
    __table_args__ = (
        UniqueConstraint("resource_type", "resource_id", "user_id", name="uq_shared_roles_grant"),
        # Visibility checks ask "which objects of this type may this user see?".
        Index("ix_shared_roles_user_type", "user_id", "resource_type", "resource_id"),
    )

    resource_type: Mapped[str] = mapped_column(String(32))
    resource_id: Mapped[str] = mapped_column(String(24))
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    role: Mapped[str] = mapped_column(String(32))

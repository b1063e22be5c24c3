"""Credentials whose secret fields are encrypted at rest."""

from __future__ import annotations

from sqlalchemy import ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from dockyard.server.db.base import Base, IdMixin, TimestampMixin


class Credential(IdMixin, TimestampMixin, Base):
    __tablename__ = "credentials"

    name: Mapped[str] = mapped_column(String(500))
    credential_type: Mapped[str] = mapped_column(String(64))
    description: Mapped[str] = mapped_column(Text, default="")
    # Fernet token of the JSON object of secret fields; never returned by the API.
    encrypted_fields: Mapped[str] = mapped_column(Text)
    owner_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)

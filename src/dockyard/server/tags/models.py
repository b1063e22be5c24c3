"""`{name, value}` tags on any taggable object, in one table so filters can use an index."""

from __future__ import annotations

from sqlalchemy import Index, String
from sqlalchemy.orm import Mapped, mapped_column

from dockyard.server.db.base import Base, IdMixin


class Tag(IdMixin, Base):
    __tablename__ = "tags"
    __table_args__ = (
        Index("ix_tags_resource", "resource_type", "resource_id"),
        Index("ix_tags_type_name", "resource_type", "name"),
        Index("ix_tags_type_value", "resource_type", "value"),
    )

    resource_type: Mapped[str] = mapped_column(String(32))
    resource_id: Mapped[str] = mapped_column(String(24))
    name: Mapped[str] = mapped_column(String(200))
    value: Mapped[str] = mapped_column(String(500))

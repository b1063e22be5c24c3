"""SQL for tags: one table shared by every taggable kind."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import ColumnElement, SQLColumnExpression, delete, select
from sqlalchemy.orm import Session

from dockyard.server.tags.models import Tag


def tags_of(session: Session, resource_type: str, resource_ids: Iterable[str]) -> list[Tag]:
    ids = list(dict.fromkeys(resource_ids))
    if not ids:
        return []
    return list(
        session.scalars(
            select(Tag)
            .where(Tag.resource_type == resource_type, Tag.resource_id.in_(ids))
            .order_by(Tag.resource_id, Tag.name, Tag.value, Tag.id)
        )
    )


def add_tags(session: Session, tags: list[Tag]) -> None:
    session.add_all(tags)


def delete_tags(session: Session, tags: list[Tag]) -> None:
    for tag in tags:
        session.delete(tag)


def delete_tags_of(session: Session, resource_type: str, resource_ids: Iterable[str]) -> None:
    ids = list(resource_ids)
    if ids:
        session.execute(
            delete(Tag).where(Tag.resource_type == resource_type, Tag.resource_id.in_(ids))
        )


def has_tag_where(
    resource_type: str, id_column: SQLColumnExpression[str | None], condition: ColumnElement[bool]
) -> ColumnElement[bool]:
    """True for rows holding at least one tag that meets `condition`."""
    # The matching tags are read once through their (type, name|value) index, rather than
    # probed per row, so a filter costs what it finds, not the size of the table.
    return id_column.in_(
        select(Tag.resource_id).where(Tag.resource_type == resource_type, condition)
    )


def name_in(names: list[str]) -> ColumnElement[bool]:
    return Tag.name.in_(names)


def value_in(values: list[str]) -> ColumnElement[bool]:
    return Tag.value.in_(values)

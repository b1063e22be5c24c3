"""Tags of any taggable kind: replace a list, load a page's tags at once, filter lists."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import ColumnElement, SQLColumnExpression, false
from sqlalchemy.orm import Session

from dockyard.core.models import TagInfo
from dockyard.server.tags import repository
from dockyard.server.tags.models import Tag
from dockyard.server.tags.schemas import TagInput


def set_tags(
    session: Session, resource_type: str, resource_id: str, tags: list[TagInput]
) -> list[TagInfo]:
    """Replace the object's tags; unchanged pairs keep their ids."""
    wanted = list(dict.fromkeys((tag.name, tag.value) for tag in tags))
    current = repository.tags_of(session, resource_type, [resource_id])
    keep = {(tag.name, tag.value): tag for tag in current if (tag.name, tag.value) in wanted}
    repository.delete_tags(session, [tag for tag in current if tag not in keep.values()])
    added = [
        Tag(resource_type=resource_type, resource_id=resource_id, name=name, value=value)
        for name, value in wanted
        if (name, value) not in keep
    ]
    repository.add_tags(session, added)
    session.flush()
    return tags_for(session, resource_type, [resource_id]).get(resource_id, [])


def tags_for(
    session: Session, resource_type: str, resource_ids: Iterable[str]
) -> dict[str, list[TagInfo]]:
    """Every object's tags in one query (for a list page)."""
    found: dict[str, list[TagInfo]] = {}
    for tag in repository.tags_of(session, resource_type, resource_ids):
        found.setdefault(tag.resource_id, []).append(
            TagInfo(id=tag.id, name=tag.name, value=tag.value)
        )
    return found


def forget_tags(session: Session, resource_type: str, resource_ids: Iterable[str]) -> None:
    repository.delete_tags_of(session, resource_type, resource_ids)


def tag_conditions(
    resource_type: str,
    id_column: SQLColumnExpression[str | None],
    *,
    keys: list[str],
    values: list[str],
) -> list[ColumnElement[bool]]:
    """`tagKeys`/`tagValues` filters: any listed key (OR), and any listed value (OR), ANDed."""
    conditions: list[ColumnElement[bool]] = []
    for wanted, match in ((keys, repository.name_in), (values, repository.value_in)):
        if not wanted:
            continue
        # No stored tag holds a NUL (and PostgreSQL refuses one even in a query).
        usable = [item for item in wanted if "\x00" not in item]
        if not usable:
            conditions.append(false())
            continue
        conditions.append(repository.has_tag_where(resource_type, id_column, match(usable)))
    return conditions

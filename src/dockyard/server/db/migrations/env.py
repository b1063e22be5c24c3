"""Alembic environment: runs against the engine the server hands over."""

from __future__ import annotations

import re
from collections.abc import MutableMapping
from typing import Any, Literal

from alembic import context
from alembic.autogenerate.api import AutogenContext
from sqlalchemy import Connection

from dockyard.server.db.base import UTCDateTime
from dockyard.server.models import metadata

config = context.config


def _render_item(type_: str, obj: Any, autogen_context: AutogenContext) -> str | Literal[False]:
    # Migrations spell Dockyard's UTC column type as the plain type it stores.
    if type_ == "type" and isinstance(obj, UTCDateTime):
        return "sa.DateTime(timezone=True)"
    return False


# Search indexes (migration 0002) live outside the ORM metadata: FTS5 tables and their shadow
# tables on SQLite, trigram GIN indexes on PostgreSQL. Autogenerate must not drop them.
_SEARCH_TABLE = re.compile(r"^\w+_search(_(data|idx|content|docsize|config))?$")


def _include_name(
    name: str | None, type_: str, parent_names: MutableMapping[Any, str | None]
) -> bool:
    if type_ == "table" and name and _SEARCH_TABLE.match(name):
        return False
    return not (type_ == "index" and name and name.endswith("_trgm"))


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        render_item=_render_item,
        include_name=_include_name,
    )
    with context.begin_transaction():
        context.run_migrations()


connection = config.attributes.get("connection")
if connection is not None:
    _run(connection)
else:
    with config.attributes["engine"].connect() as fresh:
        _run(fresh)
        fresh.commit()

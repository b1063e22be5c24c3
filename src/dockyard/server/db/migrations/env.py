"""Alembic environment: runs against the engine the server hands over."""

from __future__ import annotations

from alembic import context

from dockyard.server.db.models import metadata

config = context.config


def _run(connection) -> None:  # type: ignore[no-untyped-def]
    context.configure(
        connection=connection,
        target_metadata=metadata,
        render_as_batch=connection.dialect.name == "sqlite",
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

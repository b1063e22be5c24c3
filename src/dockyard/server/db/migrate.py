"""Apply Alembic migrations at start, from the package (no alembic.ini needed)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, text

MIGRATIONS = Path(__file__).parent / "migrations"
# Any constant works, as long as every Dockyard server uses the same one ("dock").
_PG_STARTUP_LOCK = 0x646F636B


def alembic_config(engine: Engine, *, audit_key: bytes | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["engine"] = engine
    # Migrations that seal existing rows with the server's key read it from here (0008).
    config.attributes["audit_key"] = audit_key
    return config


@contextmanager
def startup_lock(engine: Engine) -> Iterator[None]:
    """Hold the start-up lock: one server at a time migrates and bootstraps a database.

    Several servers starting at once on one PostgreSQL database (the pods of a Deployment)
    would otherwise each see an unmigrated schema and race to create the same tables and the
    same admin user. The lock is a session-level advisory lock on a connection of its own,
    so the work inside runs on other connections and commits as it goes; the lock is freed
    when the block ends or, should the server die inside it, when its connection closes.
    SQLite serialises writers itself, so there is nothing to hold there.
    """
    if engine.dialect.name != "postgresql":
        yield
        return
    with engine.connect() as connection:
        connection.execute(text("SELECT pg_advisory_lock(:key)"), {"key": _PG_STARTUP_LOCK})
        connection.commit()  # a waiting server is not left idle in a transaction
        try:
            yield
        finally:
            connection.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": _PG_STARTUP_LOCK})
            connection.commit()


def upgrade(engine: Engine, *, audit_key: bytes | None = None, target: str = "heads") -> None:
    """Migrate to `target`. `audit_key` is needed once audit chains exist to be sealed.

    A server calls this under `startup_lock`; on its own it takes no lock."""
    command.upgrade(alembic_config(engine, audit_key=audit_key), target)

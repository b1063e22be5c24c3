"""Apply Alembic migrations at start, from the package (no alembic.ini needed)."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, text

MIGRATIONS = Path(__file__).parent / "migrations"
# Any constant works; it keeps several servers starting together from migrating at once.
_PG_MIGRATION_LOCK = 0x646F636B


def alembic_config(engine: Engine, *, audit_key: bytes | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["engine"] = engine
    # Migrations that seal existing rows with the server's key read it from here (0008).
    config.attributes["audit_key"] = audit_key
    return config


def upgrade(engine: Engine, *, audit_key: bytes | None = None, target: str = "heads") -> None:
    """Migrate to `target`. `audit_key` is needed once audit chains exist to be sealed."""
    config = alembic_config(engine, audit_key=audit_key)
    if engine.dialect.name == "postgresql":
        with engine.connect() as connection:
            connection.execute(text("SELECT pg_advisory_lock(:key)"), {"key": _PG_MIGRATION_LOCK})
            try:
                config.attributes["connection"] = connection
                command.upgrade(config, target)
                connection.commit()
            finally:
                connection.execute(
                    text("SELECT pg_advisory_unlock(:key)"), {"key": _PG_MIGRATION_LOCK}
                )
                connection.commit()
    else:
        command.upgrade(config, target)

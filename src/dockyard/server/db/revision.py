"""Which schema revision a database is at, read without migrating it (`dockyard doctor`)."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

from sqlalchemy import text


def revision_of(connection: Any) -> Any:
    """The Alembic revision; raises when the database has no revision table yet."""
    return connection.execute(text("SELECT version_num FROM alembic_version")).scalar()


def sqlite_revision(path: Path) -> str | None:
    """The revision of a SQLite file, opened read-only; None when it has none yet. Raises
    sqlite3.Error when the file cannot be read."""
    connection = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5)
    try:
        row = connection.execute(
            "SELECT name FROM sqlite_master WHERE name = 'alembic_version'"
        ).fetchone()
        revision = (
            connection.execute("SELECT version_num FROM alembic_version").fetchone()
            if row
            else None
        )
    finally:
        connection.close()
    return revision[0] if revision else None

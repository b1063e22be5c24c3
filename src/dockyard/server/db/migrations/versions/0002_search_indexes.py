"""search indexes: trigram indexes behind `search` on artifacts and repositories

Revision ID: 0002
Revises: 0001
"""

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

TABLES = ("artifacts", "artifact_repositories")


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        for table in TABLES:
            _sqlite_search_table(table)
    else:
        op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
        for table in TABLES:
            for column in ("name", "description", "id"):
                op.execute(
                    f"CREATE INDEX IF NOT EXISTS ix_{table}_{column}_trgm "
                    f"ON {table} USING gin ({column} gin_trgm_ops)"
                )


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        for table in TABLES:
            for suffix in ("insert", "update", "delete"):
                op.execute(f"DROP TRIGGER IF EXISTS {table}_search_{suffix}")
            op.execute(f"DROP TABLE IF EXISTS {table}_search")
    else:
        for table in TABLES:
            for column in ("name", "description", "id"):
                op.execute(f"DROP INDEX IF EXISTS ix_{table}_{column}_trgm")


def _sqlite_search_table(table: str) -> None:
    search = f"{table}_search"
    # Its own copy of the three columns (not external content): the source tables have text
    # ids, and their implicit rowids may change on VACUUM. Rows are found again by id through
    # the index itself (a 24-character id only matches itself).
    op.execute(
        f"CREATE VIRTUAL TABLE {search} USING fts5(id, name, description, tokenize='trigram')"
    )
    op.execute(
        f"INSERT INTO {search} (id, name, description) SELECT id, name, description FROM {table}"
    )
    forget_old = (
        f"DELETE FROM {search} WHERE rowid IN (SELECT rowid FROM {search} "
        f"WHERE id MATCH '\"' || old.id || '\"' AND id = old.id);"
    )
    remember_new = (
        f"INSERT INTO {search} (id, name, description) VALUES (new.id, new.name, new.description);"
    )
    op.execute(f"CREATE TRIGGER {search}_insert AFTER INSERT ON {table} BEGIN {remember_new} END")
    op.execute(
        f"CREATE TRIGGER {search}_update AFTER UPDATE OF id, name, description ON {table} "
        f"BEGIN {forget_old} {remember_new} END"
    )
    op.execute(f"CREATE TRIGGER {search}_delete AFTER DELETE ON {table} BEGIN {forget_old} END")

"""`search`: a case-insensitive substring match over name, description and id.

Backed by trigram indexes (migration 0002) so it stays fast on large tables: an FTS5 table
with the trigram tokenizer on SQLite, pg_trgm GIN indexes on PostgreSQL. A trigram index
cannot answer a term shorter than 3 characters; those fall back to a plain scan.
"""

from __future__ import annotations

from sqlalchemy import ColumnElement, FromClause, literal, or_, select, text
from sqlalchemy.orm import Session

MIN_INDEXED = 3


def search_condition(
    session: Session, table: FromClause, term: str, *, fts_table: str
) -> ColumnElement[bool]:
    """A WHERE condition matching rows of `table` whose name, description or id contain `term`."""
    if session.get_bind().dialect.name == "sqlite" and len(term) >= MIN_INDEXED:
        # A quoted phrase of trigrams: the FTS5 trigram tokenizer turns it into a substring match.
        phrase = '"' + term.replace('"', '""') + '"'
        matches = (
            select(text("id"))
            .select_from(text(fts_table))
            .where(text(f"{fts_table} MATCH :phrase").bindparams(phrase=phrase))
        )
        return table.c.id.in_(matches)
    # The pattern is rendered into the SQL text (safely quoted), not bound: once PostgreSQL
    # caches a generic plan for `name ILIKE $1`, it no longer sees that a pattern is selective
    # and stops using the trigram indexes.
    pattern = literal("%" + _escape_like(term) + "%", literal_execute=True)
    columns = (table.c.name, table.c.description, table.c.id)
    return or_(*(column.ilike(pattern, escape="\\") for column in columns))


def _escape_like(term: str) -> str:
    return term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")

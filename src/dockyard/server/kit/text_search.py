"""Case-insensitive substring search over a few columns, for lists small enough to scan."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import ColumnElement, SQLColumnExpression, false, or_


def contains_any(
    columns: Iterable[SQLColumnExpression[str | None]], term: str
) -> ColumnElement[bool]:
    """Rows where any column contains `term`, ignoring case, with `%` and `_` taken literally."""
    if "\x00" in term:
        return false()  # no stored text holds a NUL, and PostgreSQL refuses one in a query
    pattern = "%" + term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
    return or_(*(column.ilike(pattern, escape="\\") for column in columns))

"""SQL for users and API tokens."""

from __future__ import annotations

from sqlalchemy import ColumnElement, Row, bindparam, func, select
from sqlalchemy.orm import Session

from dockyard.server.users.models import ApiToken, User


def get_user_by_username(session: Session, username: str) -> User | None:
    return session.scalar(select(User).where(User.username == username))


# Built once: a statement's cache key is computed per object, so a shared one skips that.
_PROFILES = select(User.id, User.username, User.email, User.full_name).where(
    User.id.in_(bindparam("ids", expanding=True))
)


def profiles_by_ids(
    session: Session, user_ids: set[str]
) -> dict[str, Row[str, str, str | None, str | None]]:
    """`(id, username, email, full_name)` per user: what responses show of a creator, read
    as plain columns (no ORM objects to build for every page and every create)."""
    if not user_ids:
        return {}
    return {row.id: row for row in session.execute(_PROFILES, {"ids": list(user_ids)})}


def add_user(session: Session, user: User) -> User:
    """Insert and flush, so a duplicate username raises IntegrityError here."""
    session.add(user)
    session.flush()
    return user


def list_users(session: Session, *, offset: int, limit: int) -> tuple[list[User], int]:
    total = session.scalar(select(func.count()).select_from(User)) or 0
    rows = session.scalars(
        select(User).order_by(User.created_at.desc(), User.id.desc()).offset(offset).limit(limit)
    )
    return list(rows), total


def add_token(session: Session, token: ApiToken) -> ApiToken:
    session.add(token)
    session.flush()
    return token


def delete_token(session: Session, token: ApiToken) -> None:
    session.delete(token)
    session.flush()


def list_tokens(
    session: Session, *, user_id: str | None, offset: int, limit: int
) -> tuple[list[ApiToken], int]:
    """A page of tokens, newest first; `user_id=None` lists everyone's."""
    conditions: list[ColumnElement[bool]] = []
    if user_id is not None:
        conditions.append(ApiToken.user_id == user_id)
    total = session.scalar(select(func.count()).select_from(ApiToken).where(*conditions)) or 0
    rows = session.scalars(
        select(ApiToken)
        .where(*conditions)
        .order_by(ApiToken.created_at.desc(), ApiToken.id.desc())
        .offset(offset)
        .limit(limit)
    )
    return list(rows), total


def has_token(session: Session, user_id: str) -> bool:
    found = session.scalar(select(ApiToken.id).where(ApiToken.user_id == user_id).limit(1))
    return found is not None


def token_hash_known(session: Session, digest: str) -> bool:
    return session.scalar(select(ApiToken.id).where(ApiToken.token_hash == digest)) is not None


def principal_row(
    session: Session, digest: str
) -> Row[str, str, bool, str | None, str | None] | None:
    """The user holding the token with this hash: id, username, is_admin, email, full_name."""
    return session.execute(
        select(User.id, User.username, User.is_admin, User.email, User.full_name)
        .join(ApiToken, ApiToken.user_id == User.id)
        .where(ApiToken.token_hash == digest)
    ).first()

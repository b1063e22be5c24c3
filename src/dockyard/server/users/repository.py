"""SQL for users and API tokens."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from dockyard.server.users.models import User


def get_user(session: Session, user_id: str) -> User | None:
    return session.get(User, user_id)


def get_user_by_username(session: Session, username: str) -> User | None:
    return session.scalar(select(User).where(User.username == username))


def users_by_ids(session: Session, user_ids: set[str]) -> dict[str, User]:
    if not user_ids:
        return {}
    return {user.id: user for user in session.scalars(select(User).where(User.id.in_(user_ids)))}

"""SQL for web sessions and sign-in codes."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Row, delete, select
from sqlalchemy.orm import Session

from dockyard.server.sessions.models import SignInCode, WebSession
from dockyard.server.users.models import ApiToken, User


def token_id_by_hash(session: Session, token_hash: str) -> str | None:
    return session.scalar(select(ApiToken.id).where(ApiToken.token_hash == token_hash))


def add(session: Session, row: WebSession | SignInCode) -> None:
    session.add(row)
    session.flush()


def take_code(session: Session, code_hash: str) -> tuple[str, datetime] | None:
    """Delete the code and return `(token_id, expires_at)`: one statement, so of two servers
    (or two tabs) presenting the same code at once exactly one gets it."""
    row = session.execute(
        delete(SignInCode)
        .where(SignInCode.code_hash == code_hash)
        .returning(SignInCode.token_id, SignInCode.expires_at)
    ).first()
    return None if row is None else (row.token_id, row.expires_at)


def drop_expired(session: Session, now: datetime) -> None:
    session.execute(delete(SignInCode).where(SignInCode.expires_at <= now))
    session.execute(delete(WebSession).where(WebSession.expires_at <= now))


def end_session(session: Session, secret_hash: str) -> None:
    session.execute(delete(WebSession).where(WebSession.secret_hash == secret_hash))


def signed_in(
    session: Session, secret_hash: str, now: datetime
) -> Row[str, str, str, str, bool, str | None, str | None] | None:
    """The session's user (through the token it was opened with, which must still exist)."""
    return session.execute(
        select(
            WebSession.id.label("session_id"),
            WebSession.csrf,
            User.id,
            User.username,
            User.is_admin,
            User.email,
            User.full_name,
        )
        .join(ApiToken, ApiToken.id == WebSession.token_id)
        .join(User, User.id == ApiToken.user_id)
        .where(WebSession.secret_hash == secret_hash, WebSession.expires_at > now)
    ).first()

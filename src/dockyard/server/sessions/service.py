"""Signing in to the web UI: sessions opened with an API token or a one-time code, ended on
the server.

The browser holds only a random session secret (its cookie); the database keeps its SHA-256,
so every server on the database honours it and signing out (deleting the row) ends it
everywhere. A session lives at most `SESSION_SECONDS`, and no longer than the API token it
was opened with. Sign-in codes are what the link printed by `dockyard serve` carries instead of
a token: used once, valid `SIGN_IN_CODE_SECONDS`.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy.orm import Session

from dockyard.server.kit.clock import utcnow
from dockyard.server.sessions import repository
from dockyard.server.sessions.models import SignInCode, WebSession
from dockyard.server.users.tokens import hash_token

SESSION_SECONDS = 7 * 24 * 3600
SIGN_IN_CODE_SECONDS = 10 * 60
_MAX_SECRET = 512  # longer input is nobody's token, code or session: refuse without hashing


@dataclass(frozen=True)
class OpenedSession:
    secret: str  # the cookie's value; shown once, kept only as a hash
    max_age: int


def issue_sign_in_code(session: Session, token: str) -> str | None:
    """A new one-time code that signs in as the token's user; None if the token is not valid."""
    token_id = _token_id(session, token)
    if token_id is None:
        return None
    now = utcnow()
    repository.drop_expired(session, now)
    code = secrets.token_urlsafe(32)
    repository.add(
        session,
        SignInCode(
            code_hash=hash_token(code),
            token_id=token_id,
            created_at=now,
            expires_at=now + timedelta(seconds=SIGN_IN_CODE_SECONDS),
        ),
    )
    return code


def open_with_token(session: Session, token: str) -> OpenedSession | None:
    token_id = _token_id(session, token)
    return None if token_id is None else _open(session, token_id)


def open_with_code(session: Session, code: str) -> OpenedSession | None:
    """Spend the code (whatever the outcome, it never works twice) and open a session."""
    if not code or len(code) > _MAX_SECRET:
        return None
    taken = repository.take_code(session, hash_token(code))
    if taken is None:
        return None
    token_id, expires_at = taken
    if expires_at <= utcnow():
        return None
    return _open(session, token_id)


def end(session: Session, secret: str) -> None:
    if secret and len(secret) <= _MAX_SECRET:
        repository.end_session(session, hash_token(secret))


def _token_id(session: Session, token: str) -> str | None:
    token = token.strip()
    if not token or len(token) > _MAX_SECRET:
        return None
    return repository.token_id_by_hash(session, hash_token(token))


def _open(session: Session, token_id: str) -> OpenedSession:
    now = utcnow()
    repository.drop_expired(session, now)
    secret = secrets.token_urlsafe(32)
    repository.add(
        session,
        WebSession(
            secret_hash=hash_token(secret),
            token_id=token_id,
            csrf=secrets.token_urlsafe(24),
            created_at=now,
            expires_at=now + timedelta(seconds=SESSION_SECONDS),
        ),
    )
    return OpenedSession(secret=secret, max_age=SESSION_SECONDS)

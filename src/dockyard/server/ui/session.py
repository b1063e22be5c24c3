"""The web UI's sign-in: a server-side session behind an HttpOnly cookie, and CSRF tokens.

The cookie holds only a random session secret; the session itself lives in the database
(`server/sessions/`), so signing out ends it on every server and a copied cookie stops
working. Each page resolves the cookie with a verifier cached like the API's token check: a
sign-out, or revoking the API token the session was opened with, takes effect within a second.
"""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar
from urllib.parse import urlsplit

from fastapi import Request, Response
from sqlalchemy.orm import Session

from dockyard.server.kit.after_commit import on_commit
from dockyard.server.kit.auth import Principal
from dockyard.server.kit.forwarded import forwarded_value
from dockyard.server.sessions import service as sessions
from dockyard.server.sessions.service import OpenedSession
from dockyard.server.sessions.verifier import SignedIn

SESSION_COOKIE = "dockyard_session"
LOGIN_CSRF_COOKIE = "dockyard_login_csrf"
T = TypeVar("T")


@dataclass(frozen=True)
class UiSession:
    principal: Principal
    csrf: str


def read_session(request: Request) -> UiSession | None:
    """The signed-in session of this request, or None (no cookie, signed out, token revoked)."""
    cached = getattr(request.state, "ui_session", None)
    if cached is not None:
        return cached
    secret = _secret(request)
    if secret is None:
        return None
    return _remember(request, request.app.state.session_verifier.verify(secret))


async def read_session_async(request: Request) -> UiSession | None:
    """`read_session` for async code: a cached answer on the event loop, a look-up off it."""
    cached = getattr(request.state, "ui_session", None)
    if cached is not None:
        return cached
    secret = _secret(request)
    if secret is None:
        return None
    known, found = request.app.state.session_verifier.cached(secret)
    if not known:
        return await request.app.state.db.run(read_session, request)
    return _remember(request, found)


def _secret(request: Request) -> str | None:
    secret = request.cookies.get(SESSION_COOKIE)
    return secret if secret and len(secret) <= 512 else None


def _remember(request: Request, found: SignedIn | None) -> UiSession | None:
    if found is None:
        return None
    session = UiSession(principal=found.principal, csrf=found.csrf)
    request.state.ui_session = session
    return session


def sign_in_with_token(request: Request, response: Response, token: str) -> bool:
    """Open a session for the token's user and set its cookie; False if the token is invalid."""
    return _set_cookie(request, response, _write(request, sessions.open_with_token, token))


def sign_in_with_code(request: Request, response: Response, code: str) -> bool:
    """Spend a one-time sign-in code for a session; False if it is unknown, used or expired."""
    return _set_cookie(request, response, _write(request, sessions.open_with_code, code))


def sign_out(request: Request, response: Response) -> None:
    """End the session on the server (its cookie stops working everywhere) and drop the cookie."""
    secret = request.cookies.get(SESSION_COOKIE)
    if secret:
        verifier = request.app.state.session_verifier

        def end(session: Session, secret: str) -> None:
            sessions.end(session, secret)
            on_commit(session, verifier.forget)  # this server forgets it at once

        _write(request, end, secret)
    response.delete_cookie(SESSION_COOKIE, path="/")


def _write(request: Request, fn: Callable[..., T], *args: object) -> T:
    # A transaction of its own, committed before the cookie goes out: a browser never holds a
    # session the database does not (the code exchange is a GET, whose request-scoped unit
    # of work would be read-only).
    with request.app.state.db.unit_of_work() as session:
        return fn(session, *args)


def _set_cookie(request: Request, response: Response, opened: OpenedSession | None) -> bool:
    if opened is None:
        return False
    response.set_cookie(
        SESSION_COOKIE,
        opened.secret,
        max_age=opened.max_age,
        httponly=True,
        samesite="lax",
        secure=_is_https(request),
        path="/",
    )
    response.delete_cookie(LOGIN_CSRF_COOKIE, path="/")
    return True


def login_csrf(request: Request, response: Response) -> str:
    """A double-submit token for the sign-in form, which has no session to hold one yet."""
    value = request.cookies.get(LOGIN_CSRF_COOKIE) or secrets.token_urlsafe(24)
    response.set_cookie(
        LOGIN_CSRF_COOKIE,
        value,
        max_age=3600,
        httponly=True,
        samesite="strict",
        secure=_is_https(request),
        path="/",
    )
    return value


def same_token(expected: str | None, given: str | None) -> bool:
    return bool(expected) and bool(given) and hmac.compare_digest(str(expected), str(given))


def safe_next(target: str | None, default: str = "/registry/services") -> str:
    """Only a path on this server: never another host (an open redirect)."""
    if not target:
        return default
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return default
    if "\\" in target or any(ord(ch) < 32 for ch in target):
        return default
    return target


def _is_https(request: Request) -> bool:
    # Behind a TLS-terminating proxy the cookie is still marked Secure; a client's own
    # X-Forwarded-Proto is not believed.
    return request.url.scheme == "https" or forwarded_value(request, "x-forwarded-proto") == "https"

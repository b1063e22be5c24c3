"""The web UI's sign-in: an encrypted, HttpOnly cookie holding the API token, and CSRF tokens.

The cookie carries the token itself (sealed with the server's secret key), so every page checks
it with the same verifier the API uses: revoking the token signs the browser out within a
second, and the UI never knows more than the token's owner may do.
"""

from __future__ import annotations

import hmac
import secrets
from dataclasses import dataclass
from urllib.parse import urlsplit

from fastapi import Request, Response

from dockyard.server.kit.auth import Principal

SESSION_COOKIE = "dockyard_session"
LOGIN_CSRF_COOKIE = "dockyard_login_csrf"
SESSION_MAX_AGE = 7 * 24 * 3600


@dataclass(frozen=True)
class UiSession:
    principal: Principal
    token: str
    csrf: str


def read_session(request: Request) -> UiSession | None:
    """The signed-in session of this request, or None (no cookie, tampered, token revoked)."""
    cached = getattr(request.state, "ui_session", None)
    if cached is not None:
        return cached
    sealed = request.cookies.get(SESSION_COOKIE)
    if not sealed or len(sealed) > 4096:
        return None
    try:
        data = request.app.state.secret_box.open(sealed)
    except Exception:  # a cookie from another key, or garbage: simply not signed in
        return None
    if not isinstance(data, dict):
        return None
    token, csrf = data.get("token"), data.get("csrf")
    if not isinstance(token, str) or not isinstance(csrf, str):
        return None
    principal = request.app.state.token_verifier.verify(token)
    if principal is None:
        return None
    session = UiSession(principal=principal, token=token, csrf=csrf)
    request.state.ui_session = session
    return session


def sign_in(request: Request, response: Response, token: str) -> bool:
    """Set the session cookie when the token is valid; False otherwise."""
    token = token.strip()
    if not token or request.app.state.token_verifier.verify(token) is None:
        return False
    sealed = request.app.state.secret_box.seal({"token": token, "csrf": secrets.token_urlsafe(24)})
    response.set_cookie(
        SESSION_COOKIE,
        sealed,
        max_age=SESSION_MAX_AGE,
        httponly=True,
        samesite="lax",
        secure=_is_https(request),
        path="/",
    )
    response.delete_cookie(LOGIN_CSRF_COOKIE, path="/")
    return True


def sign_out(response: Response) -> None:
    response.delete_cookie(SESSION_COOKIE, path="/")


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
    forwarded = request.headers.get("x-forwarded-proto", "")
    return request.url.scheme == "https" or forwarded.split(",")[0].strip() == "https"

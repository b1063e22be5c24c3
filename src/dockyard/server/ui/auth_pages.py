"""Sign-in (a form posting an API token, or the one-time link `dockyard serve` prints) and
sign-out.

No token ever travels in a URL: a link with `?token=` is where logs, history and `Referer`
headers keep it, and it would let another site sign a visitor in as someone else. The link
carries a one-time code instead, and `/login?token=` only answers the form.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request, Response
from fastapi.responses import RedirectResponse

from dockyard.server.ui.session import (
    LOGIN_CSRF_COOKIE,
    login_csrf,
    read_session,
    safe_next,
    same_token,
    sign_in_with_code,
    sign_in_with_token,
    sign_out,
)
from dockyard.server.ui.web import UiRoute, redirect, render

router = APIRouter(route_class=UiRoute, include_in_schema=False)

TOKEN_IN_URL = (
    "Sign-in links no longer carry a token, and this one did not sign you in. Paste the token "
    "below, or open the one-time link that dockyard serve prints."
)
CODE_REFUSED = (
    "That sign-in link has expired or was already used: each works once, for 10 minutes. "
    "Paste a token below, or restart dockyard serve for a new link."
)


@router.get("/")
def home(request: Request) -> Response:
    target = "/registry/services" if read_session(request) else "/login"
    return RedirectResponse(target, status_code=303)


@router.get("/login")
def login_page(
    request: Request,
    code: str | None = None,
    token: str | None = None,
    next: str | None = None,  # noqa: A002
) -> Response:
    target = safe_next(next)
    if code is not None:
        # The link printed at start: spend the code for a session and go on.
        response = RedirectResponse(target, status_code=303)
        if sign_in_with_code(request, response, code):
            return _private(response)
        return _form(request, target, error=CODE_REFUSED, status=401)
    if token is not None:
        return _form(request, target, error=TOKEN_IN_URL)
    if read_session(request) is not None:
        return RedirectResponse(target, status_code=303)
    return _form(request, target)


@router.post("/login")
def login(
    request: Request,
    token: Annotated[str, Form()] = "",
    csrf: Annotated[str, Form()] = "",
    next: Annotated[str, Form()] = "",  # noqa: A002
) -> Response:
    target = safe_next(next)
    if not same_token(request.cookies.get(LOGIN_CSRF_COOKIE), csrf):
        return _form(request, target, error="The form expired; please try again.", status=400)
    response = RedirectResponse(target, status_code=303)
    if sign_in_with_token(request, response, token):
        return _private(response)
    return _form(request, target, error="That token is not valid (or was revoked).", status=401)


@router.post("/logout")
def logout(request: Request) -> Response:
    # No CSRF check: the session cookie is SameSite=Lax, so another site's form post arrives
    # without it and has no session to end.
    response = redirect("/login", notice="Signed out.")
    sign_out(request, response)
    return response


def _private(response: Response) -> Response:
    # The sign-in URL (which may carry a code) goes into no Referer header, and no cache
    # keeps the answer that set a session cookie.
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["Cache-Control"] = "no-store"
    return response


def _form(
    request: Request, target: str, *, error: str | None = None, status: int = 200
) -> Response:
    placeholder = Response()
    csrf = login_csrf(request, placeholder)
    response = render(
        request, "login.html", status=status, next=target, login_csrf=csrf, error=error
    )
    for key, value in placeholder.raw_headers:
        if key == b"set-cookie":
            response.raw_headers.append((key, value))
    return _private(response)

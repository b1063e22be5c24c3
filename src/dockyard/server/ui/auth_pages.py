"""Sign-in with an API token (a form, or the link `dockyard serve` prints) and sign-out."""

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
    sign_in,
    sign_out,
)
from dockyard.server.ui.web import UiRoute, redirect, render

router = APIRouter(route_class=UiRoute, include_in_schema=False)


@router.get("/")
def home(request: Request) -> Response:
    target = "/registry/services" if read_session(request) else "/login"
    return RedirectResponse(target, status_code=303)


@router.get("/login")
def login_page(request: Request, token: str | None = None, next: str | None = None) -> Response:  # noqa: A002
    target = safe_next(next)
    if token is not None:
        # The link printed at start: sign in and go on, like a notebook server's token URL.
        response = RedirectResponse(target, status_code=303)
        if sign_in(request, response, token):
            return response
        return _form(request, target, error="That sign-in link's token is not valid.", status=401)
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
    if sign_in(request, response, token):
        return response
    return _form(request, target, error="That token is not valid (or was revoked).", status=401)


@router.post("/logout")
def logout(request: Request) -> Response:
    # No CSRF check needed to sign out: the worst a forged post can do is sign someone out.
    del request
    response = redirect("/login", notice="Signed out.")
    sign_out(response)
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
    return response

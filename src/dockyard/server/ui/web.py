"""Plumbing shared by every page: templates, the signed-in user, CSRF, messages, errors.

Pages call the same service functions as the API. Each page is an async route that hands one
function of its module (`_name(session, ...)`, which loads, acts and renders) to the request's
unit of work, so the page's database work runs in one trip to a worker thread. A
`DockyardError` it raises is shown as a readable message — on the error page for a GET, as a
message on the previous page after a form post (the unit of work is rolled back either way).
"""

from __future__ import annotations

import base64
import json
import logging
from collections.abc import Callable, Coroutine
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any, TypeVar
from urllib.parse import quote, urlsplit

from fastapi import Depends, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.routing import APIRoute
from jinja2 import Environment, FileSystemLoader, select_autoescape
from pydantic import BaseModel, ValidationError

from dockyard.core.errors import DockyardError, Forbidden, Unauthorized
from dockyard.core.errors import ValidationFailed as ValidationFailedError
from dockyard.server.kit.auth import Principal
from dockyard.server.kit.request_input import check_form_input
from dockyard.server.ui.session import (
    UiSession,
    read_session,
    read_session_async,
    safe_next,
    same_token,
)

log = logging.getLogger(__name__)

FLASH_COOKIE = "dockyard_flash"
M = TypeVar("M", bound=BaseModel)
_HERE = Path(__file__).parent

templates = Environment(
    loader=FileSystemLoader(_HERE / "templates"),
    autoescape=select_autoescape(["html"]),
    trim_blocks=True,
    lstrip_blocks=True,
)


def _when(value: str | None) -> str:
    """RFC 3339 → '2026-11-23 17:40 UTC' (the page's JS shows it in local time)."""
    if not value:
        return "—"
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return value
    return moment.strftime("%Y-%m-%d %H:%M UTC")


templates.filters["when"] = _when
templates.filters["tojson_attr"] = lambda value: json.dumps(value, separators=(",", ":"))


# --- errors and redirects --------------------------------------------------------------------


class SignInRequired(Exception):
    """Raised by the page dependencies; answered with a redirect to /login."""


class UiRoute(APIRoute):
    """Turns the UI's exceptions into pages and redirects instead of JSON bodies."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def run(request: Request) -> Response:
            try:
                await check_form_input(request)
                return await handler(request)
            except SignInRequired:
                return _to_login(request)
            except Unauthorized:
                return _to_login(request)
            except RequestValidationError as exc:
                # A hand-made URL or form with a missing or malformed field.
                issues = [dict(issue) for issue in exc.errors()]
                where = ".".join(str(part) for part in issues[0]["loc"]) if issues else ""
                error = ValidationFailedError(
                    [{"loc": list(i["loc"]), "msg": i["msg"], "type": i["type"]} for i in issues],
                    message=f"Invalid {where}: {issues[0]['msg']}" if issues else None,
                )
                return _failed(request, error)
            except DockyardError as error:
                return _failed(request, error)

        return run


def _failed(request: Request, error: DockyardError) -> Response:
    """A GET shows the error page; a form post goes back with the message on top."""
    if request.method == "GET":
        return render(request, "error.html", status=error.status_code, error=error)
    return redirect(back_path(request), error=error.message)


def _to_login(request: Request) -> Response:
    if request.method != "GET":
        return redirect("/login", error="Your session has ended; sign in again.")
    wanted = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return RedirectResponse(f"/login?next={quote(wanted, safe='')}", status_code=303)


def back_path(request: Request, default: str = "/registry/services") -> str:
    """Where a failed form post returns: the page it came from (same host only)."""
    referer = request.headers.get("referer")
    if not referer:
        return default
    parts = urlsplit(referer)
    if parts.netloc and parts.netloc != request.headers.get("host"):
        return default
    return safe_next(parts.path + (f"?{parts.query}" if parts.query else ""), default)


def redirect(path: str, *, error: str | None = None, notice: str | None = None) -> Response:
    response = RedirectResponse(path, status_code=303)
    if error or notice:
        payload = json.dumps({"kind": "error" if error else "ok", "text": error or notice})
        value = base64.urlsafe_b64encode(payload.encode()).decode()
        response.set_cookie(FLASH_COOKIE, value, max_age=60, httponly=True, samesite="lax")
    return response


def _flash(request: Request) -> dict[str, str] | None:
    raw = request.cookies.get(FLASH_COOKIE)
    if not raw:
        return None
    try:
        data = json.loads(base64.urlsafe_b64decode(raw.encode()))
        return {"kind": str(data["kind"]), "text": str(data["text"])[:2000]}
    except (ValueError, KeyError, TypeError):
        return None


def render(request: Request, name: str, *, status: int = 200, **context: Any) -> HTMLResponse:
    session = read_session(request)
    flash = _flash(request)
    html = templates.get_template(name).render(
        request=request,
        user=session.principal if session else None,
        csrf=session.csrf if session else "",
        flash=flash,
        path=request.url.path,
        **context,
    )
    response = HTMLResponse(html, status_code=status)
    if flash is not None:
        response.delete_cookie(FLASH_COOKIE)
    return response


# --- dependencies ----------------------------------------------------------------------------


async def _viewer(request: Request) -> Principal:
    session = await read_session_async(request)
    if session is None:
        raise SignInRequired
    return session.principal


async def _actor(request: Request) -> Principal:
    """A signed-in user posting a form (or a fetch) that carries this session's CSRF token."""
    session = await read_session_async(request)
    if session is None:
        raise SignInRequired
    given = request.headers.get("x-csrf-token")
    if given is None:
        form = await request.form()
        value = form.get("csrf")
        given = value if isinstance(value, str) else None
    if not same_token(session.csrf, given):
        raise Forbidden("This form has expired; reload the page and try again.", code="csrf")
    return session.principal


Viewer = Annotated[Principal, Depends(_viewer)]
Actor = Annotated[Principal, Depends(_actor)]


def session_of(request: Request) -> UiSession | None:
    return read_session(request)


# --- form input ------------------------------------------------------------------------------


def parse(model: type[M], data: Any, *, loc: list[str | int] | None = None) -> M:
    """Validate a request body built from a form; errors become the API's 422 message."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        issues: list[dict[str, Any]] = [
            {"loc": [*(loc or []), *err["loc"]], "msg": err["msg"], "type": err["type"]}
            for err in exc.errors()
        ]
        first = issues[0]
        where = ".".join(str(part) for part in first["loc"])
        raise ValidationFailedError(
            issues, message=f"Invalid {where}: {first['msg']}" if where else first["msg"]
        ) from None


def optional_int(value: str | None, name: str) -> int | None:
    if value is None or not value.strip():
        return None
    try:
        return int(value.strip())
    except ValueError:
        raise ValidationFailedError.at([name], f"{name} must be a whole number") from None

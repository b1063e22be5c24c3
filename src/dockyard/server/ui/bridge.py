"""Read-only JSON for the pages' polling: a GET on the API itself, as the signed-in user.

The browser holds no token (its session cookie is HttpOnly, and the session holds none), so the
pages ask here; each call is answered in-process by the real API route as the session's user,
so live views and the API cannot disagree. Only the small set of read paths the pages poll is
allowed. A caller without a session may send an API token instead, in any form the API accepts
(kit/auth.read_token); the API route then checks it as it checks any token.
"""

from __future__ import annotations

import re

import httpx
from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from dockyard.server.kit.auth import API_KEY_HEADER, IN_PROCESS_PRINCIPAL, Principal, read_token
from dockyard.server.ui.session import read_session_async

router = APIRouter(include_in_schema=False)

_ID = r"[0-9a-f]{24}"
_ALLOWED = re.compile(
    rf"^(workloads(/stats|/{_ID}(/(events|logs|related|stats(/[A-Za-z]+)?"
    rf"|protons(/{_ID}(/statusDetails)?)?))?)?"
    rf"|console/deployments(/{_ID}(/auditLog)?)?)$"
)
_DROPPED_PARAMS = {"follow"}  # a stream would hold the poller open


@router.get("/ui/api/{path:path}")
async def read_api(path: str, request: Request) -> Response:
    session = await read_session_async(request)
    token = None
    if session is None:
        headers = request.headers
        token = read_token(headers.get("authorization"), headers.get(API_KEY_HEADER))
    if session is None and token is None:
        return _error(401, "unauthorized", "Sign in again.")
    if not _ALLOWED.match(path):
        return _error(404, "not_found", "No such route.")
    params: list[tuple[str, str | int | float | bool | None]] = [
        (k, v) for k, v in request.query_params.multi_items() if k not in _DROPPED_PARAMS
    ]
    if session is not None:
        app, forwarded = _as_user(request.app, session.principal), {}
    else:
        app, forwarded = request.app, {"Authorization": f"Bearer {token}"}
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(
        transport=transport, base_url=str(request.base_url).rstrip("/"), timeout=30
    ) as client:
        answer = await client.get(f"/api/v2/{path}", params=params, headers=forwarded)
    return Response(
        answer.content,
        status_code=answer.status_code,
        media_type=answer.headers.get("content-type", "application/json"),
        headers={"Cache-Control": "no-store"},
    )


def _as_user(app: ASGIApp, principal: Principal) -> ASGIApp:
    async def call(scope: Scope, receive: Receive, send: Send) -> None:
        await app({**scope, IN_PROCESS_PRINCIPAL: principal}, receive, send)

    return call


def _error(status: int, code: str, message: str) -> JSONResponse:
    return JSONResponse({"message": message, "code": code, "detail": message}, status_code=status)

"""Liveness and readiness of the server itself."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from dockyard.server.db.session import Database

router = APIRouter(tags=["health"])


@router.get("/healthz", summary="The server process is alive")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/readyz", summary="The server can reach its database")
async def readyz(request: Request) -> JSONResponse:
    # On a read thread, with one of its connections: what a request would get.
    db = request.app.state.db
    return await db.run(_ready, db)


def _ready(db: Database) -> JSONResponse:
    try:
        db.ping()
    except Exception as exc:  # any driver error means "not ready", never a 500
        message = f"Database unreachable: {type(exc).__name__}"
        body = {"message": message, "code": "database_unavailable", "detail": message}
        return JSONResponse(body, status_code=503)
    return JSONResponse({"status": "ok"})

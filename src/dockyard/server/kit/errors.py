"""One place that turns every failure into the `{message, code, detail}` body."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from dockyard.core.errors import DockyardError

log = logging.getLogger(__name__)

_HTTP_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    413: "payload_too_large",
    415: "unsupported_media_type",
}


def error_response(error: DockyardError, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse(error.to_body(), status_code=error.status_code, headers=headers)


def _clean_validation_errors(errors: list[dict[str, Any]]) -> list[dict[str, Any]]:
    # Keep the documented keys; `input` may echo megabytes back and `ctx` may hold exceptions.
    return [
        {"loc": list(err.get("loc", [])), "msg": err.get("msg", ""), "type": err.get("type", "")}
        for err in errors
    ]


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(DockyardError)
    async def _domain(_: Request, exc: DockyardError) -> JSONResponse:
        return error_response(exc)

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        detail = _clean_validation_errors(list(exc.errors()))
        first = detail[0] if detail else {"loc": [], "msg": "invalid request"}
        where = ".".join(str(part) for part in first["loc"])
        body = {
            "message": f"Validation failed at {where}: {first['msg']}",
            "code": "validation_error",
            "detail": jsonable_encoder(detail),
        }
        return JSONResponse(body, status_code=422)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        message = exc.detail if isinstance(exc.detail, str) else "HTTP error"
        if exc.status_code == 404 and message == "Not Found":
            message = "No such route."
        code = _HTTP_CODES.get(exc.status_code, "http_error")
        body = {"message": message, "code": code, "detail": message}
        return JSONResponse(body, status_code=exc.status_code, headers=exc.headers)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        message = "Internal server error."
        body = {"message": message, "code": "internal_error", "detail": message}
        return JSONResponse(body, status_code=500)

"""One place that turns every failure into the `{message, code, detail}` body."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
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


class ValidationIssue(BaseModel):
    loc: list[str | int] = Field(description="Path to the offending value, e.g. body.spec.…")
    msg: str
    type: str


class Blocker(BaseModel):
    type: str = Field(description="Kind of the object in the way (workload, deployment, …).")
    id: str
    name: str | None = None


class ErrorBody(BaseModel):
    """The one body every error has (documented here; rendered by the handlers below)."""

    message: str = Field(description="A sentence for humans.")
    code: str = Field(description="Stable snake_case code, e.g. artifact_locked.")
    detail: str | list[ValidationIssue] = Field(
        description="The message again, or for validation errors the list of issues."
    )
    blockers: list[Blocker] | None = Field(
        default=None, description="For a 409 caused by other objects: those objects."
    )


def _documented(description: str) -> dict[str, Any]:
    return {"model": ErrorBody, "description": description}


# Added to every API route (server/routes.py), so clients and schema checks know each
# status an operation may answer besides its success.
ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    400: _documented("The request cannot be carried out as given."),
    401: _documented("Missing, invalid or revoked API token."),
    403: _documented("The caller sees the object but may not do this."),
    404: _documented("No such object, or not visible to the caller."),
    409: _documented("Conflicts with the object's state or with other objects."),
    413: _documented("The request body is too large."),
    422: _documented("The input failed validation or a business rule."),
    501: _documented("Not implemented in this release."),
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
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        # Every answer Dockyard makes for an error is this JSON, unknown routes and methods
        # included: the hosted platform's Python client reads an error's body only when its
        # Content-Type is exactly application/json.
        message = exc.detail if isinstance(exc.detail, str) else "HTTP error"
        if exc.status_code == 404 and message == "Not Found":
            message = "No such route."
        elif exc.status_code == 405 and message == "Method Not Allowed":
            message = f"{request.method} is not allowed on {request.url.path}."
        code = _HTTP_CODES.get(exc.status_code, "http_error")
        body = {"message": message, "code": code, "detail": message}
        return JSONResponse(body, status_code=exc.status_code, headers=exc.headers)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        message = "Internal server error."
        body = {"message": message, "code": "internal_error", "detail": message}
        return JSONResponse(body, status_code=500)

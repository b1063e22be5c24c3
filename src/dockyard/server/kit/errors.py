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
from dockyard.core.text import PATTERN_MEANINGS

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


# What FastAPI says when reading a JSON body fails other than by a syntax error.
_FASTAPI_BODY_ERROR = "There was an error parsing the body"


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
    413: _documented("The request body is larger than DOCKYARD_MAX_BODY_BYTES."),
    415: _documented("The request has a body that is not JSON."),
    422: _documented("The input failed validation or a business rule."),
    501: _documented("Not implemented in this release."),
    503: _documented("Busy for a moment (the database, say); retry after Retry-After seconds."),
}


def error_response(error: DockyardError, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse(error.to_body(), status_code=error.status_code, headers=headers)


def _clean_validation_errors(errors: list[dict[str, Any]]) -> list[dict[str, Any]]:
    # Keep the documented keys; `input` may echo megabytes back and `ctx` may hold exceptions.
    return [
        {"loc": list(err.get("loc", [])), "msg": _message(err), "type": err.get("type", "")}
        for err in errors
    ]


def _message(error: dict[str, Any]) -> str:
    if error.get("type") == "string_pattern_mismatch":
        meaning = PATTERN_MEANINGS.get((error.get("ctx") or {}).get("pattern", ""))
        if meaning:
            return meaning
    return error.get("msg", "")


def _invalid_json(error: dict[str, Any], document: Any) -> JSONResponse:
    """400 `invalid_json` saying where, as a person counts: line and column, from 1."""
    loc = error.get("loc") or ()
    position = loc[-1] if loc and isinstance(loc[-1], int) else 0
    text = document if isinstance(document, str) else ""
    line = text.count("\n", 0, position) + 1
    column = position - text.rfind("\n", 0, position)
    reason = (error.get("ctx") or {}).get("error") or "not valid JSON"
    message = f"The request body is not valid JSON: {reason} at line {line}, column {column}."
    body = {"message": message, "code": "invalid_json", "detail": message}
    return JSONResponse(body, status_code=400)


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(DockyardError)
    async def _domain(_: Request, exc: DockyardError) -> JSONResponse:
        # A 503 is a moment's overload (no database connection came free, say): tell the
        # client when to come back.
        headers = {"Retry-After": "1"} if exc.status_code == 503 else None
        return error_response(exc, headers)

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        errors = list(exc.errors())
        if errors and errors[0].get("type") == "json_invalid":
            return _invalid_json(errors[0], exc.body)
        detail = _clean_validation_errors(errors)
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
        if exc.status_code == 400 and message == _FASTAPI_BODY_ERROR:
            # Bytes json.loads could not even start on (not UTF-8, nested too deeply).
            code = "invalid_json"
            message = "The request body is not valid JSON (not UTF-8, or nested too deeply)."
        body = {"message": message, "code": code, "detail": message}
        return JSONResponse(body, status_code=exc.status_code, headers=exc.headers)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        message = "Internal server error."
        body = {"message": message, "code": "internal_error", "detail": message}
        return JSONResponse(body, status_code=500)

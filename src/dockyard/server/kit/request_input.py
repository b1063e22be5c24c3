"""Checks every API request gets before its handler: media type, NUL bytes anywhere.

Run as a router dependency (server/routes.py), after FastAPI has read the body and before the
body is validated, so a refusal here wins over field errors. The common request costs a few
substring searches: the body is walked only when its bytes contain a NUL escape at all.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qsl

from fastapi import Request

from dockyard.core.errors import UnsupportedMediaType, ValidationFailed

NUL_MESSAGE = "must not contain NUL characters"
_JSON_NUL = b"\\u0000"  # a NUL inside a JSON string can only be written as this escape


def is_json(content_type: str) -> bool:
    """`application/json` or any `application/*+json`, parameters (charset) ignored."""
    media = content_type.split(";", 1)[0].strip().lower()
    return media == "application/json" or (
        media.startswith("application/") and media.endswith("+json")
    )


async def check_request_input(request: Request) -> None:
    """415 for a body that is not JSON; 422 for a NUL byte in the path, query or body."""
    _refuse_nul_in_url(request)
    headers = request.headers
    if not _has_body(headers):
        return  # a bodiless call (start, stop, a DELETE) needs no Content-Type
    content_type = headers.get("content-type")
    if content_type is None or not is_json(content_type):
        sent = f"'{content_type}'" if content_type else "none"
        raise UnsupportedMediaType(
            f"Request bodies must be JSON: send 'Content-Type: application/json' (got {sent})."
        )
    body = await request.body()
    if _JSON_NUL in body:
        loc = _nul_at(body)
        if loc is not None:
            raise ValidationFailed.at(["body", *loc], NUL_MESSAGE)


async def check_form_input(request: Request) -> None:
    """The web UI's share of the rule: no NUL in the path, query or a posted form."""
    _refuse_nul_in_url(request)
    content_type = request.headers.get("content-type", "")
    if content_type.startswith("application/x-www-form-urlencoded"):
        body = await request.body()  # kept by the request: the page's own form() reads it
        if b"%00" in body:
            _refuse_nul_in_pairs(body, "body")


def _refuse_nul_in_url(request: Request) -> None:
    scope = request.scope
    if b"%00" in scope.get("raw_path", b"") or "\x00" in scope["path"]:
        raise ValidationFailed.at(["path"], NUL_MESSAGE)
    query = scope.get("query_string", b"")
    if b"%00" in query:
        _refuse_nul_in_pairs(query, "query")


def _refuse_nul_in_pairs(encoded: bytes, where: str) -> None:
    for name, value in parse_qsl(encoded.decode("latin-1"), keep_blank_values=True):
        if "\x00" in name or "\x00" in value:
            raise ValidationFailed.at([where, name.replace("\x00", "")], NUL_MESSAGE)


def _has_body(headers: Any) -> bool:
    length = headers.get("content-length")
    if length is not None:
        return length.strip() not in ("", "0")
    return "transfer-encoding" in headers


def _nul_at(body: bytes) -> list[str | int] | None:
    """Where the first NUL is (a key or a string value), or None (an escaped backslash)."""
    try:
        document = json.loads(body)
    except (ValueError, RecursionError):
        return None  # malformed: FastAPI already answered, or the route takes no body
    try:
        return _find(document, [])
    except RecursionError:  # nested too deep to say where: the body as a whole
        return []


def _find(value: Any, at: list[str | int]) -> list[str | int] | None:
    if isinstance(value, str):
        return at if "\x00" in value else None
    if isinstance(value, dict):
        for key, item in value.items():
            if "\x00" in key:
                return [*at, key.replace("\x00", "")]
            found = _find(item, [*at, key])
            if found is not None:
                return found
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found = _find(item, [*at, index])
            if found is not None:
                return found
    return None

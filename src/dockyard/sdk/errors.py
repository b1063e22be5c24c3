"""Errors the SDK raises: the server's error tree plus what can go wrong on the client's side.

Every error derives from `DockyardError`. A server error is rebuilt from its body's `code` into
the same class the server raised (`NotFound`, `Conflict`, …), with `status_code`, `code`,
`detail` and `blockers` as the server sent them.
"""

from __future__ import annotations

import json
import re
from typing import Any

import httpx

from dockyard.core.errors import (
    BadRequest,
    Conflict,
    DockyardError,
    Forbidden,
    MethodNotAllowed,
    NotFound,
    NotImplementedYet,
    PayloadTooLarge,
    RuleViolation,
    ServiceUnavailable,
    Unauthorized,
    ValidationFailed,
    error_from_response,
)

__all__ = [
    "BadRequest",
    "ConfigurationError",
    "Conflict",
    "ConnectionFailed",
    "DockyardError",
    "Forbidden",
    "MethodNotAllowed",
    "NotFound",
    "NotImplementedYet",
    "PayloadTooLarge",
    "RuleViolation",
    "ServiceUnavailable",
    "Unauthorized",
    "ValidationFailed",
    "WaitTimeout",
    "WorkloadFailed",
    "IgnoredFieldWarning",
    "error_for",
]


class IgnoredFieldWarning(UserWarning):
    """The server ignored a field of the request body it does not know (often a typo)."""


# One entry of the server's `Warning` header: `299 - "<JSON string>"`.
_WARNING_ENTRY = re.compile(r'299 - ("(?:[^"\\]|\\.)*")')


def server_warnings(response: httpx.Response) -> list[str]:
    """The texts of the `299` entries of an answer's `Warning` headers."""
    texts: list[str] = []
    for value in response.headers.get_list("warning"):
        for quoted in _WARNING_ENTRY.findall(value):
            try:
                texts.append(json.loads(quoted))
            except ValueError:
                texts.append(quoted.strip('"'))
    return texts


class ConnectionFailed(DockyardError):
    """The server could not be reached (after the retries allowed for the call)."""

    status_code = 0
    default_code = "connection_failed"


class ConfigurationError(DockyardError):
    """No usable server URL or token was given (arguments, environment or profile)."""

    status_code = 0
    default_code = "not_configured"


class WaitTimeout(DockyardError):
    """An object did not reach the awaited status in time."""

    status_code = 0
    default_code = "wait_timeout"


class WorkloadFailed(DockyardError):
    """A workload reached `errored` or `terminated` while we waited for another status."""

    status_code = 0
    default_code = "workload_failed"


def error_for(response: httpx.Response) -> DockyardError:
    """The exception an error response describes, with the response's real HTTP status."""
    body = _json_body(response)
    if not isinstance(body, dict) or not ("code" in body or "message" in body):
        text = response.text.strip()[:200] or response.reason_phrase
        body = {"message": f"HTTP {response.status_code}: {text}", "code": "http_error"}
    error = error_from_response(response.status_code, body)
    if error.status_code != response.status_code:
        # 502, 504, … have no class of their own: keep the status the server really sent.
        setattr(error, "status_code", response.status_code)  # noqa: B010
    return error


def is_error_body(response: httpx.Response) -> bool:
    """True when a response carries Dockyard's error body (not an invoked app's own answer)."""
    body = _json_body(response)
    return isinstance(body, dict) and {"message", "code", "detail"} <= body.keys()


def _json_body(response: httpx.Response) -> Any:
    try:
        return response.json()
    except (json.JSONDecodeError, UnicodeDecodeError, httpx.ResponseNotRead):
        return None

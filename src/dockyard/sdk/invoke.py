"""Calls through Dockyard's invoke endpoints, shared by workloads and deployments."""

from __future__ import annotations

from typing import Any

import httpx

from dockyard.sdk.errors import error_for, is_error_body
from dockyard.sdk.transport import Call, Operation


def invoke_call(
    base: str,
    path: str,
    method: str,
    json: Any,
    content: bytes | None,
    headers: dict[str, str] | None,
    params: dict[str, Any] | None,
) -> Call:
    return Call(
        method.upper(),
        f"{base}/{path.lstrip('/')}",
        params=params,
        json=json,
        content=content,
        headers=headers or {},
        raw=True,
    )


def with_scale_up(headers: dict[str, str] | None, seconds: float | None) -> dict[str, str]:
    headers = dict(headers or {})
    if seconds is not None:
        headers["X-Scale-Up-Timeout"] = f"{seconds:g}"
    return headers


def invoked(call: Call, check: bool) -> Operation[httpx.Response]:
    response: httpx.Response = yield call
    if check and response.status_code >= 400 and is_error_body(response):
        raise error_for(response)
    return response

"""The proxy's own answers: the same `{message, code, detail}` body as every API error."""

from __future__ import annotations

import json

from starlette.types import Send

from dockyard.core.errors import ClientTimeout, DockyardError, HeadersTooLarge

# Shared with the server's own limits on request heads (kit/http_protocol.py).
__all__ = ["ClientTimeout", "HeadersTooLarge"]


class UpstreamUnavailable(DockyardError):
    status_code = 502
    default_code = "upstream_unavailable"


class UpstreamTimeout(DockyardError):
    status_code = 504
    default_code = "upstream_timeout"


class NoReadyReplica(DockyardError):
    status_code = 503
    default_code = "no_ready_replica"

    def __init__(self, message: str, *, retry: bool = True, code: str | None = None) -> None:
        super().__init__(message, code=code)
        self.retry = retry  # on its way to running: tell clients when to come back


def error_headers(error: DockyardError, body: bytes) -> list[tuple[bytes, bytes]]:
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
    ]
    if error.status_code == 503 and getattr(error, "retry", True):
        headers.append((b"retry-after", b"1"))
    if error.status_code == 401:
        headers.append((b"www-authenticate", b"Bearer"))
    return headers


def encode(error: DockyardError) -> bytes:
    return json.dumps(error.to_body()).encode()


async def send_error(send: Send, error: DockyardError) -> None:
    body = encode(error)
    await send(
        {
            "type": "http.response.start",
            "status": error.status_code,
            "headers": error_headers(error, body),
        }
    )
    await send({"type": "http.response.body", "body": body, "more_body": False})

"""One HTTP request through to a replica and back, streamed both ways.

Nothing here buffers a whole body: the request body is handed to the upstream chunk by chunk
as the client sends it, and each chunk of the response goes to the client as it arrives, with
backpressure both ways (a slow reader pauses the upstream, a slow upstream pauses the client).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass

from starlette.types import Receive, Scope, Send

from dockyard.server.http_server import REQUEST_TRAILERS
from dockyard.server.proxy.errors import (
    ClientTimeout,
    UpstreamTimeout,
    UpstreamUnavailable,
    send_error,
)
from dockyard.server.proxy.upstream import UpstreamPool
from dockyard.server.proxy.upstream_answer import Response, UpstreamError

log = logging.getLogger(__name__)

# Hop-by-hop headers (RFC 9110 §7.6.1) and those the proxy answers for itself.
RESPONSE_DROPPED = frozenset(
    {
        b"connection",
        b"keep-alive",
        b"proxy-authenticate",
        b"proxy-connection",
        b"te",
        b"trailer",
        b"transfer-encoding",
        b"upgrade",
        b"date",  # the server adds its own, as nginx does
        b"server",
    }
)

GONE = 499  # status counted for a client that went away before its answer (nginx's number)


@dataclass(frozen=True)
class Limits:
    timeout: float  # upstream response headers, and no-progress while uploading
    client_idle: float  # pause allowed between request body chunks


class _BodyFailure(Exception):
    """Raised inside the body iterator; the reason is kept on the side for the answer."""


@dataclass
class _Upload:
    failure: str | None = None  # "gone" | "idle"


@dataclass(frozen=True)
class Target:
    host: str
    port: int
    path: bytes  # with the query, as the client sent it


async def forward(
    pool: UpstreamPool,
    scope: Scope,
    receive: Receive,
    send: Send,
    target: Target,
    headers: list[tuple[bytes, bytes]],
    body_kind: str | None,
    limits: Limits,
) -> int:
    """Proxy one request; returns the status the client saw (for statistics)."""
    loop = asyncio.get_running_loop()
    upload = _Upload()
    deadline = asyncio.timeout_at(loop.time() + limits.timeout)
    data: bytes | AsyncIterator[bytes] | None = None
    if body_kind is not None:
        try:
            async with asyncio.timeout(limits.client_idle):
                message = await receive()
        except TimeoutError:
            await send_error(send, ClientTimeout("The request body did not arrive in time."))
            return 408
        if message["type"] == "http.disconnect":
            return GONE
        if message.get("more_body"):
            data = _stream(message.get("body", b""), receive, upload, deadline, limits)
        else:
            data = message.get("body", b"")
    try:
        async with deadline:
            response = await pool.request(
                scope["method"], target.host, target.port, target.path, headers, data,
                chunked=body_kind == "chunked", trailers=scope.get(REQUEST_TRAILERS),
            )  # fmt: skip
    except TimeoutError:
        if deadline.expired():
            await send_error(send, UpstreamTimeout("The workload did not answer in time."))
            return 504
        await send_error(send, UpstreamUnavailable("The workload could not be reached."))
        return 502
    except (UpstreamError, OSError) as exc:
        if upload.failure == "gone":
            return GONE
        if upload.failure == "idle":
            await send_error(send, ClientTimeout("The request body stalled."))
            return 408
        log.info("upstream %s:%s failed: %r", target.host, target.port, exc)
        await send_error(send, UpstreamUnavailable("The workload refused or dropped the request."))
        return 502
    return await _relay(response, receive, send)


async def _stream(
    first: bytes, receive: Receive, upload: _Upload, deadline: asyncio.Timeout, limits: Limits
) -> AsyncIterator[bytes]:
    loop = asyncio.get_running_loop()
    if first:
        yield first
    while True:
        try:
            async with asyncio.timeout(limits.client_idle):
                message = await receive()
        except TimeoutError:
            upload.failure = "idle"
            raise _BodyFailure("client body idle") from None
        if message["type"] == "http.disconnect":
            upload.failure = "gone"
            raise _BodyFailure("client went away")
        # Progress: the upstream's clock restarts (a long upload is not a slow upstream).
        deadline.reschedule(loop.time() + limits.timeout)
        chunk = message.get("body", b"")
        if chunk:
            yield chunk
        if not message.get("more_body"):
            return


async def _relay(response: Response, receive: Receive, send: Send) -> int:
    status = response.status
    headers = [(k, v) for k, v in response.headers if k.lower() not in RESPONSE_DROPPED]
    watcher: asyncio.Task[None] | None = None
    complete = False
    try:
        await send({"type": "http.response.start", "status": status, "headers": headers})
        chunk = await response.read()
        if response.at_eof:  # the whole body came with the headers: the common small answer
            await send({"type": "http.response.body", "body": chunk, "more_body": False})
            complete = True
            return status
        # A long answer: stop reading the upstream as soon as the client goes away (an
        # endless event stream would otherwise keep its connection forever).
        watcher = asyncio.ensure_future(_close_on_disconnect(receive, response))
        while chunk:
            await send({"type": "http.response.body", "body": chunk, "more_body": True})
            chunk = await response.read()
        if watcher.done():  # closed because the client left: not a complete answer
            return GONE
        await send({"type": "http.response.body", "body": b"", "more_body": False})
        complete = True
        return status
    except (UpstreamError, OSError) as exc:
        if watcher is not None and watcher.done():
            return GONE
        # Headers are gone already: the only honest signal left is a cut connection, which
        # the server makes when the application returns without finishing the body.
        log.warning("upstream response cut short (%s): %r", status, exc)
        return 502
    finally:
        if watcher is not None:
            watcher.cancel()
        if complete:
            response.release()
        else:
            response.close()


async def _close_on_disconnect(receive: Receive, response: Response) -> None:
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            response.close()
            return

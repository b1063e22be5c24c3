"""What every request but an invoke goes through first: its body, within the size limit, then
for a write, a turn among the writes in progress.

The body is read here, counted as it streams in, and refused with a 413 the moment it passes
`DOCKYARD_MAX_BODY_BYTES` (at once when `Content-Length` says so), before the application
buffers, parses or validates any of it. Invoke requests never come here: the proxy streams
their bodies to the workload and they are not limited.

Writes then take turns, as many at once as there are write threads. Everything a request
costs the event loop (routing, dependencies, validation, serialization) happens after its
turn starts, so a burst of hundreds of writes waits here, costing nothing, instead of filling
the event loop's queue ahead of unrelated reads, which do not take turns. The body is read
before the turn, so a client sending its body slowly holds no turn while it does.
"""

from __future__ import annotations

import asyncio
import json
import weakref

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from dockyard.core.errors import PayloadTooLarge

_READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


class Turns:
    """At most `size` writes at once; one semaphore per event loop (test clients run several)."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._by_loop: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Semaphore]
        self._by_loop = weakref.WeakKeyDictionary()

    def here(self) -> asyncio.Semaphore:
        loop = asyncio.get_running_loop()
        semaphore = self._by_loop.get(loop)
        if semaphore is None:
            semaphore = self._by_loop[loop] = asyncio.Semaphore(self.size)
        return semaphore


class IntakeMiddleware:
    def __init__(self, app: ASGIApp, *, max_body_bytes: int, write_turns: int) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.turns = Turns(write_turns)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        length, streamed = _framing(scope)
        if length is not None and length > self.max_body_bytes:
            await self._refuse(send)
            return
        if length or streamed:
            body = bytearray()
            while True:
                message = await receive()
                if message["type"] != "http.request":
                    return  # the client went away: nobody to answer
                body += message.get("body", b"")
                if len(body) > self.max_body_bytes:
                    await self._refuse(send)
                    return
                if not message.get("more_body", False):
                    break
            receive = _replay(bytes(body), receive)
        if scope["method"] in _READ_METHODS:
            await self.app(scope, receive, send)
            return
        async with self.turns.here():
            await self.app(scope, receive, send)

    async def _refuse(self, send: Send) -> None:
        # What is left of the body is read and dropped by the server, and the connection
        # stays usable: closing it with unread data could reset it before the client reads
        # this answer.
        limit = self.max_body_bytes
        error = PayloadTooLarge(
            f"The request body is larger than this server accepts ({limit} bytes).",
            code="payload_too_large",
        )
        body = json.dumps(error.to_body()).encode()
        headers = [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
        ]
        await send({"type": "http.response.start", "status": 413, "headers": headers})
        await send({"type": "http.response.body", "body": body})


def _framing(scope: Scope) -> tuple[int | None, bool]:
    """The declared `Content-Length` (None when absent or unreadable) and whether the body
    comes chunked."""
    length: int | None = None
    chunked = False
    for name, value in scope["headers"]:
        if name == b"content-length":
            try:
                length = int(value)
            except ValueError:
                length = None
        elif name == b"transfer-encoding":
            chunked = True
    return length, chunked


def _replay(body: bytes, receive: Receive) -> Receive:
    """A receive that gives the body read here, then passes on (a disconnect, say)."""
    pending = True

    async def replay() -> Message:
        nonlocal pending
        if pending:
            pending = False
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay

"""The invoke path's HTTP/1.1 client: pooled keep-alive connections to replicas, raw bytes.

Why not aiohttp's client here: on the proxy benchmark its per-request machinery (request and
response objects, multidict headers, URL parsing, tracing hooks, timers) cost more than all
the rest of an invoke, uvicorn included (docs/benchmarks.md). The proxy needs much less:
write a request head, stream a body, parse a response with httptools (the parser uvicorn
serves with) and hand its bytes on as they come. WebSocket relays still use aiohttp
(`websocket.py`).

Rules kept here:
- A connection goes back to the pool only after a complete, keep-alive answer to a fully sent
  request; anything else (an error, a cut, a HEAD, an early answer to an upload) closes it.
- An idempotent request (GET, HEAD, PUT, DELETE, OPTIONS, TRACE, or one with an
  `Idempotency-Key`) that fails on a reused connection before any byte came back is sent once
  more on a newly opened one, never on another kept one: the replica may have closed the idle
  connection as it was picked, and a replica that closes after every answer without saying so
  leaves several such connections in the pool under load. Other requests are not sent again:
  the replica may have acted on them before it went away.
- Open connections (busy or idle) never exceed the limit; past it, requests wait.
- A response buffers a bounded amount (`upstream_answer.HIGH_WATER`); see there.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from collections.abc import AsyncIterator
from typing import cast

from dockyard.server.proxy.request_head import chunk, last_chunk
from dockyard.server.proxy.upstream_answer import Response, UpstreamError

IDEMPOTENT = frozenset({"GET", "HEAD", "PUT", "DELETE", "OPTIONS", "TRACE"})
SWEEP_SECONDS = 5.0

Body = bytes | AsyncIterator[bytes] | None


class UpstreamConnection(asyncio.Protocol):
    def __init__(self, pool: UpstreamPool, key: tuple[str, int]) -> None:
        self.pool = pool
        self.key = key
        self.transport: asyncio.Transport | None = None
        self.response: Response | None = None
        self.counted = False  # holds one of the pool's slots (set once connected)
        self.closed = False
        self.reused = False
        self.idle_since = 0.0
        self._writable: asyncio.Future[None] | None = None

    # --- asyncio.Protocol ---------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # A stream's transport: asyncio's own or uvloop's, which has the same methods but is
        # not a subclass, so this is a cast rather than an isinstance check.
        self.transport = cast(asyncio.Transport, transport)

    def data_received(self, data: bytes) -> None:
        if self.response is None:  # bytes nobody asked for: the connection cannot be trusted
            self.abort()
            return
        self.response.feed(data)

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self.pool.forget(self)
        if self.response is not None:
            self.response.lost()
        self.resume_writing()

    def pause_writing(self) -> None:
        self._writable = asyncio.get_running_loop().create_future()

    def resume_writing(self) -> None:
        writable, self._writable = self._writable, None
        if writable is not None and not writable.done():
            writable.set_result(None)

    # --- use ------------------------------------------------------------------------------------

    async def write(self, data: bytes) -> None:
        if self.closed:
            raise UpstreamError("the replica closed the connection during the upload")
        assert self.transport is not None
        self.transport.write(data)
        if self._writable is not None:
            await self._writable

    def abort(self) -> None:
        if self.transport is not None and not self.closed:
            self.transport.abort()


class UpstreamPool:
    """Keep-alive connections per replica address, at most `max_connections` open in all."""

    def __init__(
        self,
        max_connections: int,
        keepalive_seconds: float,
        connect_timeout: float,
        max_head_bytes: int,
    ) -> None:
        self.max_connections = max_connections
        self.keepalive_seconds = keepalive_seconds
        self.connect_timeout = connect_timeout
        self.max_head_bytes = max_head_bytes
        self.busy = 0  # connections carrying a request right now
        self.open = 0  # connections holding a slot, busy or idle
        self._idle: dict[tuple[str, int], list[UpstreamConnection]] = {}
        self._waiters: deque[asyncio.Future[None]] = deque()
        self._closing = False

    async def request(
        self,
        method: str,
        host: str,
        port: int,
        target: bytes,
        headers: list[tuple[bytes, bytes]],
        body: Body,
        chunked: bool,
        trailers: list[tuple[bytes, bytes]] | None = None,
    ) -> Response:
        """Send one request; returns once the response headers are in (the body follows).

        `trailers` is the list the server fills with the request's trailer fields (complete
        once its body has been read): a chunked request's trailers go on as trailers."""
        if chunked and isinstance(body, bytes) and trailers:
            # The whole body came at once, trailers too: still sent chunked, to carry them.
            body = chunk(body) + last_chunk(trailers)
            framed = True
        else:
            framed = False
        head = _head(method, host, port, target, headers, body, chunked, framed)
        replayable = not isinstance(body, AsyncIterator) and (
            method in IDEMPOTENT or any(name == b"idempotency-key" for name, _ in headers)
        )
        for attempt in (1, 2):
            conn = await self._acquire((host, port), fresh=attempt == 2)
            response = Response(conn, method == "HEAD", self.max_head_bytes)
            conn.response = response
            try:
                if body is None or isinstance(body, bytes):
                    await conn.write(head + body if body else head)
                else:
                    await conn.write(head)
                    response.upload = asyncio.ensure_future(
                        response.send_body(body, chunked, trailers)
                    )
                await response.wait_head()
                return response
            except UpstreamError:
                retry = attempt == 1 and replayable and conn.reused and response.received_nothing
                response.close()
                if not retry:
                    raise
            except BaseException:  # a deadline, a cancelled request
                response.close()
                raise
        raise AssertionError("unreachable")

    async def close(self) -> None:
        self._closing = True
        for conns in self._idle.values():
            for conn in conns:
                conn.abort()
        self._idle.clear()
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_exception(UpstreamError("the proxy is shutting down"))

    async def sweep(self) -> None:
        """Runs for the pool's life: closes connections idle longer than the keep-alive."""
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(SWEEP_SECONDS)
            oldest = loop.time() - self.keepalive_seconds
            for conns in list(self._idle.values()):
                for conn in [c for c in conns if c.idle_since < oldest]:
                    conn.abort()

    # --- slots ----------------------------------------------------------------------------------

    async def _acquire(self, key: tuple[str, int], *, fresh: bool = False) -> UpstreamConnection:
        """A connection to `key`: a kept one when there is one (unless `fresh`), else a new one."""
        if self._closing:
            raise UpstreamError("the proxy is shutting down")
        loop = asyncio.get_running_loop()
        idle = None if fresh else self._idle.get(key)
        if idle:
            oldest = loop.time() - self.keepalive_seconds
            while idle:
                conn = idle.pop()
                if conn.closed:
                    continue
                if conn.idle_since < oldest:
                    conn.abort()
                    continue
                conn.reused = True
                self.busy += 1
                return conn
        while self.open >= self.max_connections:
            if not self._drop_an_idle_connection():
                waiter = loop.create_future()
                self._waiters.append(waiter)
                try:
                    await waiter
                finally:
                    with contextlib.suppress(ValueError):
                        self._waiters.remove(waiter)
                # A connection to this replica may be idle now.
                return await self._acquire(key, fresh=fresh)
        self.open += 1
        try:
            async with asyncio.timeout(self.connect_timeout):
                _, conn = await loop.create_connection(lambda: UpstreamConnection(self, key), *key)
        except BaseException:
            self.open -= 1
            self._wake_a_waiter()
            raise
        if conn.closed:  # lost between connecting and now
            self.open -= 1
            self._wake_a_waiter()
            raise UpstreamError("the replica closed the connection at once")
        conn.counted = True
        self.busy += 1
        return conn

    def release(self, conn: UpstreamConnection, reusable: bool) -> None:
        self.busy -= 1
        conn.response = None
        if reusable and not conn.closed and not self._closing:
            conn.reused = False
            conn.idle_since = asyncio.get_running_loop().time()
            self._idle.setdefault(conn.key, []).append(conn)
            self._wake_a_waiter()
        else:
            conn.abort()  # its slot frees when the connection is gone (forget)

    def forget(self, conn: UpstreamConnection) -> None:
        """A connection closed: its slot is free, and it is no longer idle anywhere."""
        idle = self._idle.get(conn.key)
        if idle and conn in idle:
            idle.remove(conn)
            if not idle:
                del self._idle[conn.key]
        if conn.counted:
            conn.counted = False
            self.open -= 1
            self._wake_a_waiter()

    def drop_idle(self, keys: set[tuple[str, int]]) -> None:
        """Close the idle connections to replicas that left the routing table. Their ports go
        back to the engine, which may give one to a new replica soon after: a connection kept
        to the old one would carry a request there and fail."""
        for key in keys:
            for conn in list(self._idle.get(key, ())):
                self.forget(conn)
                conn.abort()

    def _drop_an_idle_connection(self) -> bool:
        oldest: UpstreamConnection | None = None
        for conns in self._idle.values():
            if conns and (oldest is None or conns[0].idle_since < oldest.idle_since):
                oldest = conns[0]
        if oldest is None:
            return False
        self.forget(oldest)  # the slot frees now, not when the close completes
        oldest.abort()
        return True

    def _wake_a_waiter(self) -> None:
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)
                return


def _head(
    method: str,
    host: str,
    port: int,
    target: bytes,
    headers: list[tuple[bytes, bytes]],
    body: Body,
    chunked: bool,
    framed: bool,
) -> bytes:
    lines = [b"%s %s HTTP/1.1\r\nhost: %s:%d\r\n" % (method.encode(), target, host.encode(), port)]
    lines.extend(b"%s: %s\r\n" % header for header in headers)
    if framed:  # `body` is already chunked
        lines.append(b"transfer-encoding: chunked\r\n")
    elif isinstance(body, bytes) and not any(n == b"content-length" for n, _ in headers):
        lines.append(b"content-length: %d\r\n" % len(body))
    elif chunked:
        lines.append(b"transfer-encoding: chunked\r\n")
    lines.append(b"\r\n")
    return b"".join(lines)

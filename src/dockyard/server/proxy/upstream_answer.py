"""One answer from a replica, as the invoke path's client reads it (`upstream.py`).

httptools parses the bytes the connection hands over; the status and raw headers come first,
then the body in the chunks it arrived in. A response buffers at most `HIGH_WATER` bytes:
above that the socket stops being read until the client has taken them, so a slow client
slows the replica instead of filling the proxy's memory.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING

import httptools

from dockyard.server.proxy.request_head import last_chunk

if TYPE_CHECKING:
    from dockyard.server.proxy.upstream import UpstreamConnection

HIGH_WATER = 256 * 1024


class UpstreamError(Exception):
    """The replica refused, dropped or garbled the exchange."""


class Response:
    """One answer being read: status and raw headers first, then the body in chunks."""

    def __init__(self, conn: UpstreamConnection, head_only: bool, max_head_bytes: int) -> None:
        self.conn = conn
        self.status = 0
        self.headers: list[tuple[bytes, bytes]] = []
        self.upload: asyncio.Task[None] | None = None
        self.upload_failure: BaseException | None = None
        self._parser = httptools.HttpResponseParser(self)
        # A lone LF ending the status line or a header line is taken as CRLF, as HTTP/1.1
        # allows a recipient to (RFC 9112 §2.2): CGI scripts and small servers write them.
        # Chunk framing stays strict.
        self._parser.set_dangerous_leniencies(lenient_optional_cr_before_lf=True)
        self._head_only = head_only
        self._max_head_bytes = max_head_bytes
        self._head_bytes = 0
        self._chunks: list[bytes] = []
        self._buffered = 0
        self._paused = False
        self._informational = False
        self._until_close = False  # no length, not chunked: the body ends with the connection
        self._complete = False
        self._reusable = True
        self._keep_alive = False
        self._received = False
        self._error: UpstreamError | None = None
        self._waiter: asyncio.Future[None] | None = None
        self._done = False

    # --- fed by the connection ------------------------------------------------------------------

    def feed(self, data: bytes) -> None:
        self._received = True
        if self._complete:  # more than one answer to one request
            self._reusable = False
            return
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            self._fail("the replica switched protocols unasked")
            return
        except httptools.HttpParserError as exc:
            self._fail(f"the replica sent a malformed answer ({exc})")
            return
        if not self.status:  # bytes that do not end the head yet (a body after it is fine)
            self._head_bytes += len(data)
            if self._head_bytes > self._max_head_bytes:
                self._fail("the replica's response headers are too large")

    def lost(self) -> None:
        if self._complete or self._error is not None:
            return
        if self._until_close and self.status:
            self._finish()
            self._reusable = False
        else:
            self._fail("the replica closed the connection before its answer was complete")

    # --- httptools callbacks ----------------------------------------------------------------------

    def on_message_begin(self) -> None:
        self.headers = []

    def on_header(self, name: bytes, value: bytes) -> None:
        self.headers.append((name, value))

    def on_headers_complete(self) -> None:
        status = self._parser.get_status_code()
        if status < 200:  # 1xx informational (103 Early Hints, …): the real answer follows
            self._informational = True
            return
        self.status = status
        if status not in (204, 304) and not self._head_only:
            framing = (b"content-length", b"transfer-encoding")
            self._until_close = not any(name.lower() in framing for name, _ in self.headers)
        self._wake()
        if self._head_only:  # no body follows, whatever the headers announce
            self._reusable = False
            self._finish()

    def on_body(self, body: bytes) -> None:
        self._chunks.append(body)
        self._buffered += len(body)
        if self._buffered > HIGH_WATER and not self._paused and self.conn.transport is not None:
            self._paused = True
            self.conn.transport.pause_reading()
        self._wake()

    def on_message_complete(self) -> None:
        if self._informational:
            self._informational = False
            return
        if not self._complete:
            # Asked now: once the message is over the parser no longer knows.
            self._keep_alive = self._parser.should_keep_alive()
            self._finish()

    # --- read by the proxy ------------------------------------------------------------------------

    async def wait_head(self) -> None:
        while not self.status:
            if self._error is not None:
                raise self._error
            await self._wait()

    @property
    def received_nothing(self) -> bool:
        return not self._received

    @property
    def at_eof(self) -> bool:
        return self._complete and not self._chunks

    async def read(self) -> bytes:
        """The body bytes buffered so far (waiting for some); b"" once the answer is complete."""
        while True:
            if self._chunks:
                chunks = self._chunks
                data = chunks[0] if len(chunks) == 1 else b"".join(chunks)
                self._chunks = []
                self._buffered = 0
                if self._paused and not self.conn.closed:
                    self._paused = False
                    assert self.conn.transport is not None
                    self.conn.transport.resume_reading()
                return data
            if self._error is not None:
                raise self._error
            if self._complete:
                return b""
            await self._wait()

    def release(self) -> None:
        """Done with it: the connection goes back to the pool if it can carry another request."""
        if self._done:
            return
        self._done = True
        upload_finished = self.upload is None or (
            self.upload.done() and self.upload_failure is None
        )
        if self.upload is not None and not self.upload.done():
            self.upload.cancel()
        reusable = (
            self._complete
            and self._reusable
            and self._error is None
            and upload_finished
            and self._keep_alive
        )
        self.conn.pool.release(self.conn, reusable)

    def close(self) -> None:
        """Stop reading: the connection is dropped (a client gone, an error)."""
        if self._done:
            return
        self._fail("the answer was abandoned")  # wakes a reader waiting for more
        self.release()

    async def send_body(
        self,
        body: AsyncIterator[bytes],
        chunked: bool,
        trailers: list[tuple[bytes, bytes]] | None = None,
    ) -> None:
        """Streams a request body; a failure on the client's side ends the exchange."""
        conn = self.conn
        try:
            async for chunk in body:
                if chunked:
                    await conn.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                else:
                    await conn.write(chunk)
            if chunked:  # the trailers are in by now: they come before the body's end
                await conn.write(last_chunk(trailers))
        except asyncio.CancelledError:
            raise
        except UpstreamError:
            return  # the replica closed; the response side reports it
        except BaseException as exc:  # the client stalled or left (the caller knows which)
            self.upload_failure = exc
            self._fail("the request body did not arrive")

    # --- internals --------------------------------------------------------------------------------

    def _finish(self) -> None:
        self._complete = True
        self._wake()

    def _fail(self, message: str) -> None:
        if self._error is None:
            self._error = UpstreamError(message)
        self._reusable = False
        self.conn.abort()
        self._wake()

    def _wake(self) -> None:
        waiter, self._waiter = self._waiter, None
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    async def _wait(self) -> None:
        self._waiter = asyncio.get_running_loop().create_future()
        await self._waiter

"""The HTTP/1.1 protocol `dockyard serve` runs: uvicorn's httptools protocol, with a limit on
the size of a request head (request line and headers) on every route, invoke included.

uvicorn sets no such limit with httptools, and the parser gathers a header's value by joining
the pieces that arrive, a cost that grows with the square of its size: one header of many
megabytes keeps the event loop busy for seconds, stalling every other client. Here the head
is counted as it arrives, and past `MAX_HEAD_BYTES` the client gets a 431 at once, before the
application sees anything: exactly for a head that ends within the data received, and within
two reads of the limit for one still arriving (a read is at most 256 KiB), so the parser never
holds more than that. A head still incomplete `HEAD_TIMEOUT_SECONDS` after its first byte
gets a 408.
"""

from __future__ import annotations

import asyncio
import json
from typing import TYPE_CHECKING, Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from dockyard.core.errors import ClientTimeout, DockyardError, HeadersTooLarge

if TYPE_CHECKING:
    from uvicorn._types import HTTPScope  # the type of the protocol's `scope`, named privately

MAX_HEAD_BYTES = 32 * 1024
# A head that has not arrived whole this long after its first byte gets a 408: a client
# trickling a few bytes a second would otherwise hold its connection for ever.
HEAD_TIMEOUT_SECONDS = 30.0
# After a refusal, what the client still sends is read and dropped for this long before the
# connection closes, so the client can read the answer instead of finding the connection reset.
LINGER_SECONDS = 2.0

_STATUS_LINES = {
    408: b"HTTP/1.1 408 Request Timeout\r\n",
    431: b"HTTP/1.1 431 Request Header Fields Too Large\r\n",
}


class HeadLimitedHttpProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol, refusing request heads above `MAX_HEAD_BYTES` (431) and
    heads that take longer than `HEAD_TIMEOUT_SECONDS` to arrive (408)."""

    max_head_bytes = MAX_HEAD_BYTES
    head_timeout = HEAD_TIMEOUT_SECONDS

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._read = 0  # size of the read being parsed
        # The message whose head is arriving over several reads (its scope), and the size of
        # the reads after the one it began in, all of which are head.
        self._spanning: HTTPScope | None = None
        self._streamed = 0
        self._refused = False
        # Armed only when a read ends inside a head: a head in one read costs no timer.
        self._head_timer: asyncio.TimerHandle | None = None

    # A head in one read of at most MAX_HEAD_BYTES (nearly every request) costs two calls
    # here, and no counting: its head cannot be larger than the read.

    def _head_pending(self) -> bool:
        # uvicorn gives each message a new scope, and sets its method once the head is whole.
        scope = self.scope
        return scope is not None and "method" not in scope

    def data_received(self, data: bytes) -> None:
        if self._refused:
            return  # lingering: dropped unread
        continuing = self._head_pending()
        self._read = len(data)
        super().data_received(data)
        if self._refused or not self._head_pending():
            return
        # The head is still incomplete after this read. Every byte of a read that continued
        # it is head; the read the message began in is not counted (part of it may be the
        # previous request's body), which is where "within two reads" comes from.
        if continuing and self._spanning is self.scope:
            self._streamed += len(data)
        else:
            self._spanning, self._streamed = self.scope, 0
        if self._streamed > self.max_head_bytes:
            self._refuse_too_large()
        elif self._head_timer is None:
            self._head_timer = self.loop.call_later(self.head_timeout, self._head_too_slow)

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def on_headers_complete(self) -> None:
        if self._head_timer is not None:
            self._disarm()
        spanned = self._spanning is self.scope
        if spanned:
            self._spanning = None
        if (
            spanned or self._read > self.max_head_bytes
        ) and self._head_size() > self.max_head_bytes:
            self._refuse_too_large()
            return
        super().on_headers_complete()

    def _head_size(self) -> int:
        # The request line (method, spaces and version about 16 bytes) and each header line.
        return 16 + len(self.url) + sum(len(n) + len(v) + 4 for n, v in self.headers)

    # What the parser reports after a refusal (the rest of the data of the read that crossed
    # the limit) belongs to no request.
    def on_body(self, body: bytes) -> None:
        if not self._refused:
            super().on_body(body)

    def on_message_complete(self) -> None:
        if not self._refused:
            super().on_message_complete()

    def _disarm(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _head_too_slow(self) -> None:
        self._head_timer = None
        if self._head_pending() and not self._refused:
            seconds = self.head_timeout
            self._refuse(ClientTimeout(f"The request head did not arrive within {seconds:g} s."))

    def _refuse_too_large(self) -> None:
        limit = self.max_head_bytes
        self._refuse(
            HeadersTooLarge(
                f"The request line and headers are larger than this server accepts ({limit} bytes)."
            )
        )

    def _refuse(self, error: DockyardError) -> None:
        self._refused = True
        self._disarm()
        body = json.dumps(error.to_body()).encode()
        head = [_STATUS_LINES[error.status_code]]
        for name, value in self.server_state.default_headers:
            head.append(name + b": " + value + b"\r\n")
        head.append(b"content-type: application/json\r\n")
        head.append(b"content-length: " + str(len(body)).encode() + b"\r\n")
        head.append(b"connection: close\r\n\r\n")
        transport = self.transport
        if transport.is_closing():
            return
        transport.write(b"".join(head) + body)
        if transport.can_write_eof():
            transport.write_eof()
        self.loop.call_later(LINGER_SECONDS, transport.close)

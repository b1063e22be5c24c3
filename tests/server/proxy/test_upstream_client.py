"""The invoke path's own HTTP/1.1 client, against scripted replicas on real sockets.

The proxy tests cover what a caller sees; these pin the client's connection rules: reuse,
the retry of a request a replica dropped on a reused connection, bodies without a length,
HEAD, informational answers, the head size limit and the connection limit.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import pytest

from dockyard.server.proxy.upstream import UpstreamPool
from dockyard.server.proxy.upstream_answer import UpstreamError

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter, int], Awaitable[None]]
OK = b"HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\nhello"


class Replica:
    """An asyncio server that hands each connection, with its number, to a handler."""

    def __init__(self, handler: Handler) -> None:
        self.handler = handler
        self.connections = 0
        self.open = 0
        self.most_open = 0
        self.server: asyncio.Server | None = None

    async def __aenter__(self) -> Replica:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self.server is not None
        self.server.close()

    @property
    def port(self) -> int:
        assert self.server is not None
        return self.server.sockets[0].getsockname()[1]

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        self.open += 1
        self.most_open = max(self.most_open, self.open)
        try:
            await self.handler(reader, writer, self.connections)
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            self.open -= 1
            writer.close()


def _pool(**overrides: float) -> UpstreamPool:
    settings = {"max_connections": 8, "keepalive_seconds": 30, "connect_timeout": 2}
    settings.update(overrides)
    return UpstreamPool(max_head_bytes=4096, **settings)  # type: ignore[arg-type]


async def _get(pool: UpstreamPool, port: int, method: str = "GET") -> tuple[int, bytes]:
    response = await pool.request(method, "127.0.0.1", port, b"/", [], None, chunked=False)
    body = b""
    while chunk := await response.read():
        body += chunk
    response.release()
    return response.status, body


async def _answer_forever(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, _: int):
    while True:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(OK)
        await writer.drain()


def test_keep_alive_connections_are_reused() -> None:
    async def scenario() -> None:
        async with Replica(_answer_forever) as replica:
            pool = _pool()
            for _ in range(5):
                assert await _get(pool, replica.port) == (200, b"hello")
            assert replica.connections == 1
            assert (pool.busy, pool.open) == (0, 1)
            await pool.close()

    asyncio.run(scenario())


def test_a_request_dropped_on_a_reused_connection_is_sent_again_on_a_new_one() -> None:
    async def first_answers_once_then_drops(reader, writer, number: int) -> None:  # type: ignore[no-untyped-def]
        if number > 1:
            await _answer_forever(reader, writer, number)
            return
        await reader.readuntil(b"\r\n\r\n")
        writer.write(OK)
        await writer.drain()
        await reader.readuntil(b"\r\n\r\n")  # the second request: closed without an answer

    async def scenario() -> None:
        async with Replica(first_answers_once_then_drops) as replica:
            pool = _pool()
            assert await _get(pool, replica.port) == (200, b"hello")
            assert await _get(pool, replica.port) == (200, b"hello")
            assert replica.connections == 2
            await pool.close()

    asyncio.run(scenario())


def test_the_second_try_never_takes_another_kept_connection() -> None:
    # A replica that closes after every answer without saying so (busybox httpd's CGI, many
    # small servers) leaves each connection in the pool until its close arrives. Under load
    # several such connections sit there at once: the second try must open a new one, not
    # take the next of those.
    async def answers_once_then_drops(reader, writer, number: int) -> None:  # type: ignore[no-untyped-def]
        if number > 2:
            await _answer_forever(reader, writer, number)
            return
        await reader.readuntil(b"\r\n\r\n")
        writer.write(OK)
        await writer.drain()
        await reader.readuntil(b"\r\n\r\n")  # the next request: closed without an answer

    async def scenario() -> None:
        async with Replica(answers_once_then_drops) as replica:
            pool = _pool()
            both = await asyncio.gather(_get(pool, replica.port), _get(pool, replica.port))
            assert both == [(200, b"hello")] * 2
            assert (replica.connections, pool.open) == (2, 2)  # both kept
            assert await _get(pool, replica.port) == (200, b"hello")
            assert replica.connections == 3  # one kept connection tried, then a new one
            await pool.close()

    asyncio.run(scenario())


def test_a_dropped_post_is_not_sent_again() -> None:
    async def first_answers_once_then_drops(reader, writer, number: int) -> None:  # type: ignore[no-untyped-def]
        await reader.readuntil(b"\r\n\r\n")
        writer.write(OK)
        await writer.drain()
        await reader.readuntil(b"\r\n\r\n")  # the POST: the replica may have acted on it

    async def scenario() -> None:
        async with Replica(first_answers_once_then_drops) as replica:
            pool = _pool()
            assert await _get(pool, replica.port) == (200, b"hello")
            with pytest.raises(UpstreamError):
                await _get(pool, replica.port, method="POST")
            assert replica.connections == 1
            await pool.close()

    asyncio.run(scenario())


def test_a_new_connection_dropped_before_answering_is_an_error() -> None:
    async def drop(reader, writer, number: int) -> None:  # type: ignore[no-untyped-def]
        await reader.readuntil(b"\r\n\r\n")

    async def scenario() -> None:
        async with Replica(drop) as replica:
            pool = _pool()
            with pytest.raises(UpstreamError):
                await _get(pool, replica.port)
            assert replica.connections == 1  # no retry: the replica saw the request already
            await asyncio.sleep(0.05)
            assert (pool.busy, pool.open) == (0, 0)
            await pool.close()

    asyncio.run(scenario())


def test_a_body_without_length_ends_with_the_connection() -> None:
    async def old_style(reader, writer, number: int) -> None:  # type: ignore[no-untyped-def]
        await reader.readuntil(b"\r\n\r\n")
        writer.write(b"HTTP/1.1 200 OK\r\nconnection: close\r\n\r\npart one, ")
        await writer.drain()
        await asyncio.sleep(0.05)
        writer.write(b"part two")

    async def scenario() -> None:
        async with Replica(old_style) as replica:
            pool = _pool()
            assert await _get(pool, replica.port) == (200, b"part one, part two")
            await asyncio.sleep(0.05)
            assert pool.open == 0  # such a connection is never reused
            await pool.close()

    asyncio.run(scenario())


def test_head_and_informational_answers() -> None:
    async def answers(reader, writer, number: int) -> None:  # type: ignore[no-untyped-def]
        head = await reader.readuntil(b"\r\n\r\n")
        if head.startswith(b"HEAD"):  # the length announced, no body sent
            writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: 1000\r\nx-kind: head\r\n\r\n")
        else:  # early hints first, then the answer
            writer.write(b"HTTP/1.1 103 Early Hints\r\nlink: </a.css>\r\n\r\n" + OK)
        await writer.drain()
        await asyncio.sleep(1)

    async def scenario() -> None:
        async with Replica(answers) as replica:
            pool = _pool()
            response = await pool.request("HEAD", "127.0.0.1", replica.port, b"/", [], None, False)
            assert response.status == 200 and (b"x-kind", b"head") in response.headers
            assert await response.read() == b""
            response.release()
            response = await pool.request("GET", "127.0.0.1", replica.port, b"/", [], None, False)
            assert response.status == 200
            assert [name for name, _ in response.headers] == [b"content-length"]
            assert await response.read() == b"hello"
            response.release()
            await pool.close()

    asyncio.run(scenario())


def test_a_head_with_bare_line_feeds_is_read() -> None:
    # HTTP/1.1 lets a recipient take a lone LF as the end of the status line and of a header
    # line; shell scripts and small embedded servers write them.
    async def lf_only(reader, writer, number: int) -> None:  # type: ignore[no-untyped-def]
        while True:
            await reader.readuntil(b"\r\n\r\n")
            writer.write(b"HTTP/1.1 200 OK\ncontent-type: text/plain\ncontent-length: 5\n\nhello")
            await writer.drain()

    async def scenario() -> None:
        async with Replica(lf_only) as replica:
            pool = _pool()
            response = await pool.request("GET", "127.0.0.1", replica.port, b"/", [], None, False)
            assert response.status == 200
            assert response.headers == [(b"content-type", b"text/plain"), (b"content-length", b"5")]
            assert await response.read() == b"hello"
            response.release()
            assert await _get(pool, replica.port) == (200, b"hello")
            assert replica.connections == 1  # a complete answer: the connection is kept
            await pool.close()

    asyncio.run(scenario())


def test_a_chunked_body_framed_with_bare_line_feeds_is_an_error() -> None:
    # Only the head may end its lines with a lone LF: a chunk's framing that does is refused,
    # as two parsers could disagree on where the body ends.
    async def lf_chunks(reader, writer, number: int) -> None:  # type: ignore[no-untyped-def]
        await reader.readuntil(b"\r\n\r\n")
        writer.write(b"HTTP/1.1 200 OK\ntransfer-encoding: chunked\n\n5\nhello\n0\n\n")
        await writer.drain()
        await asyncio.sleep(1)

    async def scenario() -> None:
        async with Replica(lf_chunks) as replica:
            pool = _pool()
            with pytest.raises(UpstreamError, match="malformed"):
                await _get(pool, replica.port)
            await pool.close()

    asyncio.run(scenario())


def test_oversized_response_headers_are_an_error() -> None:
    async def huge(reader, writer, number: int) -> None:  # type: ignore[no-untyped-def]
        await reader.readuntil(b"\r\n\r\n")
        writer.write(b"HTTP/1.1 200 OK\r\n")
        for index in range(1000):
            writer.write(b"x-filler-%d: %s\r\n" % (index, b"y" * 50))
        await writer.drain()
        await asyncio.sleep(1)

    async def scenario() -> None:
        async with Replica(huge) as replica:
            pool = _pool()
            with pytest.raises(UpstreamError, match="too large"):
                await _get(pool, replica.port)
            await pool.close()

    asyncio.run(scenario())


def test_requests_wait_for_a_free_slot_past_the_connection_limit() -> None:
    async def slow(reader, writer, number: int) -> None:  # type: ignore[no-untyped-def]
        while True:
            await reader.readuntil(b"\r\n\r\n")
            await asyncio.sleep(0.05)
            writer.write(OK)
            await writer.drain()

    async def scenario() -> None:
        async with Replica(slow) as replica:
            pool = _pool(max_connections=2)
            results = await asyncio.gather(*(_get(pool, replica.port) for _ in range(8)))
            assert results == [(200, b"hello")] * 8
            assert replica.most_open == 2
            assert (pool.busy, pool.open) == (0, 2)
            await pool.close()

    asyncio.run(scenario())


def test_chunked_upload_is_framed_and_the_connection_reused() -> None:
    received: list[bytes] = []

    async def reader_of_chunks(reader, writer, number: int) -> None:  # type: ignore[no-untyped-def]
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            assert b"transfer-encoding: chunked" in head
            body = await reader.readuntil(b"0\r\n\r\n")
            received.append(body)
            writer.write(OK)
            await writer.drain()

    async def parts():  # type: ignore[no-untyped-def]
        for part in (b"abc", b"defgh"):
            await asyncio.sleep(0.01)
            yield part

    async def scenario() -> None:
        async with Replica(reader_of_chunks) as replica:
            pool = _pool()
            for _ in range(2):
                response = await pool.request(
                    "POST", "127.0.0.1", replica.port, b"/", [], parts(), chunked=True
                )
                assert await response.read() == b"hello"
                await asyncio.sleep(0.01)  # the upload task notes its end
                response.release()
            assert received == [b"3\r\nabc\r\n5\r\ndefgh\r\n0\r\n\r\n"] * 2
            assert replica.connections == 1
            await pool.close()

    asyncio.run(scenario())


def test_idle_connections_to_a_replica_that_left_are_closed() -> None:
    # A replica scaled away gives its port back; a kept connection must not outlive it.
    async def scenario() -> None:
        async with Replica(_answer_forever) as gone, Replica(_answer_forever) as staying:
            pool = _pool()
            assert await _get(pool, gone.port) == (200, b"hello")
            assert await _get(pool, staying.port) == (200, b"hello")
            assert pool.open == 2
            pool.drop_idle({("127.0.0.1", gone.port)})
            assert pool.open == 1
            assert await _get(pool, staying.port) == (200, b"hello")
            assert staying.connections == 1  # the other one's connection was kept
            assert await _get(pool, gone.port) == (200, b"hello")
            assert gone.connections == 2  # a new connection, not the dropped one
            await pool.close()

    asyncio.run(scenario())

"""Tiny real upstreams on 127.0.0.1 for proxy tests: an aiohttp app and raw misbehaving sockets."""

from __future__ import annotations

import asyncio
import hashlib
import json
import socket
import threading
from collections.abc import Callable, Coroutine
from typing import Any

from aiohttp import web


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class LoopThread:
    """An asyncio loop in a daemon thread, for servers the tests talk to over real sockets."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()

    def run(self, coroutine: Coroutine[Any, Any, Any], timeout: float = 10) -> Any:
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout)

    def close(self) -> None:
        self.run(_cancel_all())  # handlers still waiting (a silent upstream) end quietly
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)


async def _cancel_all() -> None:
    tasks = [task for task in asyncio.all_tasks() if task is not asyncio.current_task()]
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


OPEN_STREAMS = web.AppKey("open_streams", int)


def make_app(name: str) -> web.Application:
    """Handlers covering what the proxy must carry: echo, streams, SSE, uploads, sockets."""
    app = web.Application(client_max_size=1024**3)
    app[OPEN_STREAMS] = 0

    async def echo(request: web.Request) -> web.Response:
        body = await request.read()
        return web.json_response(
            {
                "server": name,
                "method": request.method,
                "path": request.raw_path,
                "headers": {k.lower(): v for k, v in request.headers.items()},
                "body": body.decode("latin-1"),
            },
            status=int(request.query.get("status", "200")),
        )

    async def upload(request: web.Request) -> web.Response:
        digest = hashlib.sha256()
        size = chunks = 0
        async for chunk in request.content.iter_any():
            digest.update(chunk)
            size += len(chunk)
            chunks += 1
        return web.json_response({"size": size, "sha256": digest.hexdigest(), "chunks": chunks})

    async def download(request: web.Request) -> web.StreamResponse:
        total = int(request.query["bytes"])
        delay = float(request.query.get("delay", "0"))
        die_after = int(request.query.get("die_after", "0"))
        block = bytes(range(256)) * 256  # 64 KiB
        response = web.StreamResponse()
        response.content_length = total if request.query.get("length") else None
        await response.prepare(request)
        sent = 0
        while sent < total:
            piece = block[: min(len(block), total - sent)]
            await response.write(piece)
            sent += len(piece)
            if die_after and sent >= die_after:
                await asyncio.sleep(delay)
                assert request.transport is not None
                request.transport.close()  # the replica is gone mid-response
                return response
            if delay:
                await asyncio.sleep(delay)
        await response.write_eof()
        return response

    async def events(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)
        app[OPEN_STREAMS] += 1
        try:
            await response.write(b"data: first\n\n")
            for index in range(600):  # an endless stream, as far as a test can tell
                await asyncio.sleep(0.1)
                await response.write(f": keep-alive {index}\n\n".encode())
        finally:
            app[OPEN_STREAMS] -= 1
        return response

    async def slow(request: web.Request) -> web.Response:
        await asyncio.sleep(float(request.query.get("delay", "0.5")))
        return web.json_response({"server": name})

    async def cut(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Length": "1000"})
        await response.prepare(request)
        await response.write(b"x" * 10)
        await asyncio.sleep(0.05)
        assert request.transport is not None
        request.transport.close()  # 990 bytes short
        return response

    async def echo_socket(request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(protocols=("chat",))
        await ws.prepare(request)
        async for message in ws:
            if message.type == web.WSMsgType.TEXT:
                await ws.send_str(f"{name}:{message.data}")
            elif message.type == web.WSMsgType.BINARY:
                await ws.send_bytes(message.data[::-1])
        return ws

    app.router.add_route("*", "/echo{tail:.*}", echo)
    app.router.add_post("/upload", upload)
    app.router.add_get("/download", download)
    app.router.add_get("/events", events)
    app.router.add_get("/slow", slow)
    app.router.add_get("/cut", cut)
    app.router.add_get("/ws", echo_socket)
    return app


class Upstream:
    """One aiohttp upstream on a free port; `stop()` takes it away (a replica dying)."""

    def __init__(self, loops: LoopThread, name: str) -> None:
        self.loops = loops
        self.name = name
        self.app = make_app(name)
        self.port = free_port()
        self.runner = web.AppRunner(self.app, handle_signals=False, shutdown_timeout=0.5)
        loops.run(self._start())

    async def _start(self) -> None:
        await self.runner.setup()
        await web.TCPSite(self.runner, "127.0.0.1", self.port).start()

    def stop(self) -> None:
        self.loops.run(self.runner.cleanup())


class RawServer:
    """A socket server whose connections get `behaviour(reader, writer)`: garbage, silence."""

    def __init__(
        self, loops: LoopThread, behaviour: Callable[[Any, Any], Coroutine[Any, Any, None]]
    ) -> None:
        self.loops = loops
        self.port = free_port()
        self.server = loops.run(asyncio.start_server(behaviour, "127.0.0.1", self.port))

    def close(self) -> None:
        # On the loop's own thread: asyncio servers are not thread-safe, and a close from here
        # races the loop detaching the last connection (both wake the same waiters).
        self.loops.run(self._close())

    async def _close(self) -> None:
        self.server.close()


async def garbage(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    await reader.readuntil(b"\r\n\r\n")
    writer.write(b"SURPRISE\x00\xff not http at all\r\n\r\n")
    await writer.drain()
    writer.close()


async def silence(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    await reader.readuntil(b"\r\n\r\n")
    await asyncio.sleep(30)
    writer.close()


def as_json(response: Any) -> dict[str, Any]:
    return json.loads(response.content if hasattr(response, "content") else response)


async def raw_echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Answers with the request exactly as it came on the wire: head, chunks and trailers."""
    head = await reader.readuntil(b"\r\n\r\n")
    body, trailers = b"", b""
    if b"transfer-encoding: chunked" in head.lower():
        while True:
            size = int((await reader.readline()).split(b";")[0], 16)
            if size == 0:
                break
            body += (await reader.readexactly(size + 2))[:-2]
        while (line := await reader.readline()) != b"\r\n":
            trailers += line
    answer = json.dumps(
        {"head": head.decode("latin-1"), "body": body.decode(), "trailers": trailers.decode()}
    ).encode()
    writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: %d\r\n\r\n%s" % (len(answer), answer))
    await writer.drain()
    writer.close()

"""WebSocket pass-through: the handshake goes to the replica, then frames flow both ways."""

from __future__ import annotations

import asyncio
import contextlib
import logging

import aiohttp
from starlette.types import Receive, Scope, Send

from dockyard.core.errors import DockyardError
from dockyard.server.proxy.errors import UpstreamUnavailable, encode, error_headers

log = logging.getLogger(__name__)

MAX_MESSAGE_BYTES = 16 * 1024 * 1024
# Headers of the client's handshake that the upstream handshake makes anew.
HANDSHAKE_HEADERS = frozenset(
    {
        "sec-websocket-key",
        "sec-websocket-version",
        "sec-websocket-extensions",
        "sec-websocket-protocol",
        "content-length",
    }
)


async def reject(scope: Scope, send: Send, error: DockyardError) -> None:
    """Refuse a handshake with the JSON error when the server can send one, else a close."""
    if "websocket.http.response" in scope.get("extensions", {}):
        body = encode(error)
        await send(
            {
                "type": "websocket.http.response.start",
                "status": error.status_code,
                "headers": error_headers(error, body),
            }
        )
        await send({"type": "websocket.http.response.body", "body": body, "more_body": False})
    else:
        await send({"type": "websocket.close", "code": 1013 if error.status_code >= 500 else 1008})


async def relay(
    session: aiohttp.ClientSession,
    scope: Scope,
    receive: Receive,
    send: Send,
    url: str,
    headers: list[tuple[str, str]],
    timeout: float,
) -> int:
    """Connect upstream, accept the client, and pump frames until either side closes."""
    try:
        async with asyncio.timeout(timeout):
            upstream = await session.ws_connect(
                url,
                headers=[(k, v) for k, v in headers if k.lower() not in HANDSHAKE_HEADERS],
                protocols=tuple(scope.get("subprotocols") or ()),
                timeout=aiohttp.ClientWSTimeout(ws_receive=None, ws_close=5.0),
                max_msg_size=MAX_MESSAGE_BYTES,
                autoping=True,
            )
    except aiohttp.WSServerHandshakeError as exc:
        error = UpstreamUnavailable(f"The workload refused the WebSocket ({exc.status}).")
        await reject(scope, send, error)
        return 502
    except (aiohttp.ClientError, OSError, TimeoutError):
        await reject(scope, send, UpstreamUnavailable("The workload could not be reached."))
        return 502
    await send({"type": "websocket.accept", "subprotocol": upstream.protocol})
    to_upstream = asyncio.ensure_future(_client_to_upstream(receive, upstream))
    to_client = asyncio.ensure_future(_upstream_to_client(upstream, send))
    try:
        await asyncio.wait({to_upstream, to_client}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in (to_upstream, to_client):
            task.cancel()
        for task in (to_upstream, to_client):
            with contextlib.suppress(BaseException):
                await task
        with contextlib.suppress(Exception):
            await upstream.close()
    return 101


async def _client_to_upstream(receive: Receive, upstream: aiohttp.ClientWebSocketResponse) -> None:
    while True:
        message = await receive()
        kind = message["type"]
        if kind == "websocket.receive":
            if message.get("text") is not None:
                await upstream.send_str(message["text"])
            elif message.get("bytes") is not None:
                await upstream.send_bytes(message["bytes"])
        elif kind == "websocket.disconnect":
            await upstream.close(code=message.get("code", 1000))
            return


async def _upstream_to_client(upstream: aiohttp.ClientWebSocketResponse, send: Send) -> None:
    async for message in upstream:
        if message.type == aiohttp.WSMsgType.TEXT:
            await send({"type": "websocket.send", "text": message.data})
        elif message.type == aiohttp.WSMsgType.BINARY:
            await send({"type": "websocket.send", "bytes": message.data})
        else:  # CLOSE, CLOSING, CLOSED, ERROR
            break
    code = upstream.close_code or 1000
    with contextlib.suppress(Exception):
        await send({"type": "websocket.close", "code": code if code != 1006 else 1011})

"""Invoke traffic through the API server's service proxy (`DOCKYARD_KUBERNETES_ROUTE=apiserver`).

When Dockyard runs outside the cluster (a laptop with a kubeconfig), pod IPs cannot be reached,
but the API server can: `/api/v1/namespaces/{ns}/services/{service}:{port}/proxy/{path}`
forwards a request to a ready pod of the Service. The invoke proxy speaks plain HTTP to an
address, so each Service gets a listener on 127.0.0.1 that relays every request there with
Dockyard's credentials for the cluster, and the runtime reports that listener as the
replicas' address. Every request makes an extra hop through the API server, which is slower
and counts against its rate limits: meant for development, not for production traffic.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import threading
from collections.abc import AsyncIterator
from contextlib import suppress

import httpx2
from aiohttp import web
from lightkube.config.client_adapter import AsyncClient, ConnectionParams
from lightkube.config.kubeconfig import SingleConfig

log = logging.getLogger(__name__)

# Headers about one connection, not the request: never relayed (RFC 9110 §7.6.1).
_HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
        "host",
        "content-length",
        "authorization",  # the caller's Dockyard token is not the workload's business
    }
)
TIMEOUT_SECONDS = 300.0


class ServiceProxyRelay:
    """Listeners on 127.0.0.1, one per (Service, port), relaying to the service proxy."""

    def __init__(self, config: SingleConfig, namespace: str) -> None:
        self._config = config
        self._namespace = namespace
        self._loop = asyncio.new_event_loop()
        self._client: httpx2.AsyncClient | None = None
        self._listeners: dict[tuple[str, int], tuple[web.AppRunner, int]] = {}
        self._lock = threading.Lock()
        self._thread = threading.Thread(
            target=self._loop.run_forever, name="dockyard-service-proxy", daemon=True
        )
        self._thread.start()

    def address(self, service: str, port: int) -> tuple[str, int]:
        """Where the invoke proxy reaches the Service's `port` (listening from now on)."""
        with self._lock:
            known = self._listeners.get((service, port))
            if known is not None:
                return "127.0.0.1", known[1]
            runner, bound = asyncio.run_coroutine_threadsafe(
                self._listen(service, port), self._loop
            ).result(10)
            self._listeners[(service, port)] = (runner, bound)
            return "127.0.0.1", bound

    def release(self, services: set[str]) -> None:
        """Stop listening for these Services (their proton is gone)."""
        with self._lock:
            gone = [key for key in self._listeners if key[0] in services]
            runners = [self._listeners.pop(key)[0] for key in gone]
        for runner in runners:
            asyncio.run_coroutine_threadsafe(runner.cleanup(), self._loop).result(10)

    def close(self) -> None:
        self.release({service for service, _ in list(self._listeners)})
        if self._client is not None:
            asyncio.run_coroutine_threadsafe(self._client.aclose(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)

    async def _listen(self, service: str, port: int) -> tuple[web.AppRunner, int]:
        if self._client is None:
            self._client = AsyncClient(
                self._config, ConnectionParams(timeout=httpx2.Timeout(TIMEOUT_SECONDS))
            )
        base = f"/api/v1/namespaces/{self._namespace}/services/{service}:{port}/proxy"
        app = web.Application(client_max_size=0)  # bodies stream through, unlimited here
        app.router.add_route("*", "/{tail:.*}", lambda request: self._relay(request, base))
        runner = web.AppRunner(app, handle_signals=False, access_log=None)
        await runner.setup()
        listener = socket.socket()
        listener.bind(("127.0.0.1", 0))
        await web.SockSite(runner, listener).start()
        return runner, int(listener.getsockname()[1])

    async def _relay(self, request: web.Request, base: str) -> web.StreamResponse:
        assert self._client is not None
        headers = [(k, v) for k, v in request.headers.items() if k.lower() not in _HOP_BY_HOP]
        upstream = self._client.build_request(
            request.method,
            base + request.rel_url.path,
            params=list(request.rel_url.query.items()),
            headers=headers,
            content=_chunks(request),
        )
        try:
            answer = await self._client.send(upstream, stream=True)
        except httpx2.HTTPError as exc:
            log.warning("service proxy request failed: %s", exc)
            return web.Response(status=502, text="the Kubernetes API server did not answer\n")
        response = web.StreamResponse(status=answer.status_code)
        for key, value in answer.headers.multi_items():
            if key.lower() not in _HOP_BY_HOP:
                response.headers.add(key, value)
        try:
            await response.prepare(request)
            async for chunk in answer.aiter_raw():
                await response.write(chunk)
            await response.write_eof()
        finally:
            with suppress(Exception):
                await answer.aclose()
        return response


async def _chunks(request: web.Request) -> AsyncIterator[bytes]:
    async for chunk in request.content.iter_any():
        yield chunk

"""The invoke path, `/api/v2/endpoints/workloads/{id}/…`, as a raw ASGI handler.

It sits in front of FastAPI's router (no dependency injection, no request objects): the hot
path is a header scan, two dictionary look-ups, and the upstream call.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable

import aiohttp
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from dockyard.core.errors import Conflict, DockyardError, NotFound
from dockyard.server.db.session import Database
from dockyard.server.kit.forwarded import TrustedProxies
from dockyard.server.proxy import websocket
from dockyard.server.proxy.access import Access
from dockyard.server.proxy.balancer import Balancer
from dockyard.server.proxy.errors import HeadersTooLarge, NoReadyReplica, send_error
from dockyard.server.proxy.forward import Limits, Target, forward
from dockyard.server.proxy.load import LoadMeter
from dockyard.server.proxy.request_head import scan
from dockyard.server.proxy.routing import Route, RoutingTable
from dockyard.server.proxy.upstream import UpstreamPool
from dockyard.server.settings import Settings
from dockyard.server.statistics.recorder import StatsCollector
from dockyard.server.users.tokens import TokenVerifier
from dockyard.server.workloads import stats

log = logging.getLogger(__name__)

PREFIX = "/api/v2/endpoints/"
_PREFIX_BYTES = PREFIX.encode()
_KINDS = {b"workloads": "workload", b"deployments": "deployment"}
MAX_SCALE_UP_WAIT = 600.0
# Idle upstream connections are closed after this, before the replica closes them itself:
# uvicorn and Node.js close idle connections after 5 s, and a request sent on a connection
# the replica is closing at that moment fails.
KEEPALIVE_SECONDS = 4.0
CONFIRM_AFTER_SECONDS = 0.1  # a route older than this is re-read before a 503


class InvokeProxy:
    """Owns the routing table, the upstream connection pools and the statistics."""

    def __init__(
        self, settings: Settings, db: Database, verifier: TokenVerifier, server_id: str = ""
    ) -> None:
        self.settings = settings
        self.db = db
        self.table = RoutingTable(db, settings.proxy_route_refresh_seconds)
        self.access = Access(verifier, self.table)
        self.balancer = Balancer()
        self.stats = StatsCollector(write=stats.record)
        self.limits = Limits(settings.proxy_timeout_seconds, settings.proxy_client_idle_seconds)
        self.trusted_proxies = TrustedProxies(settings.trusted_proxies)
        self.load = LoadMeter(server_id, settings.load_report_seconds)
        # Asks this server's reconciler for a pass now (a held request wants a replica woken).
        self.wake: Callable[[str], None] | None = None
        self.pool: UpstreamPool | None = None
        self.session: aiohttp.ClientSession | None = None  # for WebSocket relays
        self._tasks: list[asyncio.Task[None]] = []
        self._asking: set[asyncio.Task[None]] = set()  # reports and nudges under way
        self._loop: asyncio.AbstractEventLoop | None = None  # the one its tasks run on

    # --- life ---------------------------------------------------------------------------------

    async def start(self) -> None:
        if self.session is not None:
            return
        self._loop = asyncio.get_running_loop()
        settings = self.settings
        self.pool = UpstreamPool(
            max_connections=settings.proxy_max_connections,
            keepalive_seconds=KEEPALIVE_SECONDS,
            connect_timeout=settings.proxy_connect_timeout_seconds,
            max_head_bytes=settings.proxy_max_header_bytes,
        )
        connector = aiohttp.TCPConnector(
            limit=settings.proxy_max_connections,
            limit_per_host=0,
            keepalive_timeout=KEEPALIVE_SECONDS,
            enable_cleanup_closed=False,
        )
        self.session = aiohttp.ClientSession(
            connector=connector,
            timeout=aiohttp.ClientTimeout(
                total=None, sock_connect=settings.proxy_connect_timeout_seconds
            ),
            auto_decompress=False,  # bytes pass through as the workload encoded them
            skip_auto_headers=("User-Agent", "Accept", "Accept-Encoding", "Content-Type"),
            cookie_jar=aiohttp.DummyCookieJar(),  # never mix one caller's cookies into another's
            max_line_size=settings.proxy_max_header_bytes,
            max_field_size=settings.proxy_max_header_bytes,
        )
        self.table.on_backends_gone = self.pool.drop_idle
        self._tasks = [
            asyncio.ensure_future(self.table.run()),
            asyncio.ensure_future(self.pool.sweep()),
            asyncio.ensure_future(self.stats.run(self.db, self.settings.stats_flush_seconds)),
            asyncio.ensure_future(self.load.run(self.db)),
        ]

    async def stop(self) -> None:
        if self._loop is not None and self._loop is not asyncio.get_running_loop():
            # A second lifespan over the same app, on an event loop of its own (test clients
            # open one each): the tasks and connections are the first loop's, whose own
            # shutdown stops them. Touched from here they are not thread-safe.
            return
        self._loop = None
        for task in self._tasks:
            task.cancel()
        # Their own errors were logged as they ran; a cancellation of stop() itself goes on.
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks = []
        if self.pool is not None:
            await self.pool.close()
            self.pool = None
        if self.session is not None:
            await self.session.close()
            self.session = None
        try:
            await asyncio.to_thread(self.stats.flush, self.db)
            await self.load.report(self.db)  # the requests this server held are gone with it
        except Exception:
            log.exception("writing the last request statistics failed")

    # --- requests -----------------------------------------------------------------------------

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.session is None:
            await self.start()  # served without a lifespan (some test clients)
        is_ws = scope["type"] == "websocket"
        if is_ws:
            message = await receive()  # websocket.connect
            if message["type"] != "websocket.connect":
                return
        fail = (
            (lambda e: websocket.reject(scope, send, e))
            if is_ws
            else (lambda e: send_error(send, e))
        )
        raw = scope.get("raw_path") or scope["path"].encode()
        collection, _, rest = raw[len(_PREFIX_BYTES) :].partition(b"/")
        raw_id, slash, tail = rest.partition(b"/")
        object_id = raw_id.decode("latin-1")
        path = b"/" + tail if slash else b"/"
        request = scan(scope, self.settings.proxy_max_header_bytes)
        route: Route | None = None
        try:
            kind = _KINDS.get(collection)
            if kind is None:
                raise NotFound(f"No endpoint at {scope['path']}.", code="not_found")
            if request.too_large:
                raise HeadersTooLarge("The request headers are too large.")
            principal = await self.access.principal(request.authorization, request.api_key)
            route = await self.access.route(principal, kind, object_id)
            if not route.backends:
                route = await self._wait_for_replica(route, request.scale_up_wait)
        except DockyardError as error:
            if route is not None:  # a refused invoke of a known workload still counts
                started = self.stats.begin(route.workload_id, route.proton_id or "")
                self.stats.end(route.workload_id, route.proton_id or "", error.status_code, started)
            await fail(error)
            return
        backend = self.balancer.pick(route.backends)
        query = scope.get("query_string", b"")
        if query:
            path += b"?" + query
        headers = request.headers
        client = scope.get("client")
        peer = client[0] if client else ""
        forwarded_for = peer.encode("latin-1")
        scheme = b"https" if scope.get("scheme") in ("https", "wss") else b"http"
        host = request.host
        if (
            self.trusted_proxies
            and (request.forwarded_for or request.forwarded_proto or request.forwarded_host)
            and peer in self.trusted_proxies
        ):
            # A trusted proxy's view of the client is kept, with the proxy as the last hop
            # (as nginx's $proxy_add_x_forwarded_for); anyone else's is replaced by ours.
            if request.forwarded_for:
                forwarded_for = request.forwarded_for + b", " + forwarded_for
            scheme = request.forwarded_proto or scheme
            host = request.forwarded_host or host
        headers.append((b"x-forwarded-for", forwarded_for))
        headers.append((b"x-forwarded-proto", scheme))
        if host:
            headers.append((b"x-forwarded-host", host))
        headers.append((b"x-forwarded-prefix", _PREFIX_BYTES + collection + b"/" + raw_id))
        proton_id = route.proton_id or ""
        started = self.stats.begin(route.workload_id, proton_id)
        backend.outstanding += 1
        slot = self.load.begin(route.workload_id, backend.replica)
        if route.scale_up_above is not None:
            self._scale_up_soon(route)
        counted = False
        answered = 0

        def count(status: int) -> None:
            nonlocal counted
            if not counted:
                counted = True
                backend.outstanding -= 1
                self.load.end(slot)
                self.stats.end(route.workload_id, proton_id, status, started)

        async def send_counted(message: Message) -> None:
            # Counted before the last byte leaves: a client that reads its answer and asks for
            # the statistics at once finds its request in them.
            nonlocal answered
            if message["type"] == "http.response.start":
                answered = message["status"]
            elif not message.get("more_body", False):
                count(answered)
            await send(message)

        status = 502
        assert self.session is not None and self.pool is not None
        try:
            if is_ws:
                url = f"ws://{backend.host}:{backend.port}{path.decode('latin-1')}"
                text_headers = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in headers]
                status = await websocket.relay(
                    self.session, scope, receive, send, url, text_headers, self.limits.timeout
                )
            else:
                status = await forward(
                    self.pool, scope, receive, send_counted,
                    Target(backend.host, backend.port, path), headers, request.body_kind,
                    self.limits,
                )  # fmt: skip
        finally:
            count(status)  # cut short, or a client gone: counted with the proxy's verdict

    async def _wait_for_replica(self, route: Route, wait: float | None) -> Route:
        """A starting workload may hold the request up to `X-Scale-Up-Timeout` seconds; an
        autoscaled one at zero holds it while a replica wakes (see `_wake`)."""
        if route.task:
            raise Conflict(
                "This workload is a task: it runs to completion and serves no requests; read "
                "its output from its logs.",
                code="workload_not_invokable",
            )
        if route.autoscaled and not route.stopped:
            return await self._wake(route, wait)
        wait = wait or 0.0
        if self.table.age() > CONFIRM_AFTER_SECONDS:
            # Another server may have just made it ready: before refusing, one read of the
            # table (shared by concurrent requests, and only for workloads without a ready
            # replica) closes most of the gap until the next refresh.
            try:
                await self.table.refresh()
            except Exception as exc:  # the database is away: answer from the table we have
                log.debug("confirming a route failed: %r", exc)
            route = self.table.routes.get(route.workload_id, route)
            if route.backends:
                return route
        loop = asyncio.get_running_loop()
        give_up = loop.time() + min(wait, MAX_SCALE_UP_WAIT)
        while not route.stopped and (remaining := give_up - loop.time()) > 0:
            await self.table.wait_for_change(remaining)
            current = self.table.routes.get(route.workload_id)
            if current is None:
                break
            route = current
            if route.backends:
                return route
        # Retry-After only when waiting can help: a stopped or errored workload needs a user.
        raise NoReadyReplica(route.not_ready_message(), retry=not route.stopped)

    async def _wake(self, route: Route, wait: float | None) -> Route:
        """Hold a request to an autoscaled workload with no ready replica until one is ready.

        The held request is counted as waiting in this server's load report, written at once
        for the first one, which makes the autoscaler ask for a replica; this server's
        reconciler is nudged so the pass runs now rather than at its next turn."""
        settings = self.settings
        if route.wake_error:
            raise _wake_failed(route.wake_error)
        limit = settings.cold_start_timeout_seconds
        if wait is not None:
            limit = min(wait, limit)
        if self.load.waiting(route.workload_id) >= settings.cold_start_queue:
            raise NoReadyReplica(
                f"{settings.cold_start_queue} requests already wait for this workload to "
                "wake; retry soon.",
                code="cold_start_queue_full",
            )
        workload_id = route.workload_id
        first = self.load.hold(workload_id) == 1
        try:
            if first:
                await self._ask_for_a_pass(workload_id)
            loop = asyncio.get_running_loop()
            give_up = loop.time() + limit
            while (remaining := give_up - loop.time()) > 0:
                await self.table.wait_for_change(remaining)
                current = self.table.routes.get(workload_id)
                if current is None:
                    break
                route = current
                if route.backends:
                    return route
                if route.wake_error:
                    raise _wake_failed(route.wake_error)
                if route.stopped:
                    because = route.reason or route.status
                    raise _wake_failed(f"the workload is {route.status} ({because})")
        finally:
            self.load.release(workload_id)
        raise NoReadyReplica(
            f"No replica of the workload became ready within {limit:g} s of this request; "
            "retry soon.",
        )

    def _scale_up_soon(self, route: Route) -> None:
        """Past the autoscaler's threshold (`Route.scale_up_above`) with this server's own
        requests: ask for a pass now, at most once per load report interval, rather than let
        the load step wait for the next report and evaluation."""
        above = route.scale_up_above
        if above is None or sum(b.outstanding for b in route.backends) <= above:
            return
        now = time.monotonic()
        if now - route.scale_nudged_at < self.settings.load_report_seconds:
            return
        route.scale_nudged_at = now
        # Not awaited: the request goes on at once. The report is taken when the task runs,
        # after the requests that arrived with this one are counted.
        task = asyncio.ensure_future(self._ask_for_a_pass(route.workload_id))
        self._asking.add(task)
        task.add_done_callback(self._asking.discard)

    async def _ask_for_a_pass(self, workload_id: str) -> None:
        """Write this server's load on the workload now, then nudge this server's reconciler,
        whose pass reads it (a wake, a load step)."""
        try:
            await self.load.report(self.db, only=workload_id)
        except Exception as exc:  # the periodic report says it a moment later
            log.warning("reporting the invoke load of %s failed: %r", workload_id, exc)
        if self.wake is not None:
            self.wake(workload_id)


def _wake_failed(reason: str) -> NoReadyReplica:
    return NoReadyReplica(
        f"The workload could not wake to serve this request: {reason}",
        retry=False,
        code="wake_failed",
    )


class ProxyMiddleware:
    """Sends invoke paths (workloads and deployments) to the proxy, the rest to the API."""

    def __init__(self, app: ASGIApp, proxy: InvokeProxy) -> None:
        self.app = app
        self.proxy = proxy

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "lifespan" and scope["path"].startswith(PREFIX):
            await self.proxy.handle(scope, receive, send)
        else:
            await self.app(scope, receive, send)

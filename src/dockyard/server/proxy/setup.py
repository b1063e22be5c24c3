"""Wiring the invoke proxy, its statistics routes and /metrics into the application."""

from __future__ import annotations

from fastapi import FastAPI
from starlette.types import Receive, Scope, Send

from dockyard.server.proxy.gateway import PREFIX, InvokeProxy, ProxyMiddleware
from dockyard.server.proxy.metrics import metrics_endpoint


class DockyardAPI(FastAPI):
    """FastAPI with the invoke path in front of everything, FastAPI's own dispatch included.

    Invoke requests skip the middleware stack and FastAPI's per-request telemetry check, which
    together cost a large share of the proxy's throughput; every other request is untouched.
    """

    invoke_proxy: InvokeProxy | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        proxy = self.invoke_proxy
        if proxy is not None and scope["type"] != "lifespan" and scope["path"].startswith(PREFIX):
            await proxy.handle(scope, receive, send)
        else:
            await super().__call__(scope, receive, send)


def install_proxy(app: FastAPI) -> InvokeProxy:
    """Call last in create_app, after every other middleware."""
    state = app.state
    proxy = InvokeProxy(
        state.settings, state.db, state.token_verifier, getattr(state, "server_id", "")
    )
    state.proxy = proxy
    # The reconciler calls `app.state.routes.poke(workload_id)` after a pass that changed a
    # workload's replicas or status, so traffic follows at once instead of at the next refresh.
    state.routes = proxy.table
    app.add_api_route("/metrics", metrics_endpoint, methods=["GET"], include_in_schema=False)
    if isinstance(app, DockyardAPI):
        app.invoke_proxy = proxy
    else:  # a plain FastAPI app: the same dispatch as the outermost middleware
        app.add_middleware(ProxyMiddleware, proxy=proxy)
    return proxy

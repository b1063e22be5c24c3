"""Wiring the invoke proxy, its statistics routes and /metrics into the application."""

from __future__ import annotations

from fastapi import FastAPI

from dockyard.server.proxy.gateway import InvokeProxy, ProxyMiddleware
from dockyard.server.proxy.metrics import metrics_endpoint


def install_proxy(app: FastAPI) -> InvokeProxy:
    """Call last in create_app: the proxy must be the outermost middleware (the fast path)."""
    state = app.state
    proxy = InvokeProxy(state.settings, state.db, state.token_verifier)
    state.proxy = proxy
    # The reconciler calls `app.state.routes.poke(workload_id)` after a pass that changed a
    # workload's replicas or status, so traffic follows at once instead of at the next refresh.
    state.routes = proxy.table
    app.add_api_route("/metrics", metrics_endpoint, methods=["GET"], include_in_schema=False)
    app.add_middleware(ProxyMiddleware, proxy=proxy)
    return proxy

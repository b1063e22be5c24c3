"""Prometheus text exposition at /metrics: proxy counters, workload and replica gauges.

Request counters are this process's since it started (Prometheus sums servers and handles
restarts); the gauges come from the database, so every server reports the same state.
"""

from __future__ import annotations

from fastapi import Request
from fastapi.responses import PlainTextResponse

from dockyard.core.errors import Forbidden, Unauthorized
from dockyard.server.db.session import Database
from dockyard.server.kit.auth import API_KEY_HEADER, INVALID_TOKEN, read_token
from dockyard.server.proxy import repository
from dockyard.server.proxy.gateway import InvokeProxy
from dockyard.server.statistics.models import LATENCY_BOUNDS_MS

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
_CLASSES = ("1xx", "2xx", "3xx", "4xx", "5xx")


async def metrics_endpoint(request: Request) -> PlainTextResponse:
    # The token check and the counts read the database: on a read thread, like any request.
    return await request.app.state.db.run(_metrics, request)


def _metrics(request: Request) -> PlainTextResponse:
    state = request.app.state
    if not state.settings.metrics_public:
        _require_admin(request)
    text = render(state.proxy, state.db, state.runtime_name)
    return PlainTextResponse(text, media_type=CONTENT_TYPE)


def _require_admin(request: Request) -> None:
    headers = request.headers
    token = read_token(headers.get("authorization"), headers.get(API_KEY_HEADER))
    if token is None:
        raise Unauthorized("Missing API token: /metrics needs an admin token.")
    principal = request.app.state.token_verifier.verify(token)
    if principal is None:
        raise Unauthorized(INVALID_TOKEN)
    if not principal.is_admin:
        raise Forbidden("Only admins may read /metrics.", code="forbidden")


def _label(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def render(proxy: InvokeProxy, db: Database, runtime_name: str) -> str:
    lines: list[str] = []
    add = lines.append
    stats = proxy.stats
    totals = dict(stats.totals)  # a copy: the event loop keeps counting meanwhile

    add("# HELP dockyard_proxy_requests_total Requests proxied to workloads, by status class.")
    add("# TYPE dockyard_proxy_requests_total counter")
    for workload_id, counts in sorted(totals.items()):
        for name, amount in zip(_CLASSES, list(counts.by_class), strict=True):
            add(f'dockyard_proxy_requests_total{{workload_id="{_label(workload_id)}",'
                f'code="{name}"}} {amount}')  # fmt: skip

    add("# HELP dockyard_proxy_request_duration_seconds Time to the end of each response.")
    add("# TYPE dockyard_proxy_request_duration_seconds histogram")
    for workload_id, counts in sorted(totals.items()):
        label = f'workload_id="{_label(workload_id)}"'
        cumulative = 0
        for bound, amount in zip(LATENCY_BOUNDS_MS, list(counts.buckets), strict=True):
            cumulative += amount
            le = "+Inf" if bound == float("inf") else repr(bound / 1000)
            add(f'dockyard_proxy_request_duration_seconds_bucket{{{label},le="{le}"}} {cumulative}')
        add(f"dockyard_proxy_request_duration_seconds_sum{{{label}}} "
            f"{counts.latency_sum_ms / 1000:.6f}")  # fmt: skip
        add(f"dockyard_proxy_request_duration_seconds_count{{{label}}} {counts.requests}")

    add("# HELP dockyard_proxy_requests_in_flight Requests being proxied right now.")
    add("# TYPE dockyard_proxy_requests_in_flight gauge")
    for workload_id, amount in sorted(dict(stats.in_flight).items()):
        add(f'dockyard_proxy_requests_in_flight{{workload_id="{_label(workload_id)}"}} {amount}')

    add("# HELP dockyard_proxy_routes Workloads in the routing table, by ready replicas.")
    add("# TYPE dockyard_proxy_routes gauge")
    routes = list(proxy.table.routes.values())
    serving = sum(1 for route in routes if route.backends)
    add(f'dockyard_proxy_routes{{state="serving"}} {serving}')
    add(f'dockyard_proxy_routes{{state="unready"}} {len(routes) - serving}')

    workloads, replicas = repository.gauges(db)
    add("# HELP dockyard_workloads Workloads by status.")
    add("# TYPE dockyard_workloads gauge")
    for status, amount in sorted(workloads.items()):
        add(f'dockyard_workloads{{status="{_label(status)}"}} {amount}')
    add("# HELP dockyard_replicas Replicas of active protons, by readiness.")
    add("# TYPE dockyard_replicas gauge")
    add(f'dockyard_replicas{{ready="true"}} {replicas.get(True, 0)}')
    add(f'dockyard_replicas{{ready="false"}} {replicas.get(False, 0)}')
    add("# HELP dockyard_replica_restarts_total Container restarts of active replicas.")
    add("# TYPE dockyard_replica_restarts_total counter")
    add(f"dockyard_replica_restarts_total {replicas.get('restarts', 0)}")
    add("# HELP dockyard_runtime_info The runtime workloads run on.")
    add("# TYPE dockyard_runtime_info gauge")
    add(f'dockyard_runtime_info{{runtime="{_label(runtime_name)}"}} 1')
    return "\n".join(lines) + "\n"

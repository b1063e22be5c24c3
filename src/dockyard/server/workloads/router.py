"""HTTP routes of /workloads: authenticate, call one service function, return."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.responses import StreamingResponse
from pydantic import StringConstraints
from starlette.concurrency import run_in_threadpool

from dockyard.core.models import Page
from dockyard.core.workloads import (
    LogEntry,
    Proton,
    RelatedEntities,
    ReplicaStatusesSnapshot,
    Workload,
    WorkloadEvent,
    WorkloadOperation,
    WorkloadSettings,
)
from dockyard.server.db.work import UnitOfWork
from dockyard.server.kit.auth import CurrentUser
from dockyard.server.kit.pagination import Paging, page
from dockyard.server.platform import PlatformDep
from dockyard.server.sharing.router import add_shared_roles_routes
from dockyard.server.workloads import details, listing, logs, service
from dockyard.server.workloads.schemas import (
    WorkloadCreate,
    WorkloadFilters,
    WorkloadUpdate,
    workload_filters,
)

router = APIRouter(tags=["workloads"])
# The reference's telemetry path for the same logs: /api/v2/otel/workload/{id}/logs.
otel_router = APIRouter(tags=["workloads"])


LogText = Annotated[str, StringConstraints(max_length=1000)]
Filters = Annotated[WorkloadFilters, Depends(workload_filters)]


@router.post("", status_code=201, response_model=Workload)
async def create_workload(
    body: WorkloadCreate, user: CurrentUser, work: UnitOfWork, platform: PlatformDep
) -> Workload:
    return await work(service.create_workload, user, body, platform)


@router.get("", response_model=Page[Workload])
async def list_workloads(
    request: Request,
    user: CurrentUser,
    work: UnitOfWork,
    paging: Paging,
    filters: Filters,
    platform: PlatformDep,
) -> dict:
    rows, total = await work(listing.list_workloads, user, filters, paging, platform.base_url)
    return page(request, rows, total, paging)


@router.get("/{workload_id}", response_model=Workload)
async def get_workload(
    workload_id: str,
    request: Request,
    user: CurrentUser,
    work: UnitOfWork,
    platform: PlatformDep,
) -> Workload:
    workload, proton = await work(service.get_workload_and_proton, user, workload_id, platform)
    return await logs.fill_log_tail(request.app.state.runtime, workload, logs.tail_source(proton))


@router.patch("/{workload_id}", response_model=Workload)
async def update_workload(
    workload_id: str,
    body: WorkloadUpdate,
    user: CurrentUser,
    work: UnitOfWork,
    platform: PlatformDep,
) -> Workload:
    return await work(service.update_workload, user, workload_id, body, platform)


@router.delete("/{workload_id}", status_code=204, response_class=Response)
async def delete_workload(
    workload_id: str, user: CurrentUser, work: UnitOfWork, platform: PlatformDep
) -> Response:
    await work(service.delete_workload, user, workload_id, platform)
    return Response(status_code=204)


@router.post("/{workload_id}/start", status_code=202, response_model=WorkloadOperation)
async def start_workload(
    workload_id: str, user: CurrentUser, work: UnitOfWork, platform: PlatformDep
) -> WorkloadOperation:
    return await work(service.start_workload, user, workload_id, platform)


@router.post("/{workload_id}/stop", status_code=202, response_model=WorkloadOperation)
async def stop_workload(
    workload_id: str, user: CurrentUser, work: UnitOfWork, platform: PlatformDep
) -> WorkloadOperation:
    return await work(service.stop_workload, user, workload_id, platform)


@router.get("/{workload_id}/settings", response_model=WorkloadSettings)
async def get_settings(workload_id: str, user: CurrentUser, work: UnitOfWork) -> WorkloadSettings:
    return await work(service.get_settings, user, workload_id)


@router.get("/{workload_id}/events", response_model=Page[WorkloadEvent])
async def list_events(
    workload_id: str, request: Request, user: CurrentUser, work: UnitOfWork, paging: Paging
) -> dict:
    rows, total = await work(details.events, user, workload_id, paging)
    return page(request, rows, total, paging)


@router.get("/{workload_id}/protons", response_model=Page[Proton])
async def list_protons(
    workload_id: str,
    request: Request,
    user: CurrentUser,
    work: UnitOfWork,
    paging: Paging,
    platform: PlatformDep,
) -> dict:
    rows = await work(details.protons, user, workload_id, platform.base_url)
    return page(request, rows[paging.offset : paging.offset + paging.limit], len(rows), paging)


@router.get("/{workload_id}/protons/{proton_id}", response_model=Proton)
async def get_proton(
    workload_id: str, proton_id: str, user: CurrentUser, work: UnitOfWork, platform: PlatformDep
) -> Proton:
    return await work(details.proton, user, workload_id, proton_id, platform.base_url)


@router.get(
    "/{workload_id}/protons/{proton_id}/statusDetails",
    response_model=ReplicaStatusesSnapshot,
    responses={204: {"description": "No status has been recorded yet."}},
)
async def status_details(
    workload_id: str, proton_id: str, user: CurrentUser, work: UnitOfWork
) -> ReplicaStatusesSnapshot | Response:
    snapshot = await work(details.status_details, user, workload_id, proton_id)
    return snapshot if snapshot is not None else Response(status_code=204)


@router.get("/{workload_id}/related", response_model=RelatedEntities)
async def related(workload_id: str, user: CurrentUser, work: UnitOfWork) -> RelatedEntities:
    return await work(details.related, user, workload_id)


add_shared_roles_routes(
    router, path="/{object_id}", resolve=service.resolve_target, tag="workloads"
)


@router.get(
    "/{workload_id}/logs",
    response_model=Page[LogEntry],
    responses={200: {"content": {"application/x-ndjson": {}}}},
)
@otel_router.get("/{workload_id}/logs", response_model=Page[LogEntry])
async def workload_logs(
    workload_id: str,
    request: Request,
    user: CurrentUser,
    work: UnitOfWork,
    paging: Paging,
    level: Annotated[
        str | None, Query(max_length=16, description="Minimum level: debug, info, warn, error.")
    ] = None,
    start_time: Annotated[str | None, Query(alias="startTime", max_length=64)] = None,
    end_time: Annotated[str | None, Query(alias="endTime", max_length=64)] = None,
    includes: Annotated[
        list[LogText] | None,
        Query(max_length=20, description="Repeatable: a line must contain one of them."),
    ] = None,
    excludes: Annotated[
        list[LogText] | None,
        Query(max_length=20, description="Repeatable: a line must contain none of them."),
    ] = None,
    span_id: Annotated[str | None, Query(alias="spanId", max_length=64)] = None,
    trace_id: Annotated[str | None, Query(alias="traceId", max_length=64)] = None,
    follow: Annotated[bool, Query(description="Stream new lines as NDJSON.")] = False,
    timeout: Annotated[
        float,
        Query(gt=0, le=logs.FOLLOW_MAX_SECONDS, description="With follow: end after seconds."),
    ] = logs.FOLLOW_MAX_SECONDS,
) -> dict | StreamingResponse:
    query = logs.build_query(
        level,
        start_time,
        includes,
        end_time=end_time,
        excludes=excludes,
        span_id=span_id,
        trace_id=trace_id,
    )
    source = await work(logs.log_source, user, workload_id)
    runtime = request.app.state.runtime
    if follow:
        stream = logs.follow(
            request.app.state.db,
            runtime,
            workload_id,
            query,
            backlog=paging.limit,
            max_seconds=timeout,
            is_disconnected=request.is_disconnected,
            by_stream=source.by_stream,
        )
        return StreamingResponse(stream, media_type="application/x-ndjson")
    lines = await run_in_threadpool(logs.read_lines, runtime, source.proton_ids, None)
    entries, total = logs.newest_first(lines, query, paging, by_stream=source.by_stream)
    return page(request, entries, total, paging)

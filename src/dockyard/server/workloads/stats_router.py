"""HTTP routes of the request statistics, under /workloads (mounted before its `/{id}` routes)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response

from dockyard.core.stats import (
    MetricName,
    ProtonRequestMetricOverTime,
    ProtonRequestStats,
    Resolution,
    WorkloadStatsResponse,
)
from dockyard.server.db.work import UnitOfWork
from dockyard.server.kit.auth import CurrentUser
from dockyard.server.workloads import stats as service
from dockyard.server.workloads.schemas import WorkloadFilters, workload_filters
from dockyard.server.workloads.stats import StatsQuery

router = APIRouter(tags=["workloads"])


def _utc(moment: datetime | None) -> datetime | None:
    if moment is None:
        return None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def stats_query(
    proton_id: Annotated[str | None, Query(alias="protonId", max_length=64)] = None,
    start_time: Annotated[datetime | None, Query(alias="startTime")] = None,
    end_time: Annotated[datetime | None, Query(alias="endTime")] = None,
    quantile: Annotated[float, Query(alias="responseTimeQuantile", ge=0, le=1)] = 0.5,
    slow_ms: Annotated[float, Query(alias="slowRequestsThreshold", ge=0, le=1e9)] = 2000.0,
) -> StatsQuery:
    return StatsQuery(proton_id, _utc(start_time), _utc(end_time), quantile, slow_ms)


Stats = Annotated[StatsQuery, Depends(stats_query)]


async def _flush_pending(request: Request, work: UnitOfWork) -> None:
    # Counts still in memory are written first (in a transaction of their own, before the
    # request's), so an answer includes every request served.
    proxy = getattr(request.app.state, "proxy", None)
    if proxy is not None:
        await work.apart(proxy.stats.flush, request.app.state.db)


@router.get("/stats", response_model=WorkloadStatsResponse)
async def workloads_stats(
    request: Request,
    user: CurrentUser,
    work: UnitOfWork,
    filters: Annotated[WorkloadFilters, Depends(workload_filters)],
) -> WorkloadStatsResponse:
    await _flush_pending(request, work)
    return await work(service.workloads_stats, user, filters)


@router.get("/{workload_id}/stats", response_model=ProtonRequestStats)
async def workload_stats(
    workload_id: str, request: Request, user: CurrentUser, work: UnitOfWork, query: Stats
) -> ProtonRequestStats:
    await _flush_pending(request, work)
    return await work(service.proton_stats, user, workload_id, query)


@router.get("/{workload_id}/stats/{metric_name}", response_model=ProtonRequestMetricOverTime)
async def workload_metric(
    workload_id: str,
    metric_name: MetricName,
    request: Request,
    user: CurrentUser,
    work: UnitOfWork,
    query: Stats,
    resolution: Resolution = "P1D",
) -> ProtonRequestMetricOverTime:
    await _flush_pending(request, work)
    return await work(service.metric_over_time, user, workload_id, metric_name, resolution, query)


@router.delete("/{workload_id}/stats", status_code=204, response_class=Response)
async def clear_workload_stats(
    workload_id: str, request: Request, user: CurrentUser, work: UnitOfWork, query: Stats
) -> Response:
    await _flush_pending(request, work)
    await work(service.clear_stats, user, workload_id, query)
    return Response(status_code=204)

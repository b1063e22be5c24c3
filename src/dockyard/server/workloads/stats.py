"""Request statistics of workloads: windows, access, the figures of each stats endpoint, and
writing what the proxy counted."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy.orm import Session

from dockyard.core.errors import BadRequest, NotFound
from dockyard.core.stats import (
    ConcurrencyTrend,
    ErrorRateTrend,
    MetricBucket,
    MetricName,
    MetricSummary,
    Period,
    ProtonRequestMetricOverTime,
    ProtonRequestStats,
    RequestMetrics,
    RequestTotals,
    Resolution,
    ResponseTimeTrend,
    WorkloadCounts,
    WorkloadStatsResponse,
)
from dockyard.server.db.session import Database
from dockyard.server.kit.auth import Principal
from dockyard.server.kit.clock import isoformat, utcnow
from dockyard.server.sharing.roles import Right
from dockyard.server.statistics import repository
from dockyard.server.statistics.aggregate import Totals
from dockyard.server.statistics.models import RequestStat
from dockyard.server.statistics.recorder import Batch
from dockyard.server.workloads import listing
from dockyard.server.workloads import repository as workload_rows
from dockyard.server.workloads import service as workloads
from dockyard.server.workloads.schemas import WorkloadFilters
from dockyard.server.workloads.statuses import INACTIVE

DEFAULT_WINDOW = timedelta(days=1)
MAX_BUCKETS = 2000
RESOLUTIONS: dict[str, timedelta] = {
    "PT1M": timedelta(minutes=1),
    "PT5M": timedelta(minutes=5),
    "PT1H": timedelta(hours=1),
    "P1D": timedelta(days=1),
    "P7D": timedelta(days=7),
    "P1M": timedelta(days=30),  # a month of stats is read as 30 days
}
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_LAST = datetime(9000, 1, 1, tzinfo=UTC)  # leaves room for bucket arithmetic before year 9999


@dataclass(frozen=True)
class StatsQuery:
    proton_id: str | None = None
    start: datetime | None = None
    end: datetime | None = None
    quantile: float = 0.5
    slow_ms: float = 2000.0


def _period(start: datetime, end: datetime) -> Period:
    return Period(start=isoformat(start) or "", end=isoformat(end) or "")


def _window(query: StatsQuery) -> tuple[datetime, datetime]:
    end = query.end or utcnow()
    try:
        start = query.start or end - DEFAULT_WINDOW
    except OverflowError:  # an endTime in year 1
        raise BadRequest("endTime is out of range.", code="invalid_time_range") from None
    if start >= end:
        raise BadRequest("startTime must be before endTime.", code="invalid_time_range")
    # Nothing was counted before 1970 or after 9000: clipping keeps bucket arithmetic in range.
    start, end = max(start, _EPOCH), min(end, _LAST)
    if start >= end:
        raise BadRequest("The window holds no time Dockyard can count.", code="invalid_time_range")
    return start, end


def _proton(session: Session, workload_id: str, proton_id: str | None) -> str | None:
    if proton_id is None:
        active = workload_rows.active_proton(session, workload_id)
        return active.id if active is not None else None
    if workload_rows.get_proton(session, workload_id, proton_id) is not None:
        return proton_id
    # Rows of a proton since removed (a finished replacement) still count as its history.
    if not repository.has_rows_of(session, workload_id, proton_id):
        raise NotFound.of("proton", proton_id)
    return proton_id


def metrics_of(totals: Totals, minutes: float, query: StatsQuery) -> RequestMetrics:
    return RequestMetrics(
        concurrent_requests=totals.max_concurrency,
        requests_per_minute=round(totals.requests / minutes, 4) if minutes > 0 else 0.0,
        response_time=totals.quantile_ms(query.quantile),
        server_error_rate=round(totals.rate(totals.server_errors), 4),
        server_errors=totals.server_errors,
        slow_requests=totals.slower_than(query.slow_ms),
        total_error_rate=round(totals.rate(totals.server_errors + totals.user_errors), 4),
        total_requests=totals.requests,
        user_error_rate=round(totals.rate(totals.user_errors), 4),
        user_errors=totals.user_errors,
    )


def proton_stats(
    session: Session, principal: Principal, workload_id: str, query: StatsQuery
) -> ProtonRequestStats:
    workloads.require(session, principal, workload_id, Right.VIEW)
    start, end = _window(query)
    proton_id = _proton(session, workload_id, query.proton_id)
    rows = _rows(session, workload_id, proton_id, start, end)
    minutes = (end - start).total_seconds() / 60
    return ProtonRequestStats(
        metrics=metrics_of(Totals.of(rows), minutes, query),
        period=_period(start, end),
    )


def metric_over_time(
    session: Session,
    principal: Principal,
    workload_id: str,
    metric: MetricName,
    resolution: Resolution,
    query: StatsQuery,
) -> ProtonRequestMetricOverTime:
    workloads.require(session, principal, workload_id, Right.VIEW)
    start, end = _window(query)
    step = RESOLUTIONS[resolution]
    # Buckets sit on multiples of the resolution since the epoch (days start at 00:00 UTC).
    first = _EPOCH + step * ((start - _EPOCH) // step)
    if (end - first) / step > MAX_BUCKETS:
        raise BadRequest(
            f"The window holds more than {MAX_BUCKETS} buckets of {resolution}; "
            "choose a coarser resolution or a shorter window.",
            code="too_many_buckets",
        )
    proton_id = _proton(session, workload_id, query.proton_id)
    grouped: dict[int, Totals] = {}
    for row in _rows(session, workload_id, proton_id, start, end):
        index = (row.bucket_start - first) // step
        grouped.setdefault(index, Totals()).add(row)
    buckets = []
    index = 0
    while first + step * index < end:
        bucket_start = max(first + step * index, start)
        bucket_end = min(first + step * (index + 1), end)
        totals = grouped.get(index, Totals())
        minutes = (bucket_end - bucket_start).total_seconds() / 60
        buckets.append(
            MetricBucket(
                start=isoformat(bucket_start),
                end=isoformat(bucket_end),
                value=_value(metric, totals, minutes, query),
            )
        )
        index += 1
    return ProtonRequestMetricOverTime(
        metric=metric,
        summary=MetricSummary(proton_id=proton_id, period=_period(start, end)),
        buckets=buckets,
    )


def _value(metric: MetricName, totals: Totals, minutes: float, query: StatsQuery) -> float:
    if metric == "totalRequests":
        return totals.requests
    if metric == "requestsOverN":
        return totals.slower_than(query.slow_ms)
    if metric == "requestsPerMinute":
        return round(totals.requests / minutes, 4) if minutes > 0 else 0.0
    if metric == "concurrentRequests":
        return totals.max_concurrency
    if metric == "responseTime":
        return totals.quantile_ms(query.quantile)
    return round(totals.rate(totals.user_errors + totals.server_errors), 4)


def clear_stats(
    session: Session, principal: Principal, workload_id: str, query: StatsQuery
) -> None:
    workloads.require(session, principal, workload_id, Right.UPDATE)
    if query.start is not None and query.end is not None and query.start >= query.end:
        raise BadRequest("startTime must be before endTime.", code="invalid_time_range")
    proton_id = query.proton_id
    if proton_id is not None:
        _proton(session, workload_id, proton_id)
    # A partial window removes the minutes that start inside it.
    start = _minute_floor(query.start) if query.start is not None else None
    repository.delete_rows(
        session, repository.window_conditions([workload_id], proton_id, start, query.end)
    )


def record(db: Database, batch: Batch) -> None:
    """Store what the proxy counted (one transaction): the minute rows of the workloads that
    still exist, and each one's last response."""
    with db.unit_of_work() as session:
        existing = workload_rows.existing_ids(session, {key[0] for key in batch.buckets})
        repository.add_batch(session, batch, existing)
        workload_rows.note_last_responses(
            session, {w: m for w, m in batch.last_responses().items() if w in existing}
        )


def forget_stats(session: Session, workload_id: str) -> None:
    """All of a workload's statistics go (promote starts its production record afresh)."""
    repository.delete_rows(session, repository.window_conditions([workload_id], None, None, None))


def _minute_floor(moment: datetime) -> datetime:
    return moment.replace(second=0, microsecond=0)


def _rows(
    session: Session, workload_id: str, proton_id: str | None, start: datetime, end: datetime
) -> list[RequestStat]:
    return repository.rows_in(
        session,
        repository.window_conditions([workload_id], proton_id, _minute_floor(start), end),
    )


# --- across workloads -----------------------------------------------------------------------


def workloads_stats(
    session: Session, principal: Principal, filters: WorkloadFilters
) -> WorkloadStatsResponse:
    rows = workload_rows.statuses_where(session, listing.conditions(principal, filters))
    ids = [workload_id for workload_id, _ in rows]
    active = sum(1 for _, status in rows if status not in INACTIVE)
    end = utcnow()
    current = Totals.of(_all_rows(session, ids, end - DEFAULT_WINDOW, end))
    before = Totals.of(_all_rows(session, ids, end - 2 * DEFAULT_WINDOW, end - DEFAULT_WINDOW))
    now_rate = current.rate(current.user_errors + current.server_errors)
    old_rate = before.rate(before.user_errors + before.server_errors)
    return WorkloadStatsResponse(
        workloads=WorkloadCounts(active=active, total=len(ids)),
        requests=RequestTotals(
            total=current.requests,
            succeeded=current.succeeded,
            failed=current.requests - current.succeeded,
            trend=_trend(current.requests, before.requests),
        ),
        error_rate=ErrorRateTrend(rate=round(now_rate, 4), trend=_trend(now_rate, old_rate)),
        response_time=ResponseTimeTrend(
            millis=current.quantile_ms(0.5),
            trend=_trend(current.quantile_ms(0.5), before.quantile_ms(0.5)),
        ),
        concurrent_requests=ConcurrencyTrend(
            count=current.max_concurrency,
            trend=_trend(current.max_concurrency, before.max_concurrency),
        ),
    )


def _trend(now: float, before: float) -> float:
    if not before:
        return 0.0 if not now else 1.0
    return round((now - before) / before, 4)


def _all_rows(
    session: Session, ids: list[str], start: datetime, end: datetime
) -> list[RequestStat]:
    if not ids:
        return []
    return repository.rows_in(session, repository.window_conditions(ids, None, start, end))

"""`requestStats` on workload lists (`serviceStats=true`): a 7-day summary per workload."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from dockyard.core.stats import RequestStats
from dockyard.server.kit.clock import isoformat, utcnow
from dockyard.server.statistics import repository
from dockyard.server.statistics.aggregate import Totals


def request_stats_for(session: Session, workload_ids: list[str]) -> dict[str, RequestStats]:
    """`requestStats` of each workload on a list page: the last 7 days, one query."""
    if not workload_ids:
        return {}
    end = utcnow()
    start = end - timedelta(days=7)
    per_day: dict[str, list[Totals]] = {i: [Totals() for _ in range(7)] for i in workload_ids}
    last: dict[str, datetime] = {}
    for row in repository.rows_in(
        session,
        repository.window_conditions(
            workload_ids, None, start.replace(second=0, microsecond=0), end
        ),
    ):
        day = min(int((row.bucket_start - start).total_seconds() // 86400), 6)
        per_day[row.workload_id][max(day, 0)].add(row)
        if row.last_request_at and (
            row.workload_id not in last or row.last_request_at > last[row.workload_id]
        ):
            last[row.workload_id] = row.last_request_at
    result = {}
    for workload_id, days in per_day.items():
        week = Totals()
        for daily in days:
            week.requests += daily.requests
            week.by_class = [a + b for a, b in zip(week.by_class, daily.by_class, strict=True)]
            week.buckets = [a + b for a, b in zip(week.buckets, daily.buckets, strict=True)]
            week.latency_max_ms = max(week.latency_max_ms, daily.latency_max_ms)
            week.max_concurrency = max(week.max_concurrency, daily.max_concurrency)
        errors = week.user_errors + week.server_errors
        result[workload_id] = RequestStats(
            concurrent_requests=week.max_concurrency,
            error_rate=round(week.rate(errors), 4),
            error_rates=[round(d.rate(d.user_errors + d.server_errors), 4) for d in days],
            last_request_at=isoformat(last.get(workload_id)),
            request_rates=[round(d.requests / 1440, 4) for d in days],
            response_time=week.quantile_ms(0.5),
            total_requests=week.requests,
        )
    return result

"""Public models of request statistics (the `stats` endpoints and `requestStats` on workloads)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from dockyard.core.base import CamelModel

MetricName = Literal[
    "totalRequests",
    "requestsOverN",
    "requestsPerMinute",
    "concurrentRequests",
    "responseTime",
    "totalErrorRate",
]
Resolution = Literal["PT1M", "PT5M", "PT1H", "P1D", "P7D", "P1M"]


class Period(CamelModel):
    start: str
    end: str


class RequestMetrics(CamelModel):
    """What a proton served in a period. Rates are fractions (0..1); times are milliseconds."""

    concurrent_requests: int = Field(default=0, description="Most requests in flight at once.")
    requests_per_minute: float = 0
    response_time: float = Field(
        default=0, description="Response time (ms) at the asked quantile (default: the median)."
    )
    server_error_rate: float = 0
    server_errors: int = Field(default=0, description="Responses with a 5xx status.")
    slow_requests: int = Field(default=0, description="Requests slower than the threshold.")
    total_error_rate: float = 0
    total_requests: int = 0
    user_error_rate: float = 0
    user_errors: int = Field(default=0, description="Responses with a 4xx status.")


class ProtonRequestStats(CamelModel):
    metrics: RequestMetrics
    period: Period


class MetricSummary(CamelModel):
    proton_id: str | None = None
    period: Period


class MetricBucket(CamelModel):
    start: str
    end: str
    value: float


class ProtonRequestMetricOverTime(CamelModel):
    metric: MetricName
    summary: MetricSummary
    buckets: list[MetricBucket]


class RequestStats(CamelModel):
    """The short summary `GET /workloads?serviceStats=true` puts on each workload.

    Totals and rates cover the last 7 days; `errorRates` and `requestRates` hold one value per
    day of those 7 (oldest first; requests per minute, and error fractions).
    """

    concurrent_requests: int = 0
    error_rate: float = 0
    error_rates: list[float] = Field(default_factory=lambda: [0.0] * 7)
    last_request_at: str | None = None
    request_rates: list[float] = Field(default_factory=lambda: [0.0] * 7)
    response_time: float = Field(default=0, description="Median response time (ms).")
    total_requests: int = 0


class Trend(CamelModel):
    trend: float = Field(
        default=0, description="Change against the previous period, as a fraction (0.1 = +10%)."
    )


class WorkloadCounts(CamelModel):
    active: int = 0
    total: int = 0


class RequestTotals(Trend):
    total: int = 0
    succeeded: int = 0
    failed: int = 0


class ErrorRateTrend(Trend):
    rate: float = 0


class ResponseTimeTrend(Trend):
    millis: float = 0


class ConcurrencyTrend(Trend):
    count: int = 0


class WorkloadStatsResponse(CamelModel):
    """Aggregates over every workload the caller can see: the last 24 hours against the 24
    hours before."""

    workloads: WorkloadCounts
    requests: RequestTotals
    error_rate: ErrorRateTrend
    response_time: ResponseTimeTrend
    concurrent_requests: ConcurrencyTrend

"""Request statistics: one row per workload, proton and minute, summed across servers."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Float, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from dockyard.server.db.base import Base, UTCDateTime

# Upper bounds (ms) of the latency histogram's buckets; the last one is open-ended. 2000 is a
# bound so the default `slowRequestsThreshold` is counted exactly.
LATENCY_BOUNDS_MS: tuple[float, ...] = (
    5, 10, 25, 50, 100, 250, 500, 1000, 2000, 5000, 10000, 30000, float("inf")
)  # fmt: skip


def bucket_column(bound: float) -> str:
    return "le_inf" if bound == float("inf") else f"le_{int(bound)}ms"


BUCKET_COLUMNS: tuple[str, ...] = tuple(bucket_column(bound) for bound in LATENCY_BOUNDS_MS)
# Counters a flush adds to the stored row (histogram buckets are counters too).
SUMMED_COLUMNS: tuple[str, ...] = (
    "requests",
    "status_1xx",
    "status_2xx",
    "status_3xx",
    "status_4xx",
    "status_5xx",
    "latency_sum_ms",
    *BUCKET_COLUMNS,
)


class RequestStat(Base):
    __tablename__ = "request_stats"
    __table_args__ = (Index("ix_request_stats_workload_bucket", "workload_id", "bucket_start"),)

    workload_id: Mapped[str] = mapped_column(
        ForeignKey("workloads.id", ondelete="CASCADE"), primary_key=True
    )
    proton_id: Mapped[str] = mapped_column(String(24), primary_key=True)
    bucket_start: Mapped[datetime] = mapped_column(UTCDateTime(), primary_key=True)
    requests: Mapped[int] = mapped_column(Integer, default=0)
    status_1xx: Mapped[int] = mapped_column(Integer, default=0)  # and WebSocket sessions
    status_2xx: Mapped[int] = mapped_column(Integer, default=0)
    status_3xx: Mapped[int] = mapped_column(Integer, default=0)
    status_4xx: Mapped[int] = mapped_column(Integer, default=0)
    status_5xx: Mapped[int] = mapped_column(Integer, default=0)  # the proxy's 502/503/504 too
    latency_sum_ms: Mapped[float] = mapped_column(Float, default=0.0)
    latency_max_ms: Mapped[float] = mapped_column(Float, default=0.0)
    max_concurrency: Mapped[int] = mapped_column(Integer, default=0)
    last_request_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    le_5ms: Mapped[int] = mapped_column(Integer, default=0)
    le_10ms: Mapped[int] = mapped_column(Integer, default=0)
    le_25ms: Mapped[int] = mapped_column(Integer, default=0)
    le_50ms: Mapped[int] = mapped_column(Integer, default=0)
    le_100ms: Mapped[int] = mapped_column(Integer, default=0)
    le_250ms: Mapped[int] = mapped_column(Integer, default=0)
    le_500ms: Mapped[int] = mapped_column(Integer, default=0)
    le_1000ms: Mapped[int] = mapped_column(Integer, default=0)
    le_2000ms: Mapped[int] = mapped_column(Integer, default=0)
    le_5000ms: Mapped[int] = mapped_column(Integer, default=0)
    le_10000ms: Mapped[int] = mapped_column(Integer, default=0)
    le_30000ms: Mapped[int] = mapped_column(Integer, default=0)
    le_inf: Mapped[int] = mapped_column(Integer, default=0)

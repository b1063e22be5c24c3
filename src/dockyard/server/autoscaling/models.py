"""What each server's invoke proxy reports of the requests it holds, per workload."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from dockyard.server.db.base import Base, UTCDateTime


class InvokeLoad(Base):
    """One server's view of one workload's invoke traffic, rewritten every
    `DOCKYARD_LOAD_REPORT_SECONDS` while it changes. The autoscaler sums the fresh rows of
    every server; a row a stopped server left behind goes stale and counts for nothing."""

    __tablename__ = "invoke_load"
    __table_args__ = (Index("ix_invoke_load_workload_id", "workload_id"),)

    server_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    workload_id: Mapped[str] = mapped_column(String(24), primary_key=True)
    # replica name ("default-0") → [requests in flight now, mean in flight since the last report]
    replicas: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    waiting: Mapped[int] = mapped_column(Integer, default=0)  # held for a replica to wake
    last_request_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    reported_at: Mapped[datetime] = mapped_column(UTCDateTime())

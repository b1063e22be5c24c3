"""SQL of the autoscaler's inputs: each server's invoke load, written and summed."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import delete, select

from dockyard.server.autoscaling.models import InvokeLoad
from dockyard.server.db.session import Database
from dockyard.server.workloads.models import Workload


@dataclass(frozen=True)
class LoadReport:
    """What one server says of one workload's invoke traffic."""

    workload_id: str
    replicas: dict[str, tuple[int, float]]  # replica name → (in flight now, mean since last)
    waiting: int = 0
    last_request_at: datetime | None = None


@dataclass(frozen=True)
class WorkloadLoad:
    """Every server's fresh reports of one workload, summed."""

    in_flight: dict[str, int] = field(default_factory=dict)  # replica name → now
    mean: dict[str, float] = field(default_factory=dict)  # replica name → mean in flight
    waiting: int = 0
    last_request_at: datetime | None = None


def report(db: Database, server_id: str, reports: list[LoadReport], now: datetime) -> None:
    """Replace this server's rows for these workloads (one short transaction)."""
    if not reports:
        return
    with db.unit_of_work() as session:
        rows = {
            row.workload_id: row
            for row in session.scalars(
                select(InvokeLoad).where(
                    InvokeLoad.server_id == server_id,
                    InvokeLoad.workload_id.in_([r.workload_id for r in reports]),
                )
            )
        }
        for item in reports:
            row = rows.get(item.workload_id)
            if row is None:
                row = InvokeLoad(server_id=server_id, workload_id=item.workload_id)
                session.add(row)
            row.replicas = {
                name: [count, round(mean, 4)] for name, (count, mean) in item.replicas.items()
            }
            row.waiting = item.waiting
            if item.last_request_at is not None:
                row.last_request_at = item.last_request_at
            row.reported_at = now


def load_of(db: Database, workload_id: str, fresh_after: datetime) -> WorkloadLoad:
    """The sum of every server's reports on the workload; counts only from reports newer
    than `fresh_after` (an older row is a server that stopped, whose requests ended with it),
    the last request from all of them."""
    with db.unit_of_work(write=False) as session:
        rows = session.execute(
            select(
                InvokeLoad.replicas,
                InvokeLoad.waiting,
                InvokeLoad.last_request_at,
                InvokeLoad.reported_at,
            ).where(InvokeLoad.workload_id == workload_id)
        ).all()
    return sum_reports(rows, fresh_after)


def sum_reports(rows: Sequence[Any], fresh_after: datetime) -> WorkloadLoad:
    in_flight: dict[str, int] = {}
    mean: dict[str, float] = {}
    waiting = 0
    last: datetime | None = None
    for replicas, held, last_request_at, reported_at in rows:
        if last_request_at is not None and (last is None or last_request_at > last):
            last = last_request_at
        if reported_at < fresh_after:
            continue
        waiting += held or 0
        for name, (now_count, average) in (replicas or {}).items():
            in_flight[name] = in_flight.get(name, 0) + int(now_count)
            mean[name] = mean.get(name, 0.0) + float(average)
    return WorkloadLoad(in_flight, mean, waiting, last)


def forget_deleted_workloads(db: Database) -> int:
    """Drop the reports of workloads that no longer exist (their last request is history)."""
    with db.unit_of_work() as session:
        result = session.execute(
            delete(InvokeLoad).where(InvokeLoad.workload_id.not_in(select(Workload.id)))
        )
        return int(getattr(result, "rowcount", 0) or 0)

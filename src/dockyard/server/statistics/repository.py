"""SQL of request statistics: batch upserts of minute rows, window reads for the endpoints."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, cast

from sqlalchemy import ColumnElement, CursorResult, delete, func, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from dockyard.server.statistics.models import BUCKET_COLUMNS, SUMMED_COLUMNS, RequestStat
from dockyard.server.statistics.recorder import Batch

_KEY = ("workload_id", "proton_id", "bucket_start")


def add_batch(session: Session, batch: Batch, existing: set[str]) -> None:
    """Add a batch to the stored minute rows of the workloads in `existing` (safe with several
    servers)."""
    sqlite = session.get_bind().dialect.name == "sqlite"
    insert = sqlite_insert if sqlite else pg_insert
    greatest = func.max if sqlite else func.greatest  # SQLite's two-argument max is scalar
    table = RequestStat.__table__
    # Rows are locked in key order, so two servers flushing at once cannot deadlock.
    for (workload_id, proton_id, minute), counts in sorted(batch.buckets.items()):
        if workload_id not in existing:  # deleted since the request: nothing to count on
            continue
        values: dict[str, object] = {
            "workload_id": workload_id,
            "proton_id": proton_id,
            "bucket_start": datetime.fromtimestamp(minute, UTC),
            "requests": counts.requests,
            "latency_sum_ms": counts.latency_sum_ms,
            "latency_max_ms": counts.latency_max_ms,
            "max_concurrency": counts.max_concurrency,
            "last_request_at": (
                datetime.fromtimestamp(counts.last_request_at, UTC)
                if counts.last_request_at
                else None
            ),
        }
        for index, amount in enumerate(counts.by_class):
            values[f"status_{index + 1}xx"] = amount
        for column, amount in zip(BUCKET_COLUMNS, counts.buckets, strict=True):
            values[column] = amount
        statement = insert(RequestStat).values(values)
        excluded = statement.excluded
        changes = {name: table.c[name] + excluded[name] for name in SUMMED_COLUMNS}
        for name in ("latency_max_ms", "max_concurrency"):
            changes[name] = greatest(table.c[name], excluded[name])
        changes["last_request_at"] = greatest(
            func.coalesce(table.c.last_request_at, excluded.last_request_at),
            func.coalesce(excluded.last_request_at, table.c.last_request_at),
        )
        session.execute(statement.on_conflict_do_update(index_elements=_KEY, set_=changes))


def window_conditions(
    workload_ids: list[str] | None,
    proton_id: str | None,
    start: datetime | None,
    end: datetime | None,
) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = []
    if workload_ids is not None:
        conditions.append(RequestStat.workload_id.in_(workload_ids))
    if proton_id is not None:
        conditions.append(RequestStat.proton_id == proton_id)
    if start is not None:
        conditions.append(RequestStat.bucket_start >= start)
    if end is not None:
        conditions.append(RequestStat.bucket_start < end)
    return conditions


def rows_in(session: Session, conditions: list[ColumnElement[bool]]) -> list[RequestStat]:
    return list(
        session.scalars(select(RequestStat).where(*conditions).order_by(RequestStat.bucket_start))
    )


def delete_rows(session: Session, conditions: list[ColumnElement[bool]]) -> int:
    # A DELETE's result is a CursorResult, which has the row count; Session.execute is typed
    # for every statement, hence the cast.
    result = cast(CursorResult[Any], session.execute(delete(RequestStat).where(*conditions)))
    session.flush()
    return result.rowcount or 0


def has_rows_of(session: Session, workload_id: str, proton_id: str) -> bool:
    return (
        session.scalar(
            select(RequestStat.proton_id)
            .where(RequestStat.workload_id == workload_id, RequestStat.proton_id == proton_id)
            .limit(1)
        )
        is not None
    )


def last_request_times(session: Session, workload_ids: list[str]) -> dict[str, datetime]:
    rows = session.execute(
        select(RequestStat.workload_id, func.max(RequestStat.last_request_at))
        .where(RequestStat.workload_id.in_(workload_ids))
        .group_by(RequestStat.workload_id)
    )
    return {workload_id: moment for workload_id, moment in rows if moment is not None}

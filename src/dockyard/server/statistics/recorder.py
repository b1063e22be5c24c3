"""Request statistics in memory: counted per request on the event loop, flushed in batches.

`begin`/`end` are all a proxied request costs (a few dict operations, no I/O). A background
task hands the pending minute buckets to the writer it was given every
`DOCKYARD_STATS_FLUSH_SECONDS`; the stats endpoints flush first so they answer with every
request already served.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from bisect import bisect_left
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from dockyard.server.db.session import Database
from dockyard.server.statistics.models import LATENCY_BOUNDS_MS

log = logging.getLogger(__name__)

_N_BUCKETS = len(LATENCY_BOUNDS_MS)


@dataclass(slots=True)
class Counts:
    """What one workload's proton served in one minute (or, in `Totals`, since start)."""

    requests: int = 0
    by_class: list[int] = field(default_factory=lambda: [0] * 5)  # 1xx … 5xx
    latency_sum_ms: float = 0.0
    latency_max_ms: float = 0.0
    max_concurrency: int = 0
    last_request_at: float = 0.0  # unix time
    buckets: list[int] = field(default_factory=lambda: [0] * _N_BUCKETS)

    def add(self, status: int, latency_ms: float, now: float) -> None:
        self.requests += 1
        self.by_class[min(max(status // 100, 1), 5) - 1] += 1
        self.latency_sum_ms += latency_ms
        if latency_ms > self.latency_max_ms:
            self.latency_max_ms = latency_ms
        self.buckets[bisect_left(LATENCY_BOUNDS_MS, latency_ms)] += 1
        self.last_request_at = now


BucketKey = tuple[str, str, int]  # workload id, proton id, minute (unix seconds // 60 * 60)


@dataclass(frozen=True)
class Batch:
    buckets: dict[BucketKey, Counts]

    def last_responses(self) -> dict[str, datetime]:
        latest: dict[str, float] = {}
        for (workload_id, _, _), counts in self.buckets.items():
            if counts.requests and counts.last_request_at > latest.get(workload_id, 0.0):
                latest[workload_id] = counts.last_request_at
        return {wid: datetime.fromtimestamp(ts, UTC) for wid, ts in latest.items()}


class StatsCollector:
    def __init__(self, write: Callable[[Database, Batch], None]) -> None:
        # What stores a batch: the minute rows, and each workload's last response.
        self._write = write
        self._lock = threading.Lock()  # the stats endpoints drain from request threads
        self._flush_lock = threading.Lock()  # held across taking a batch and writing it
        self._pending: dict[BucketKey, Counts] = {}
        self.in_flight: dict[str, int] = {}
        # Since this process started, for /metrics (Prometheus wants monotonic counters).
        self.totals: dict[str, Counts] = {}
        self.upstream_errors: dict[tuple[str, str], int] = {}

    def begin(self, workload_id: str, proton_id: str) -> float:
        """A request enters; returns its start time (monotonic) for `end`."""
        concurrency = self.in_flight.get(workload_id, 0) + 1
        self.in_flight[workload_id] = concurrency
        now = time.time()
        with self._lock:
            counts = self._bucket(workload_id, proton_id, now)
            if concurrency > counts.max_concurrency:
                counts.max_concurrency = concurrency
        return time.perf_counter()

    def end(self, workload_id: str, proton_id: str, status: int, started: float) -> None:
        latency_ms = (time.perf_counter() - started) * 1000.0
        now = time.time()
        self.in_flight[workload_id] = max(self.in_flight.get(workload_id, 1) - 1, 0)
        with self._lock:  # held while counting so a concurrent `take` never loses a request
            self._bucket(workload_id, proton_id, now).add(status, latency_ms, now)
        total = self.totals.get(workload_id)
        if total is None:
            total = self.totals[workload_id] = Counts()
        total.add(status, latency_ms, now)

    def upstream_error(self, workload_id: str, kind: str) -> None:
        key = (workload_id, kind)
        self.upstream_errors[key] = self.upstream_errors.get(key, 0) + 1

    def _bucket(self, workload_id: str, proton_id: str, now: float) -> Counts:
        key = (workload_id, proton_id, int(now // 60) * 60)
        counts = self._pending.get(key)
        if counts is None:
            counts = self._pending[key] = Counts()
        return counts

    def take(self) -> Batch:
        with self._lock:
            pending, self._pending = self._pending, {}
        return Batch(pending)

    def flush(self, db: Database) -> int:
        """Write what is pending (any thread); returns the number of buckets written."""
        # One flush at a time: a stats request that flushes while the periodic flush is writing
        # must wait for that write, or it would read the database before those counts land.
        with self._flush_lock:
            batch = self.take()
            if not batch.buckets:
                return 0
            try:
                self._write(db, batch)
            except Exception:
                self._restore(batch)
                raise
            return len(batch.buckets)

    def _restore(self, batch: Batch) -> None:
        # A failed write keeps its counts for the next flush instead of losing them.
        with self._lock:
            for key, counts in batch.buckets.items():
                current = self._pending.get(key)
                if current is None:
                    self._pending[key] = counts
                    continue
                current.requests += counts.requests
                current.by_class = _sum(current.by_class, counts.by_class)
                current.latency_sum_ms += counts.latency_sum_ms
                current.latency_max_ms = max(current.latency_max_ms, counts.latency_max_ms)
                current.max_concurrency = max(current.max_concurrency, counts.max_concurrency)
                current.last_request_at = max(current.last_request_at, counts.last_request_at)
                current.buckets = _sum(current.buckets, counts.buckets)

    async def run(self, db: Database, interval: float) -> None:
        while True:
            await asyncio.sleep(interval)
            try:
                await asyncio.to_thread(self.flush, db)
            except Exception:
                log.exception("writing request statistics failed; will retry")


def _sum(left: list[int], right: list[int]) -> list[int]:
    return [a + b for a, b in zip(left, right, strict=True)]

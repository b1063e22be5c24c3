"""Invoke requests in flight per replica, counted in memory and reported to the database.

The autoscaler reads every server's reports (`autoscaling/repository.py`). A request costs two
dictionary look-ups and a clock reading here; the database sees one short write per
`DOCKYARD_LOAD_REPORT_SECONDS`, and only while a workload has traffic (plus one last report
that says it stopped). Besides the count now, each report carries the mean count since the
workload's previous report, which a burst between two reports moves as much as it should. A
report written at once for one workload (a wake, a load step past the autoscaler's threshold)
carries the count now as its mean, and the next one averages from there: a load step is not
averaged with the quiet time before it.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime

from dockyard.server.autoscaling import repository
from dockyard.server.autoscaling.repository import LoadReport
from dockyard.server.db.session import Database
from dockyard.server.kit.clock import utcnow

log = logging.getLogger(__name__)


class _Slot:
    """One replica's requests in flight on this server, and their integral over time."""

    __slots__ = ("count", "area", "since")

    def __init__(self, now: float) -> None:
        self.count = 0
        self.area = 0.0  # request-seconds since the last report
        self.since = now  # when `area` last moved

    def move(self, delta: int, now: float) -> None:
        self.area += self.count * (now - self.since)
        self.since = now
        self.count += delta


class _Workload:
    __slots__ = ("slots", "waiting", "last_request", "active", "reported_at")

    def __init__(self, now: float) -> None:
        self.slots: dict[str, _Slot] = {}
        self.waiting = 0
        self.last_request = 0.0  # unix time
        self.active = True  # something changed since the last report
        self.reported_at = now  # its last report, or when it was first counted


class LoadMeter:
    def __init__(
        self, server_id: str, interval: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.server_id = server_id
        self.interval = interval
        self._clock = clock
        self._workloads: dict[str, _Workload] = {}
        self._writing: asyncio.Lock | None = None

    # --- per request (the event loop) ---------------------------------------------------

    def begin(self, workload_id: str, replica: str) -> _Slot:
        now = self._clock()
        workload = self._workloads.get(workload_id)
        if workload is None:
            workload = self._workloads[workload_id] = _Workload(now)
        slot = workload.slots.get(replica)
        if slot is None:
            slot = workload.slots[replica] = _Slot(now)
        slot.move(1, now)
        workload.last_request = time.time()
        workload.active = True
        return slot

    def end(self, slot: _Slot) -> None:
        slot.move(-1, self._clock())

    def hold(self, workload_id: str) -> int:
        """A request waits for the workload to wake; returns how many wait now."""
        workload = self._workloads.get(workload_id)
        if workload is None:
            workload = self._workloads[workload_id] = _Workload(self._clock())
        workload.waiting += 1
        workload.last_request = time.time()
        workload.active = True
        return workload.waiting

    def release(self, workload_id: str) -> None:
        workload = self._workloads.get(workload_id)
        if workload is not None and workload.waiting > 0:
            workload.waiting -= 1
            workload.active = True

    def waiting(self, workload_id: str) -> int:
        workload = self._workloads.get(workload_id)
        return workload.waiting if workload is not None else 0

    # --- reports ----------------------------------------------------------------------

    def take(self, only: str | None = None) -> list[LoadReport]:
        """What changed since the last report (or the one workload `only`), as reports."""
        now = self._clock()
        reports = []
        for workload_id, workload in list(self._workloads.items()):
            if only is not None and workload_id != only:
                continue
            elapsed = max(now - workload.reported_at, 1e-6)
            workload.reported_at = now
            busy = workload.waiting > 0 or any(s.count for s in workload.slots.values())
            if not (workload.active or busy):
                if not workload.slots and not workload.waiting:
                    del self._workloads[workload_id]  # said it stopped; nothing to keep
                continue
            replicas = {}
            for name, slot in list(workload.slots.items()):
                slot.move(0, now)
                # Written at once for this workload: what is in flight now says more than a
                # mean over the moment since the last report.
                mean = slot.count if only is not None else slot.area / elapsed
                replicas[name] = (slot.count, mean)
                slot.area = 0.0
                if slot.count == 0:
                    del workload.slots[name]
            workload.active = busy
            last = (
                datetime.fromtimestamp(workload.last_request, UTC)
                if workload.last_request
                else None
            )
            reports.append(LoadReport(workload_id, replicas, workload.waiting, last))
        return reports

    async def report(self, db: Database, only: str | None = None) -> None:
        if self._writing is None:
            self._writing = asyncio.Lock()
        async with self._writing:
            reports = self.take(only)
            if reports:
                await asyncio.to_thread(repository.report, db, self.server_id, reports, utcnow())

    async def run(self, db: Database) -> None:
        while True:
            await asyncio.sleep(self.interval)
            try:
                await self.report(db)
            except asyncio.CancelledError:
                raise
            except Exception:  # the next report carries the counts again
                log.exception("reporting invoke load failed; will retry")

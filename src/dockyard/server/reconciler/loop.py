"""The reconciler's own thread: passes when nudged, when a workload is due, and on a sweep."""

from __future__ import annotations

import heapq
import logging
import math
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor

from dockyard.server.autoscaling import repository as load_reports
from dockyard.server.reconciler import repository
from dockyard.server.reconciler.context import PassContext
from dockyard.server.reconciler.pipeline import reconcile_workload

log = logging.getLogger(__name__)


class Reconciler:
    """Level-triggered: every pass compares desired and observed state from scratch, so a
    missed nudge or a crash costs at most one sweep interval, never correctness."""

    def __init__(self, ctx: PassContext, *, gc_seconds: float = 30.0) -> None:
        self.ctx = ctx
        self._gc_seconds = gc_seconds
        self._wake = threading.Condition()
        self._due: list[tuple[float, str]] = []  # heap of (monotonic time, workload id)
        self._next: dict[str, float] = {}  # the live entry per workload; older ones are stale
        self._nudged: set[str] = set()
        self._noticed: set[str] = set()  # changed on the runtime by themselves
        self._passing: set[str] = set()  # whose pass runs now
        self._sweep_requested = True
        self._stopping = False
        self._thread: threading.Thread | None = None
        self._periodic: list[Callable[[], object]] = []  # what a job returns is unused
        self._passes: ThreadPoolExecutor | None = None  # made on the first round

    def add_periodic(self, job: Callable[[], object]) -> None:
        """A job run after a round of passes that changed something, after a nudge and at
        every sweep (e.g. completing deployment switches)."""
        self._periodic.append(job)

    # --- control --------------------------------------------------------------------------

    def start(self) -> None:
        # A server killed mid-pass left its leases behind; they are ours to take back now.
        repository.release_leases_of(self.ctx.db, repository.lease_owner(self.ctx.server_id))
        self._thread = threading.Thread(target=self._run, name="dockyard-reconciler", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        with self._wake:
            self._stopping = True
            self._wake.notify_all()
        if self._thread is not None:
            self._thread.join(timeout)
        if self._passes is not None:
            self._passes.shutdown(wait=False)
        self.ctx.prober.close()

    def nudge(self, workload_id: str) -> None:
        """Called after a commit that changed what a workload wants: act now."""
        with self._wake:
            self._nudged.add(workload_id)
            self._wake.notify_all()

    def notice(self, workload_id: str) -> None:
        """Called when the runtime saw a workload's objects change by themselves (a container
        exited): look now. A workload this server has not seen yet (another installation's
        on the same engine) is not looked for."""
        with self._wake:
            if workload_id in self._next or workload_id in self._passing:
                self._noticed.add(workload_id)
                self._wake.notify_all()

    # --- work -----------------------------------------------------------------------------

    def run_pending(self) -> int:
        """Run every pass that is due now (the thread's body; tests call it directly)."""
        now = time.monotonic()
        with self._wake:
            nudged = set(self._nudged)
            self._nudged.clear()
            first = nudged | self._noticed
            ids = set(first)
            self._noticed.clear()
            sweep = self._sweep_requested
            self._sweep_requested = False
            ids.update(self._take_due(now))
        if sweep:
            known = repository.workload_versions(self.ctx.db)
            with self._wake:
                for gone in set(self._next) - set(known):
                    del self._next[gone]
            kept = self.ctx.snapshots
            for workload_id in [w for w, s in kept.items() if known.get(w, 0) != s.version]:
                del kept[workload_id]  # changed by someone else since (another server, a lock)
            ids.update(workload_id for workload_id in known if workload_id not in self._next)
        # What a user just asked for goes first, also when it arrives in the middle of the
        # round: passes that are merely due wait for it.
        queue = sorted(ids, key=lambda w: (w not in first, w))
        busy = self._round(queue, nudged, ids) or sweep or bool(nudged)
        if nudged and repository.missing_workloads(self.ctx.db, nudged):
            # A deleted workload's containers go now, not at the next periodic collection.
            self.collect_garbage()
        if busy:
            # Jobs react to what passes changed (a workload now running completes a deployment
            # switch); a round of quiet passes changed nothing, and the sweep catches the rest.
            for job in self._periodic:
                job()
        return len(ids)

    def _round(self, queue: list[str], nudged: set[str], ids: set[str]) -> bool:
        """Run the passes of `queue` in its order, up to `ctx.workers` at once, taking the
        nudges that arrive meanwhile next; whether any pass had something to do or record.

        Passes of different workloads overlap so that one whose containers are being created
        (most of a second each) does not hold up the others; two passes of one workload never
        run at once, so a workload nudged during its own pass gets another one after it."""
        busy = False
        position = 0
        running: dict[Future[float], str] = {}
        again: set[str] = set()  # nudged while their pass ran
        joined: set[str] = set()  # fell due during the round
        workers = max(1, self.ctx.workers)
        while True:
            # While the round's own passes wait for a worker, passes that fall due join it
            # (after them): a task that started early in a long round has its end seen in the
            # round. Only then, so that the round ends, and the sweep and the periodic jobs
            # come, however often passes fall due.
            waiting = set(queue[position:])
            may_join = bool(waiting - joined)
            with self._wake:
                # Woken by a finished pass (its callback), by a nudge, or when a pass falls due
                # while a worker is free.
                while (
                    running
                    and not (self._nudged or self._noticed)
                    and not any(f.done() for f in running)
                ):
                    due = self._due[0][0] - time.monotonic() if self._due else None
                    if not may_join or len(running) >= workers or due is None:
                        self._wake.wait()
                    elif due > 0:
                        self._wake.wait(due)
                    else:
                        break
                arrived = sorted(self._nudged | self._noticed)
                nudged.update(self._nudged)
                self._nudged.clear()
                self._noticed.clear()
                if may_join or arrived:
                    late = [w for w in self._take_due(time.monotonic()) if w not in waiting]
                    queue.extend(late)
                    ids.update(late)
                    joined.update(late)
            if arrived:
                ids.update(arrived)
                joined.difference_update(arrived)
                busy = True
                later = [w for w in queue[position:] if w not in arrived]
                queue = queue[:position] + arrived + later
            for future in [f for f in running if f.done()]:
                workload_id = running.pop(future)
                with self._wake:
                    self._passing.discard(workload_id)
                # A pass that kept no snapshot had something to do or to record.
                busy = busy or workload_id not in self.ctx.snapshots
                self._schedule(workload_id, future.result())
                if workload_id in again:
                    again.discard(workload_id)
                    queue.insert(position, workload_id)
            while position < len(queue) and len(running) < workers:
                workload_id = queue[position]
                position += 1
                if workload_id in running.values():
                    again.add(workload_id)
                    continue
                with self._wake:
                    self._passing.add(workload_id)
                future = self._pool().submit(self._pass, workload_id, workload_id in nudged)
                running[future] = workload_id
                future.add_done_callback(self._on_pass_done)
            if not running and position >= len(queue):
                return busy

    def _take_due(self, now: float) -> list[str]:
        """Pop the passes due by `now` (under `_wake`)."""
        found = []
        while self._due and self._due[0][0] <= now:
            when, workload_id = heapq.heappop(self._due)
            if self._next.get(workload_id) == when:
                found.append(workload_id)
        return found

    def _pass(self, workload_id: str, fresh: bool) -> float:
        try:
            return reconcile_workload(self.ctx, workload_id, fresh=fresh)
        except Exception:  # e.g. the database unreachable: this workload tries again later
            log.exception("workload %s: reconcile pass failed", workload_id)
            return 5.0

    def _on_pass_done(self, _: Future[float]) -> None:
        with self._wake:
            self._wake.notify_all()

    def _schedule(self, workload_id: str, delay: float) -> None:
        with self._wake:
            when = self._on_grid(time.monotonic(), delay)
            self._next[workload_id] = when
            heapq.heappush(self._due, (when, workload_id))

    def _pool(self) -> ThreadPoolExecutor:
        if self._passes is None:
            self._passes = ThreadPoolExecutor(
                max_workers=max(1, self.ctx.workers), thread_name_prefix="dockyard-pass"
            )
        return self._passes

    def _on_grid(self, now: float, delay: float) -> float:
        """When a pass asked for in `delay` seconds runs: at the grid step at or before it,
        unless that is (nearly) now, as for the pass right after a container started."""
        wanted = now + delay
        grid = self.ctx.pass_grid
        if grid <= 0:
            return wanted
        aligned = math.floor(wanted / grid) * grid
        return aligned if aligned - now >= 0.05 else wanted

    def collect_garbage(self) -> None:
        load_reports.forget_deleted_workloads(self.ctx.db)
        keep = repository.active_proton_ids(self.ctx.db)
        removed = self.ctx.runtime.garbage_collect(self.ctx.instance_id, keep)
        if removed:
            log.info("removed %d leftover runtime objects: %s", len(removed), ", ".join(removed))

    def _run(self) -> None:
        next_sweep = time.monotonic()
        next_gc = time.monotonic()
        while True:
            with self._wake:
                if self._stopping:
                    return
                now = time.monotonic()
                if now >= next_sweep:
                    self._sweep_requested = True
                    next_sweep = now + self.ctx.sweep_seconds
                wait = next_sweep - now
                if self._due:
                    wait = min(wait, self._due[0][0] - now)
                if not self._nudged and not self._sweep_requested and wait > 0:
                    self._wake.wait(wait)
                if self._stopping:
                    return
            try:
                self.run_pending()
                if time.monotonic() >= next_gc:
                    next_gc = time.monotonic() + self._gc_seconds
                    self.collect_garbage()
            except Exception:  # the loop must outlive any one bad pass
                log.exception("reconciler iteration failed")
                time.sleep(1.0)

"""The in-memory routing table: where each workload's traffic goes and who may send it.

One query for every workload (and small ones for deployments, their grants and the admins)
refreshes the whole table every
`DOCKYARD_PROXY_ROUTE_REFRESH_SECONDS`, and at once when the reconciler pokes it, so several
servers on one PostgreSQL database stay correct and no request ever waits on the database;
rights (and whether a deployment may still serve) are worked out here, not per request. The
table is rebuilt only when the rows read differ from the last ones.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from dockyard.core.workloads import WorkloadRuntime
from dockyard.server.autoscaling.rule import GroupScale, initial_replicas, scale_up_above
from dockyard.server.db.session import Database
from dockyard.server.kit.auth import Principal
from dockyard.server.proxy import repository
from dockyard.server.sharing.roles import Right, Role, best_level
from dockyard.server.workloads.statuses import INACTIVE

log = logging.getLogger(__name__)


@dataclass(eq=False)
class Backend:
    """One ready replica's primary container; `outstanding` counts requests in flight to it."""

    host: str
    port: int
    replica: str = ""  # its name, "default-0": what the autoscaler's load reports count by
    outstanding: int = 0

    @property
    def key(self) -> tuple[str, int]:
        return (self.host, self.port)


@dataclass(eq=False)
class Route:
    workload_id: str
    status: str
    desired_state: str
    proton_id: str | None
    backends: list[Backend] = field(default_factory=list)
    grants: dict[str, Right] = field(default_factory=dict)  # user id → effective right
    # statusDetails.reason of an errored workload. Its message (the engine's words, which may
    # name images and hosts) is left to those who may view the workload: a deployment's
    # callers may not.
    reason: str | None = None
    task: bool = False  # runs to completion and serves nothing: invoking it is a 409
    # The autoscaler sets its replica count: with none ready, a request is held while one
    # starts (a wake from zero) instead of answered 503.
    autoscaled: bool = False
    wake_error: str | None = None  # why the last wake failed, answered to held requests
    # Requests in flight (on this server) past which the autoscaler surely adds a replica
    # (`rule.scale_up_above`); None: no concurrency policy can add one now.
    scale_up_above: float | None = None
    scale_nudged_at: float = 0.0  # monotonic time the proxy last asked for a pass for it

    @property
    def stopped(self) -> bool:
        """No replica will become ready without a user's action: answer 503 at once."""
        return self.desired_state != "running" or self.status in INACTIVE

    def not_ready_message(self) -> str:
        """Why no replica answers, in the workload's own status (and reason when errored)."""
        if self.status == "errored":
            because = f" ({self.reason})" if self.reason else ""
            return (
                f"The workload is errored{because}; its statusDetails say why. Start it again "
                "once the cause is fixed."
            )
        if self.stopped:
            status = "stopping" if self.status not in INACTIVE else self.status
            return f"The workload is {status}; start it to invoke it."
        return f"The workload has no ready replica yet (it is {self.status}); retry soon."

    def level_for(self, principal: Principal) -> Right | None:
        return Right.OWN if principal.is_admin else self.grants.get(principal.user_id)


@dataclass(frozen=True)
class Alias:
    """A deployment: a stable endpoint in front of whichever workload backs it now."""

    deployment_id: str
    workload_id: str
    grants: dict[str, Right]  # its own grants, and OWN for its workload's owners
    # Whether one of its own owners may still update the workload: a deployment opens the
    # workload to others on its owners' authority, which ends when theirs does.
    serving: bool = True

    def level_for(self, principal: Principal) -> Right | None:
        return Right.OWN if principal.is_admin else self.grants.get(principal.user_id)


@dataclass(frozen=True)
class _Row:
    workload_id: str
    status: str
    desired_state: str
    proton_id: str | None
    ready: tuple[tuple[str, int, str], ...]  # host, port, replica name
    grants: dict[str, Right]
    reason: str | None = None
    task: bool = False
    autoscaled: bool = False
    wake_error: str | None = None
    scale_up_above: float | None = None


# The table's inputs as read: workload rows, deployment rows, grant rows, admin user ids.
def build_rows(raw: repository.Raw) -> tuple[list[_Row], list[Alias]]:
    result, deployments, grant_rows, admin_rows = raw
    admins = {user_id for (user_id,) in admin_rows}
    roles: dict[str, dict[str, list[str]]] = {}  # ids are unique across types (random)
    for resource_id, user_id, role in grant_rows:
        roles.setdefault(resource_id, {}).setdefault(user_id, []).append(role)
    rows: dict[str, _Row] = {}
    ready: dict[str, list[tuple[str, int, str]]] = {}
    for (
        workload_id, status, desired, reason, proton_id, task, scale, runtime, group, index,
        host, port, is_ready, draining_since,
    ) in result:  # fmt: skip
        if workload_id not in rows:
            grants = _grants(roles.get(workload_id, {}))
            wake_error = next((s.get("wakeError") for s in (scale or {}).values() if s), None)
            rows[workload_id] = _Row(
                workload_id, status, desired, proton_id, (), grants, reason,
                task=bool(task), autoscaled=bool(scale), wake_error=wake_error,
                scale_up_above=_scale_up_above(runtime, scale) if scale else None,
            )  # fmt: skip
            ready[workload_id] = []
        # A draining replica (scaled away) takes no new request; those in flight finish.
        if is_ready and host and port and draining_since is None:
            ready[workload_id].append((host, port, f"{group}-{index}"))
    routes = [
        _Row(
            r.workload_id,
            r.status,
            r.desired_state,
            r.proton_id,
            tuple(ready[i]),
            r.grants,
            r.reason,
            task=r.task,
            autoscaled=r.autoscaled,
            wake_error=r.wake_error,
            scale_up_above=r.scale_up_above,
        )
        for i, r in rows.items()
    ]
    aliases = [
        _alias(deployment_id, workload_id, pending_id, roles, admins)
        for deployment_id, workload_id, pending_id in deployments
    ]
    return routes, aliases


def _scale_up_above(runtime: dict[str, Any] | None, scale: dict[str, Any]) -> float | None:
    """The fewest requests in flight past which one of the workload's groups scales up."""
    try:
        groups = WorkloadRuntime.model_validate(runtime or {}).container_groups
    except ValueError:  # stored by an older version in a shape no longer read: no hint
        return None
    found: list[float] = []
    for group in groups:
        if group.autoscaling is None or not group.scaled():
            continue
        state = GroupScale.from_storage(scale.get(group.name), initial_replicas(group))
        above = scale_up_above(group.autoscaling, state.desired)
        if above is not None:
            found.append(above)
    return min(found, default=None)


def _grants(roles: dict[str, list[str]]) -> dict[str, Right]:
    return {user: level for user, user_roles in roles.items() if (level := best_level(user_roles))}


def _alias(
    deployment_id: str,
    workload_id: str,
    pending_id: str | None,
    roles: dict[str, dict[str, list[str]]],
    admins: set[str],
) -> Alias:
    """A deployment's entry, with the same rights the API gives (sharing.Target)."""
    own = roles.get(deployment_id, {})
    grants = _grants(own)
    for workload in (workload_id, pending_id):
        for user, user_roles in roles.get(workload or "", {}).items():
            if Role.OWNER in user_roles:
                grants[user] = Right.OWN
    workload_grants = _grants(roles.get(workload_id, {}))
    serving = any(
        user in admins or workload_grants.get(user, 0) >= Right.UPDATE
        for user, user_roles in own.items()
        if Role.OWNER in user_roles
    )
    return Alias(deployment_id, workload_id, grants, serving)


class RoutingTable:
    def __init__(self, db: Database, interval: float) -> None:
        self._db = db
        self._interval = interval
        self.routes: dict[str, Route] = {}
        self.deployments: dict[str, Alias] = {}
        self.version = 0  # bumped by every refresh
        self._read_at = 0.0  # monotonic time of the last read
        self._raw: repository.Raw | None = None  # the rows the table was last built from
        self._changed = asyncio.Event()  # set and replaced by every refresh
        self._wake: asyncio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._refreshing: asyncio.Future[None] | None = None
        # Told the (host, port) of replicas that left the table (the proxy closes its idle
        # connections to them).
        self.on_backends_gone: Callable[[set[tuple[str, int]]], None] | None = None

    # --- the reconciler's hook --------------------------------------------------------------

    def poke(self, workload_id: str | None = None) -> None:
        """Re-read the table now. Safe from any thread (the reconciler calls it after a pass
        changed a workload's replicas or status); `workload_id` is informational."""
        loop, wake = self._loop, self._wake
        if loop is None or wake is None or loop.is_closed():
            return
        # RuntimeError: the loop closed between the check and the call.
        with contextlib.suppress(RuntimeError):
            loop.call_soon_threadsafe(wake.set)

    # --- background refresh -----------------------------------------------------------------

    async def run(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._wake = asyncio.Event()
        while True:
            try:
                await self.refresh()
            except asyncio.CancelledError:
                raise
            except Exception:  # a database hiccup must not stop routing; keep the last table
                log.exception("refreshing the routing table failed")
            await _wait(self._wake, self._interval)
            self._wake.clear()

    async def refresh(self, *, rebuild: bool = False) -> None:
        """Re-read the table; concurrent callers share one read. `rebuild`: build it again
        even from the same rows (a request named an id the table does not hold)."""
        if self._refreshing is not None:
            await asyncio.shield(self._refreshing)
            return
        self._refreshing = asyncio.get_running_loop().create_future()
        try:
            raw = await asyncio.to_thread(repository.read_rows, self._db)
            if rebuild or raw != self._raw:
                rows, aliases = build_rows(raw)
                self._apply(rows)
                self.deployments = {alias.deployment_id: alias for alias in aliases}
                self._raw = raw
            self._refreshed()
            self._refreshing.set_result(None)
        except BaseException as exc:
            self._refreshing.set_exception(exc)
            self._refreshing.exception()  # retrieved: waiters re-raise it, nobody logs it twice
            raise
        finally:
            self._refreshing = None

    def _apply(self, rows: list[_Row]) -> None:
        old = self.routes
        fresh: dict[str, Route] = {}
        for row in rows:
            previous = old.get(row.workload_id)
            # Keep Backend objects that still exist: their outstanding counts are live.
            known = (
                {b.key: b for b in previous.backends}
                if previous is not None and previous.proton_id == row.proton_id
                else {}
            )
            backends = [
                known.get((host, port)) or Backend(host, port, name)
                for host, port, name in row.ready
            ]
            fresh[row.workload_id] = Route(
                row.workload_id,
                row.status,
                row.desired_state,
                row.proton_id,
                backends,
                row.grants,
                row.reason,
                task=row.task,
                autoscaled=row.autoscaled,
                wake_error=row.wake_error,
                scale_up_above=row.scale_up_above,
            )
            if previous is not None and previous.proton_id == row.proton_id:
                fresh[row.workload_id].scale_nudged_at = previous.scale_nudged_at
        self.routes = fresh
        if self.on_backends_gone is not None:
            before = {b.key for route in old.values() for b in route.backends}
            gone = before - {b.key for route in fresh.values() for b in route.backends}
            if gone:
                self.on_backends_gone(gone)

    def age(self) -> float:
        """Seconds since the table was last read from the database."""
        return time.monotonic() - self._read_at

    def _refreshed(self) -> None:
        # Every read counts as a refresh, changed or not: waiters re-check after each one.
        self._read_at = time.monotonic()
        self.version += 1
        changed, self._changed = self._changed, asyncio.Event()
        changed.set()

    async def wait_for_change(self, timeout: float) -> None:
        """Return after the next refresh, or after `timeout` seconds."""
        await _wait(self._changed, timeout)


async def _wait(event: asyncio.Event, timeout: float) -> None:
    """Until `event` is set or `timeout` seconds pass.

    Not `asyncio.wait_for`: before Python 3.12 it returns normally when it is cancelled just
    as the event is set, and the cancellation is lost (the routing table's loop then never
    ended, and a server's shutdown waited for it forever)."""
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(timeout):
            await event.wait()

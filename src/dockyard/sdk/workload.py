"""`Workload` and `AsyncWorkload`: the workload model with its verbs (start, stop, wait, logs,
invoke, …)."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable, Collection, Iterator
from typing import Any, ClassVar, Self

import httpx
from pydantic import PrivateAttr

from dockyard.core import workloads as core_workloads
from dockyard.core.workloads import LogEntry, Proton, Replacement, WorkloadEvent
from dockyard.sdk.base import (
    Bound,
    Query,
    async_list,
    awaited,
    blocking,
    blocking_list,
    compact,
    plain_query,
    tag_list,
)
from dockyard.sdk.errors import WaitTimeout, WorkloadFailed
from dockyard.sdk.invoke import invoke_call, invoked, with_scale_up
from dockyard.sdk.transport import AsyncRunner, Call, Operation, Pause, SyncRunner, discard, parse

# Statuses a workload does not leave by itself: waiting for anything else past them is futile.
FINAL_FAILURES = frozenset({"errored", "terminated"})
# Where a task's run is over, however it ended (`stopped`: a user stopped it).
RUN_OVER = frozenset({"succeeded", "failed", "stopped", *FINAL_FAILURES})
LOG_PAGE = 100  # the API's largest page


class WorkloadVerbs(core_workloads.Workload, Bound):
    """The operations behind `Workload`'s and `AsyncWorkload`'s methods."""

    # A finished task's output, oldest line first, as `run()` read it after the run ended.
    _output: list[LogEntry] = PrivateAttr(default_factory=list)

    @property
    def output(self) -> list[LogEntry]:
        """What `run()` read of the task's output (stdout INFO, stderr ERROR), oldest first."""
        return self._output

    def _read_output(self) -> Operation[Self]:
        """Every log line of the workload, oldest first, into `output`."""
        entries: list[LogEntry] = []
        offset = 0
        while True:
            params = {"offset": offset, "limit": LOG_PAGE}
            page = yield Call("GET", f"/workloads/{self.id}/logs", params=params)
            data = page.get("data", [])
            entries.extend(LogEntry.model_validate(item) for item in data)
            offset += len(data)
            if not data or offset >= page.get("totalCount", offset):
                break
        entries.reverse()  # newest first on the wire
        self._output = entries
        return self

    def _reload(self) -> Operation[Self]:
        return self._refreshed(Call("GET", f"/workloads/{self.id}"))

    def _start(self) -> Operation[Self]:
        """Ask for a start (202) and return the workload as it is right after."""
        return self._acted(Call("POST", f"/workloads/{self.id}/start"))

    def _stop(self) -> Operation[Self]:
        return self._acted(Call("POST", f"/workloads/{self.id}/stop"))

    def _promote(self) -> Operation[Self]:
        """Lock the draft artifact this workload runs, keeping the workload (202)."""
        return self._acted(Call("POST", f"/workloads/{self.id}/promote"))

    def _update(
        self,
        *,
        name: str | None = None,
        description: str | None = None,
        importance: str | None = None,
        tags: dict[str, str] | list[dict[str, str]] | None = None,
    ) -> Operation[Self]:
        body = compact(
            name=name, description=description, importance=importance, tags=tag_list(tags)
        )
        return self._refreshed(Call("PATCH", f"/workloads/{self.id}", json=body))

    def _update_settings(self, runtime: dict[str, Any]) -> Operation[Replacement]:
        """Change replicas and resources: the server rolls a replacement (202)."""
        call = Call("PATCH", f"/workloads/{self.id}/settings", json={"runtime": runtime})
        return parse(call, Replacement)

    def _replace_artifact(self, artifact_id: str, **fields: Any) -> Operation[Replacement]:
        """Roll this workload onto another artifact of the same status (202).

        `fields` are the rest of the request body in camelCase (`config`, `runtime`).
        """
        body = {"artifactId": artifact_id, **fields}
        return parse(Call("POST", f"/workloads/{self.id}/replacement", json=body), Replacement)

    def _history(self, *, limit: int | None = 100) -> Query[Replacement]:
        """Past and current rollouts (replacements, settings changes, promotes), newest first."""
        return plain_query(f"/workloads/{self.id}/history", Replacement, {}, limit)

    def _delete(self) -> Operation[None]:
        return discard(Call("DELETE", f"/workloads/{self.id}"))

    def _wait(
        self,
        status: str | Collection[str] = "running",
        *,
        timeout: float = 300.0,
        interval: float = 1.0,
        on_poll: Callable[[Self], None] | None = None,
    ) -> Operation[Self]:
        """Poll until the workload is in `status` (one or several); raise if it fails first.

        `WorkloadFailed` when it reaches `errored` or `terminated` while waiting for another
        status, `WaitTimeout` after `timeout` seconds.
        """
        targets = frozenset([status] if isinstance(status, str) else status)
        return self._waiting(targets, timeout, interval, on_poll)

    def _events(self, *, limit: int | None = 100) -> Query[WorkloadEvent]:
        return plain_query(f"/workloads/{self.id}/events", WorkloadEvent, {}, limit)

    def _protons(self) -> Query[Proton]:
        return plain_query(f"/workloads/{self.id}/protons", Proton, {}, None)

    def _logs(
        self,
        *,
        limit: int | None = 100,
        level: str | None = None,
        start_time: str | None = None,
        includes: str | None = None,
    ) -> Query[LogEntry]:
        """Log lines of every replica, newest first."""
        params = {"level": level, "startTime": start_time, "includes": includes}
        return plain_query(f"/workloads/{self.id}/logs", LogEntry, params, limit)

    def _follow_call(
        self, backlog: int, level: str | None, includes: str | None, timeout: float | None
    ) -> Call:
        params = compact(
            follow="true", limit=backlog, level=level, includes=includes, timeout=timeout
        )
        return Call("GET", f"/workloads/{self.id}/logs", params=params)

    def _invoke(
        self,
        path: str = "",
        *,
        method: str = "GET",
        json: Any = None,
        content: bytes | None = None,
        headers: dict[str, str] | None = None,
        params: dict[str, Any] | None = None,
        check: bool = True,
        scale_up_timeout: float | None = None,
    ) -> Operation[httpx.Response]:
        """Send a request to the workload's app through Dockyard's invoke endpoint.

        The app's own answer comes back as an `httpx.Response`, whatever its status. With
        `check`, an error *from Dockyard* (unknown workload, no ready replica, …) raises.
        `scale_up_timeout` lets Dockyard hold the request that long for a starting replica.
        """
        headers = with_scale_up(headers, scale_up_timeout)
        call = invoke_call(
            f"/endpoints/workloads/{self.id}", path, method, json, content, headers, params
        )
        return invoked(call, check)

    def _acted(self, call: Call) -> Operation[Self]:
        yield call
        body = yield Call("GET", f"/workloads/{self.id}")
        return self._take(type(self).model_validate(body))

    def _waiting(
        self,
        targets: frozenset[str],
        timeout: float,
        interval: float,
        on_poll: Callable[[Self], None] | None,
    ) -> Operation[Self]:
        deadline = time.monotonic() + timeout
        while True:
            body = yield Call("GET", f"/workloads/{self.id}")
            self._take(type(self).model_validate(body))
            if on_poll is not None:
                on_poll(self)
            if self.status in targets:
                return self
            wanted = " or ".join(sorted(targets))
            if self.status in FINAL_FAILURES - targets:
                details = self.status_details
                why = f" ({details.reason})" if details.reason else ""
                if details.message:
                    why += f": {details.message.rstrip('.')}"
                raise WorkloadFailed(
                    f"Workload {self.id} is {self.status}{why} (waited for {wanted}).",
                    code=f"workload_{self.status}",
                    workload_id=self.id,
                    status=self.status,
                    reason=details.reason,
                    status_message=details.message,
                )
            left = deadline - time.monotonic()
            if left <= 0:
                raise WaitTimeout(
                    f"Workload {self.id} is still {self.status} after {timeout:g} s "
                    f"(waited for {wanted})."
                )
            yield Pause(min(interval, left))


class Workload(WorkloadVerbs):
    """A workload of a `Client`."""

    reload: ClassVar = blocking(WorkloadVerbs._reload)
    start: ClassVar = blocking(WorkloadVerbs._start)
    stop: ClassVar = blocking(WorkloadVerbs._stop)
    promote: ClassVar = blocking(WorkloadVerbs._promote)
    update: ClassVar = blocking(WorkloadVerbs._update)
    update_settings: ClassVar = blocking(WorkloadVerbs._update_settings)
    replace_artifact: ClassVar = blocking(WorkloadVerbs._replace_artifact)
    history: ClassVar = blocking_list(WorkloadVerbs._history)
    delete: ClassVar = blocking(WorkloadVerbs._delete)
    wait: ClassVar = blocking(WorkloadVerbs._wait)
    events: ClassVar = blocking_list(WorkloadVerbs._events)
    protons: ClassVar = blocking_list(WorkloadVerbs._protons)
    logs: ClassVar = blocking_list(WorkloadVerbs._logs)
    invoke: ClassVar = blocking(WorkloadVerbs._invoke)

    def follow_logs(
        self,
        *,
        backlog: int = 100,
        level: str | None = None,
        includes: str | None = None,
        timeout: float | None = None,
    ) -> Iterator[LogEntry]:
        """Recent lines then new ones as they are written."""
        runner = self._runner()
        if not isinstance(runner, SyncRunner):
            raise TypeError("This object belongs to an AsyncClient.")
        for item in runner.stream_lines(self._follow_call(backlog, level, includes, timeout)):
            yield LogEntry.model_validate(item)


class AsyncWorkload(WorkloadVerbs):
    """A workload of an `AsyncClient`: the same methods, awaited."""

    reload: ClassVar = awaited(WorkloadVerbs._reload)
    start: ClassVar = awaited(WorkloadVerbs._start)
    stop: ClassVar = awaited(WorkloadVerbs._stop)
    promote: ClassVar = awaited(WorkloadVerbs._promote)
    update: ClassVar = awaited(WorkloadVerbs._update)
    update_settings: ClassVar = awaited(WorkloadVerbs._update_settings)
    replace_artifact: ClassVar = awaited(WorkloadVerbs._replace_artifact)
    history: ClassVar = async_list(WorkloadVerbs._history)
    delete: ClassVar = awaited(WorkloadVerbs._delete)
    wait: ClassVar = awaited(WorkloadVerbs._wait)
    events: ClassVar = async_list(WorkloadVerbs._events)
    protons: ClassVar = async_list(WorkloadVerbs._protons)
    logs: ClassVar = async_list(WorkloadVerbs._logs)
    invoke: ClassVar = awaited(WorkloadVerbs._invoke)

    async def follow_logs(
        self,
        *,
        backlog: int = 100,
        level: str | None = None,
        includes: str | None = None,
        timeout: float | None = None,
    ) -> AsyncIterator[LogEntry]:
        """Recent lines then new ones as they are written (`async for`)."""
        runner = self._runner()
        if not isinstance(runner, AsyncRunner):
            raise TypeError("This object belongs to a blocking Client.")
        call = self._follow_call(backlog, level, includes, timeout)
        async for item in runner.stream_lines(call):
            yield LogEntry.model_validate(item)

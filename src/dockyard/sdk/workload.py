"""`Workload`: the workload model with its verbs (start, stop, wait, logs, invoke, …)."""

from __future__ import annotations

import time
from collections.abc import Callable, Collection, Iterator
from typing import Any

import httpx

from dockyard.core import workloads as core_workloads
from dockyard.core.workloads import LogEntry, Proton, Replacement, WorkloadEvent
from dockyard.sdk.base import Bound, Listing, compact, tag_list
from dockyard.sdk.errors import WaitTimeout, WorkloadFailed
from dockyard.sdk.invoke import invoke_call, invoked, with_scale_up
from dockyard.sdk.transport import Call, Operation, Pause, discard, parse

# Statuses a workload does not leave by itself: waiting for anything else past them is futile.
FINAL_FAILURES = frozenset({"errored", "terminated"})


class Workload(core_workloads.Workload, Bound):
    def reload(self) -> Workload:
        return self._run(self._refreshed(Call("GET", f"/workloads/{self.id}")))

    def start(self) -> Workload:
        """Ask for a start (202) and return the workload as it is right after."""
        return self._run(self._acted(Call("POST", f"/workloads/{self.id}/start")))

    def stop(self) -> Workload:
        return self._run(self._acted(Call("POST", f"/workloads/{self.id}/stop")))

    def promote(self) -> Workload:
        """Lock the draft artifact this workload runs, keeping the workload (202)."""
        return self._run(self._acted(Call("POST", f"/workloads/{self.id}/promote")))

    def update(
        self,
        *,
        name: str | None = None,
        description: str | None = None,
        importance: str | None = None,
        tags: dict[str, str] | list[dict[str, str]] | None = None,
    ) -> Workload:
        body = compact(
            name=name, description=description, importance=importance, tags=tag_list(tags)
        )
        return self._run(self._refreshed(Call("PATCH", f"/workloads/{self.id}", json=body)))

    def update_settings(self, runtime: dict[str, Any]) -> Replacement:
        """Change replicas and resources: the server rolls a replacement (202)."""
        call = Call("PATCH", f"/workloads/{self.id}/settings", json={"runtime": runtime})
        return self._run(parse(call, Replacement))

    def replace_artifact(self, artifact_id: str, **fields: Any) -> Replacement:
        """Roll this workload onto another artifact of the same status (202).

        `fields` are the rest of the request body in camelCase (`config`, `runtime`).
        """
        body = {"artifactId": artifact_id, **fields}
        call = Call("POST", f"/workloads/{self.id}/replacement", json=body)
        return self._run(parse(call, Replacement))

    def history(self, *, limit: int | None = 100) -> Listing[Replacement]:
        """Past and current rollouts (replacements, settings changes, promotes), newest first."""
        return self._listing(f"/workloads/{self.id}/history", Replacement, {}, limit)

    def delete(self) -> None:
        return self._run(discard(Call("DELETE", f"/workloads/{self.id}")))

    def wait(
        self,
        status: str | Collection[str] = "running",
        *,
        timeout: float = 300.0,
        interval: float = 1.0,
        on_poll: Callable[[Workload], None] | None = None,
    ) -> Workload:
        """Poll until the workload is in `status` (one or several); raise if it fails first.

        `WorkloadFailed` when it reaches `errored` or `terminated` while waiting for another
        status, `WaitTimeout` after `timeout` seconds.
        """
        targets = frozenset([status] if isinstance(status, str) else status)
        return self._run(self._waiting(targets, timeout, interval, on_poll))

    def events(self, *, limit: int | None = 100) -> Listing[WorkloadEvent]:
        return self._listing(f"/workloads/{self.id}/events", WorkloadEvent, {}, limit)

    def protons(self) -> Listing[Proton]:
        return self._listing(f"/workloads/{self.id}/protons", Proton, {}, None)

    def logs(
        self,
        *,
        limit: int | None = 100,
        level: str | None = None,
        start_time: str | None = None,
        includes: str | None = None,
    ) -> Listing[LogEntry]:
        """Log lines of every replica, newest first."""
        params = {"level": level, "startTime": start_time, "includes": includes}
        return self._listing(f"/workloads/{self.id}/logs", LogEntry, params, limit)

    def follow_logs(
        self,
        *,
        backlog: int = 100,
        level: str | None = None,
        includes: str | None = None,
        timeout: float | None = None,
    ) -> Iterator[LogEntry]:
        """Recent lines then new ones as they are written (an async iterator on AsyncClient)."""
        assert self._client is not None
        params = compact(
            follow="true", limit=backlog, level=level, includes=includes, timeout=timeout
        )
        call = Call("GET", f"/workloads/{self.id}/logs", params=params)
        return self._client._stream(call, LogEntry.model_validate)

    def invoke(
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
    ) -> httpx.Response:
        """Send a request to the workload's app through Dockyard's invoke endpoint.

        The app's own answer comes back as an `httpx.Response`, whatever its status. With
        `check`, an error *from Dockyard* (unknown workload, no ready replica, …) raises.
        `scale_up_timeout` lets Dockyard hold the request that long for a starting replica.
        """
        headers = with_scale_up(headers, scale_up_timeout)
        call = invoke_call(
            f"/endpoints/workloads/{self.id}", path, method, json, content, headers, params
        )
        return self._run(invoked(call, check))

    def _listing(
        self, path: str, model: type[Any], params: dict[str, Any], limit: int | None
    ) -> Listing[Any]:
        assert self._client is not None
        return Listing(self._client, path, params, model.model_validate, limit)

    def _refreshed(self, call: Call) -> Operation[Workload]:
        body = yield call
        return self._take(Workload.model_validate(body))

    def _acted(self, call: Call) -> Operation[Workload]:
        yield call
        body = yield Call("GET", f"/workloads/{self.id}")
        return self._take(Workload.model_validate(body))

    def _waiting(
        self,
        targets: frozenset[str],
        timeout: float,
        interval: float,
        on_poll: Callable[[Workload], None] | None,
    ) -> Operation[Workload]:
        deadline = time.monotonic() + timeout
        while True:
            body = yield Call("GET", f"/workloads/{self.id}")
            self._take(Workload.model_validate(body))
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

"""The objects the SDK returns: the public models of `dockyard.core`, with methods.

`Artifact`, `ArtifactRepository`, `Workload` and `Deployment` know the client they came from,
so `workload.reload()`, `workload.stop()`, `artifact.lock()` work on the object itself.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Collection, Iterator
from typing import Any

import httpx

from dockyard.core import artifacts as core_artifacts
from dockyard.core import deployments as core_deployments
from dockyard.core import workloads as core_workloads
from dockyard.core.deployments import AuditLog
from dockyard.core.models import ApiToken, CreatedApiToken, Page, SharedRole, User
from dockyard.core.workloads import (
    LogEntry,
    Proton,
    Replacement,
    WorkloadEvent,
    WorkloadOperation,
)
from dockyard.sdk.base import Bound, Listing, compact, tag_list
from dockyard.sdk.errors import WaitTimeout, WorkloadFailed, error_for, is_error_body
from dockyard.sdk.transport import Call, Operation, Pause, discard

__all__ = [
    "ApiToken",
    "Artifact",
    "ArtifactRepository",
    "AuditLog",
    "CreatedApiToken",
    "Deployment",
    "LogEntry",
    "Page",
    "Proton",
    "Replacement",
    "SharedRole",
    "User",
    "Workload",
    "WorkloadEvent",
    "WorkloadOperation",
]

# Statuses a workload does not leave by itself: waiting for anything else past them is futile.
FINAL_FAILURES = frozenset({"errored", "terminated"})


class Artifact(core_artifacts.Artifact, Bound):
    def reload(self) -> Artifact:
        return self._run(self._refreshed(Call("GET", f"/artifacts/{self.id}")))

    def update(
        self,
        *,
        name: str | None = None,
        description: str | None = None,
        spec: dict[str, Any] | None = None,
        tags: dict[str, str] | list[dict[str, str]] | None = None,
    ) -> Artifact:
        """PATCH: only the fields given change (a `spec` replaces the whole spec)."""
        body = compact(name=name, description=description, spec=spec, tags=tag_list(tags))
        return self._run(self._refreshed(Call("PATCH", f"/artifacts/{self.id}", json=body)))

    def lock(self) -> Artifact:
        """Lock this draft into the next version of its repository."""
        call = Call("PATCH", f"/artifacts/{self.id}", json={"status": "locked"})
        return self._run(self._refreshed(call))

    def clone(self, name: str) -> Artifact:
        """A new draft in the same repository with this artifact's spec."""
        return self._run(
            self._new(Call("POST", f"/artifacts/{self.id}/clone", json={"name": name}))
        )

    def delete(self) -> None:
        return self._run(discard(Call("DELETE", f"/artifacts/{self.id}")))

    def _refreshed(self, call: Call) -> Operation[Artifact]:
        body = yield call
        return self._take(Artifact.model_validate(body))

    def _new(self, call: Call) -> Operation[Artifact]:
        body = yield call
        assert self._client is not None
        return Artifact.model_validate(body)._bind(self._client)


class ArtifactRepository(core_artifacts.ArtifactRepository, Bound):
    def reload(self) -> ArtifactRepository:
        return self._run(self._refreshed(Call("GET", f"/artifactRepositories/{self.id}")))

    def artifacts(
        self, *, status: str | None = None, limit: int | None = None
    ) -> Listing[Artifact]:
        assert self._client is not None
        return self._client.artifacts.list(repository_id=self.id, status=status, limit=limit)

    def delete(self) -> None:
        return self._run(discard(Call("DELETE", f"/artifactRepositories/{self.id}")))

    def _refreshed(self, call: Call) -> Operation[ArtifactRepository]:
        body = yield call
        return self._take(ArtifactRepository.model_validate(body))


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
        return self._run(_model(call, Replacement))

    def replace_artifact(self, artifact_id: str, **fields: Any) -> Replacement:
        """Roll this workload onto another artifact of the same status (202).

        `fields` are the rest of the request body in camelCase (`config`, `runtime`).
        """
        body = {"artifactId": artifact_id, **fields}
        call = Call("POST", f"/workloads/{self.id}/replacement", json=body)
        return self._run(_model(call, Replacement))

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
        headers = _with_scale_up(headers, scale_up_timeout)
        call = _invoke_call(
            f"/endpoints/workloads/{self.id}", path, method, json, content, headers, params
        )
        return self._run(_invoked(call, check))

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
                raise WorkloadFailed(
                    f"Workload {self.id} is {self.status} (waited for {wanted}).",
                    code=f"workload_{self.status}",
                )
            left = deadline - time.monotonic()
            if left <= 0:
                raise WaitTimeout(
                    f"Workload {self.id} is still {self.status} after {timeout:g} s "
                    f"(waited for {wanted})."
                )
            yield Pause(min(interval, left))


class Deployment(core_deployments.Deployment, Bound):
    def reload(self) -> Deployment:
        return self._run(self._refreshed(Call("GET", f"/console/deployments/{self.id}")))

    def update(
        self,
        *,
        name: str | None = None,
        description: str | None = None,
        workload_id: str | None = None,
        tags: dict[str, str] | list[dict[str, str]] | None = None,
    ) -> Deployment:
        """PATCH; a new `workload_id` switches traffic once that workload is running."""
        body = compact(
            name=name, description=description, workloadId=workload_id, tags=tag_list(tags)
        )
        return self._run(
            self._refreshed(Call("PATCH", f"/console/deployments/{self.id}", json=body))
        )

    def start(self) -> Deployment:
        return self._run(self._refreshed(Call("POST", f"/console/deployments/{self.id}/start")))

    def stop(self) -> Deployment:
        return self._run(self._refreshed(Call("POST", f"/console/deployments/{self.id}/stop")))

    def delete(self) -> None:
        return self._run(discard(Call("DELETE", f"/console/deployments/{self.id}")))

    def audit(self) -> AuditLog:
        """The whole audit trail, oldest first, with `verified` (the hash chain recomputes)."""
        return self._run(audit_log(self.id))

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
        headers = _with_scale_up(headers, scale_up_timeout)
        call = _invoke_call(
            f"/endpoints/deployments/{self.id}", path, method, json, content, headers, params
        )
        return self._run(_invoked(call, check))

    def _refreshed(self, call: Call) -> Operation[Deployment]:
        body = yield call
        return self._take(Deployment.model_validate(body))


def audit_log(deployment_id: str) -> Operation[AuditLog]:
    """Every page of the audit log merged into one, so `verified` covers the whole chain."""
    path = f"/console/deployments/{deployment_id}/auditLog"
    body = yield Call("GET", path, params={"offset": 0, "limit": 100})
    entries = list(body["data"])
    while body.get("next") and body["data"]:
        body = yield Call("GET", path, params={"offset": len(entries), "limit": 100})
        entries.extend(body["data"])
    merged = {**body, "data": entries, "count": len(entries), "next": None, "previous": None}
    return AuditLog.model_validate(merged)


def _model(call: Call, model: type[Any]) -> Operation[Any]:
    body = yield call
    return model.model_validate(body)


def _invoke_call(
    base: str,
    path: str,
    method: str,
    json: Any,
    content: bytes | None,
    headers: dict[str, str] | None,
    params: dict[str, Any] | None,
) -> Call:
    return Call(
        method.upper(),
        f"{base}/{path.lstrip('/')}",
        params=params,
        json=json,
        content=content,
        headers=headers or {},
        raw=True,
    )


def _with_scale_up(headers: dict[str, str] | None, seconds: float | None) -> dict[str, str]:
    headers = dict(headers or {})
    if seconds is not None:
        headers["X-Scale-Up-Timeout"] = f"{seconds:g}"
    return headers


def _invoked(call: Call, check: bool) -> Operation[httpx.Response]:
    response: httpx.Response = yield call
    if check and response.status_code >= 400 and is_error_body(response):
        raise error_for(response)
    return response

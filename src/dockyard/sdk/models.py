"""The objects the SDK returns: the public models of `dockyard.core`, with methods.

`Artifact`, `ArtifactRepository`, `Workload` and `Deployment` know the client they came from,
so `workload.reload()`, `workload.stop()`, `artifact.lock()` work on the object itself.
"""

from __future__ import annotations

from typing import Any

import httpx

from dockyard.core import artifacts as core_artifacts
from dockyard.core import deployments as core_deployments
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
from dockyard.sdk.invoke import invoke_call, invoked, with_scale_up
from dockyard.sdk.transport import Call, Operation, discard
from dockyard.sdk.workload import Workload

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
        headers = with_scale_up(headers, scale_up_timeout)
        call = invoke_call(
            f"/endpoints/deployments/{self.id}", path, method, json, content, headers, params
        )
        return self._run(invoked(call, check))

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

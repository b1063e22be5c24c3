"""The objects the SDK returns: the public models of `dockyard.core`, with methods.

`Artifact`, `ArtifactRepository`, `Workload` and `Deployment` know the client they came from,
so `workload.reload()`, `workload.stop()`, `artifact.lock()` work on the object itself. An
`AsyncClient` returns their `Async…` flavours, whose methods are coroutines.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar, Self, TypeVar

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
from dockyard.sdk.base import (
    Bound,
    Query,
    async_list,
    awaited,
    blocking,
    blocking_list,
    compact,
    tag_list,
)
from dockyard.sdk.invoke import invoke_call, invoked, with_scale_up
from dockyard.sdk.transport import Call, Operation, discard
from dockyard.sdk.workload import AsyncWorkload, Workload

if TYPE_CHECKING:
    from dockyard.sdk.client import BaseClient

A = TypeVar("A", bound=Bound)

__all__ = [
    "ApiToken",
    "Artifact",
    "ArtifactRepository",
    "AsyncArtifact",
    "AsyncArtifactRepository",
    "AsyncDeployment",
    "AsyncWorkload",
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


class ArtifactVerbs(core_artifacts.Artifact, Bound):
    """The operations behind `Artifact`'s and `AsyncArtifact`'s methods."""

    def _reload(self) -> Operation[Self]:
        return self._refreshed(Call("GET", f"/artifacts/{self.id}"))

    def _update(
        self,
        *,
        name: str | None = None,
        description: str | None = None,
        spec: dict[str, Any] | None = None,
        tags: dict[str, str] | list[dict[str, str]] | None = None,
    ) -> Operation[Self]:
        """PATCH: only the fields given change (a `spec` replaces the whole spec)."""
        body = compact(name=name, description=description, spec=spec, tags=tag_list(tags))
        return self._refreshed(Call("PATCH", f"/artifacts/{self.id}", json=body))

    def _lock(self) -> Operation[Self]:
        """Lock this draft into the next version of its repository."""
        return self._refreshed(Call("PATCH", f"/artifacts/{self.id}", json={"status": "locked"}))

    def _clone(self, name: str) -> Operation[Self]:
        """A new draft in the same repository with this artifact's spec."""
        return self._new(Call("POST", f"/artifacts/{self.id}/clone", json={"name": name}))

    def _delete(self) -> Operation[None]:
        return discard(Call("DELETE", f"/artifacts/{self.id}"))


class Artifact(ArtifactVerbs):
    """An artifact of a `Client`."""

    reload: ClassVar = blocking(ArtifactVerbs._reload)
    update: ClassVar = blocking(ArtifactVerbs._update)
    lock: ClassVar = blocking(ArtifactVerbs._lock)
    clone: ClassVar = blocking(ArtifactVerbs._clone)
    delete: ClassVar = blocking(ArtifactVerbs._delete)


class AsyncArtifact(ArtifactVerbs):
    """An artifact of an `AsyncClient`: the same methods, awaited."""

    reload: ClassVar = awaited(ArtifactVerbs._reload)
    update: ClassVar = awaited(ArtifactVerbs._update)
    lock: ClassVar = awaited(ArtifactVerbs._lock)
    clone: ClassVar = awaited(ArtifactVerbs._clone)
    delete: ClassVar = awaited(ArtifactVerbs._delete)


def artifact_query(
    client: BaseClient,
    model: type[A],
    *,
    status: str | None = None,
    search: str | None = None,
    repository_id: str | None = None,
    tag_keys: list[str] | None = None,
    tag_values: list[str] | None = None,
    order_by: str | None = None,
    limit: int | None = None,
) -> Query[A]:
    """GET /artifacts with its filters, as `client.artifacts.list` and a repository ask it."""
    params = {
        "status": status,
        "search": search,
        "repositoryId": repository_id,
        "tagKeys": tag_keys,
        "tagValues": tag_values,
        "orderBy": order_by,
    }
    return Query("/artifacts", params, lambda item: model.model_validate(item)._bind(client), limit)


class ArtifactRepositoryVerbs(core_artifacts.ArtifactRepository, Bound):
    """The operations behind `ArtifactRepository`'s and `AsyncArtifactRepository`'s methods."""

    def _reload(self) -> Operation[Self]:
        return self._refreshed(Call("GET", f"/artifactRepositories/{self.id}"))

    def _delete(self) -> Operation[None]:
        return discard(Call("DELETE", f"/artifactRepositories/{self.id}"))


class ArtifactRepository(ArtifactRepositoryVerbs):
    """An artifact repository of a `Client`."""

    reload: ClassVar = blocking(ArtifactRepositoryVerbs._reload)
    delete: ClassVar = blocking(ArtifactRepositoryVerbs._delete)

    def _artifacts(self, *, status: str | None = None, limit: int | None = None) -> Query[Artifact]:
        """This repository's artifacts, newest first."""
        return artifact_query(
            self._attached(), Artifact, repository_id=self.id, status=status, limit=limit
        )

    artifacts: ClassVar = blocking_list(_artifacts)


class AsyncArtifactRepository(ArtifactRepositoryVerbs):
    """An artifact repository of an `AsyncClient`: the same methods, awaited."""

    reload: ClassVar = awaited(ArtifactRepositoryVerbs._reload)
    delete: ClassVar = awaited(ArtifactRepositoryVerbs._delete)

    def _artifacts(
        self, *, status: str | None = None, limit: int | None = None
    ) -> Query[AsyncArtifact]:
        """This repository's artifacts, newest first."""
        return artifact_query(
            self._attached(), AsyncArtifact, repository_id=self.id, status=status, limit=limit
        )

    artifacts: ClassVar = async_list(_artifacts)


class DeploymentVerbs(core_deployments.Deployment, Bound):
    """The operations behind `Deployment`'s and `AsyncDeployment`'s methods."""

    def _reload(self) -> Operation[Self]:
        return self._refreshed(Call("GET", f"/console/deployments/{self.id}"))

    def _update(
        self,
        *,
        name: str | None = None,
        description: str | None = None,
        workload_id: str | None = None,
        tags: dict[str, str] | list[dict[str, str]] | None = None,
    ) -> Operation[Self]:
        """PATCH; a new `workload_id` switches traffic once that workload is running."""
        body = compact(
            name=name, description=description, workloadId=workload_id, tags=tag_list(tags)
        )
        return self._refreshed(Call("PATCH", f"/console/deployments/{self.id}", json=body))

    def _start(self) -> Operation[Self]:
        return self._refreshed(Call("POST", f"/console/deployments/{self.id}/start"))

    def _stop(self) -> Operation[Self]:
        return self._refreshed(Call("POST", f"/console/deployments/{self.id}/stop"))

    def _delete(self) -> Operation[None]:
        return discard(Call("DELETE", f"/console/deployments/{self.id}"))

    def _audit(self) -> Operation[AuditLog]:
        """The whole audit trail, oldest first, with `verified` (the hash chain recomputes)."""
        return audit_log(self.id)

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
        """Send a request to the deployment's app through Dockyard's invoke endpoint."""
        headers = with_scale_up(headers, scale_up_timeout)
        call = invoke_call(
            f"/endpoints/deployments/{self.id}", path, method, json, content, headers, params
        )
        return invoked(call, check)


class Deployment(DeploymentVerbs):
    """A deployment of a `Client`."""

    reload: ClassVar = blocking(DeploymentVerbs._reload)
    update: ClassVar = blocking(DeploymentVerbs._update)
    start: ClassVar = blocking(DeploymentVerbs._start)
    stop: ClassVar = blocking(DeploymentVerbs._stop)
    delete: ClassVar = blocking(DeploymentVerbs._delete)
    audit: ClassVar = blocking(DeploymentVerbs._audit)
    invoke: ClassVar = blocking(DeploymentVerbs._invoke)


class AsyncDeployment(DeploymentVerbs):
    """A deployment of an `AsyncClient`: the same methods, awaited."""

    reload: ClassVar = awaited(DeploymentVerbs._reload)
    update: ClassVar = awaited(DeploymentVerbs._update)
    start: ClassVar = awaited(DeploymentVerbs._start)
    stop: ClassVar = awaited(DeploymentVerbs._stop)
    delete: ClassVar = awaited(DeploymentVerbs._delete)
    audit: ClassVar = awaited(DeploymentVerbs._audit)
    invoke: ClassVar = awaited(DeploymentVerbs._invoke)


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

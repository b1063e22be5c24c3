"""`client.artifacts` and `client.repositories`, in both flavours."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

from dockyard.sdk.base import (
    BoundResource,
    Query,
    async_list,
    awaited,
    blocking,
    blocking_list,
    compact,
    tag_list,
)
from dockyard.sdk.models import (
    Artifact,
    ArtifactRepository,
    ArtifactRepositoryVerbs,
    ArtifactVerbs,
    AsyncArtifact,
    AsyncArtifactRepository,
    artifact_query,
)
from dockyard.sdk.transport import Call, Operation, discard

Tags = Mapping[str, str] | list[dict[str, str]] | None
A = TypeVar("A", bound=ArtifactVerbs)
R = TypeVar("R", bound=ArtifactRepositoryVerbs)


class ArtifactCalls(BoundResource[A]):
    """Artifacts: what to run, iterated on as drafts and locked into numbered versions."""

    def _create(
        self,
        body: Mapping[str, Any] | None = None,
        *,
        name: str | None = None,
        spec: Mapping[str, Any] | None = None,
        description: str | None = None,
        status: str | None = None,
        repository_id: str | None = None,
        tags: Tags = None,
    ) -> Operation[A]:
        """POST /artifacts. `body` is the API's JSON body; keyword arguments override it."""
        payload = {
            **(body or {}),
            **compact(
                name=name,
                spec=spec,
                description=description,
                status=status,
                artifactRepositoryId=repository_id,
                tags=tag_list(tags),
            ),
        }
        return self._one(Call("POST", "/artifacts", json=payload))

    def _get(self, artifact_id: str) -> Operation[A]:
        return self._one(Call("GET", f"/artifacts/{artifact_id}"))

    def _list(
        self,
        *,
        status: str | None = None,
        search: str | None = None,
        repository_id: str | None = None,
        tag_keys: list[str] | None = None,
        tag_values: list[str] | None = None,
        order_by: str | None = None,
        limit: int | None = None,
    ) -> Query[A]:
        return artifact_query(
            self._client,
            self.model,
            status=status,
            search=search,
            repository_id=repository_id,
            tag_keys=tag_keys,
            tag_values=tag_values,
            order_by=order_by,
            limit=limit,
        )

    def _replace(self, artifact_id: str, body: Mapping[str, Any]) -> Operation[A]:
        """PUT: replace every field of a draft (the create body; omitted tags are kept)."""
        return self._one(Call("PUT", f"/artifacts/{artifact_id}", json=dict(body)))

    def _update(
        self,
        artifact_id: str,
        *,
        name: str | None = None,
        description: str | None = None,
        spec: Mapping[str, Any] | None = None,
        status: str | None = None,
        tags: Tags = None,
    ) -> Operation[A]:
        """PATCH: only the fields given change."""
        body = compact(
            name=name, description=description, spec=spec, status=status, tags=tag_list(tags)
        )
        return self._one(Call("PATCH", f"/artifacts/{artifact_id}", json=body))

    def _lock(self, artifact_id: str) -> Operation[A]:
        return self._update(artifact_id, status="locked")

    def _clone(self, artifact_id: str, name: str) -> Operation[A]:
        return self._one(Call("POST", f"/artifacts/{artifact_id}/clone", json={"name": name}))

    def _delete(self, artifact_id: str) -> Operation[None]:
        return discard(Call("DELETE", f"/artifacts/{artifact_id}"))


class Artifacts(ArtifactCalls[Artifact]):
    model = Artifact
    create = blocking(ArtifactCalls._create)
    get = blocking(ArtifactCalls._get)
    list = blocking_list(ArtifactCalls._list)
    replace = blocking(ArtifactCalls._replace)
    update = blocking(ArtifactCalls._update)
    lock = blocking(ArtifactCalls._lock)
    clone = blocking(ArtifactCalls._clone)
    delete = blocking(ArtifactCalls._delete)


class AsyncArtifacts(ArtifactCalls[AsyncArtifact]):
    model = AsyncArtifact
    create = awaited(ArtifactCalls._create)
    get = awaited(ArtifactCalls._get)
    list = async_list(ArtifactCalls._list)
    replace = awaited(ArtifactCalls._replace)
    update = awaited(ArtifactCalls._update)
    lock = awaited(ArtifactCalls._lock)
    clone = awaited(ArtifactCalls._clone)
    delete = awaited(ArtifactCalls._delete)


class RepositoryCalls(BoundResource[R]):
    """Artifact repositories: the numbered lineage of an artifact's versions."""

    def _get(self, repository_id: str) -> Operation[R]:
        return self._one(Call("GET", f"/artifactRepositories/{repository_id}"))

    def _list(
        self, *, search: str | None = None, order_by: str | None = None, limit: int | None = None
    ) -> Query[R]:
        params = {"search": search, "orderBy": order_by}
        return self._bound_query("/artifactRepositories", params, limit)

    def _update(
        self,
        repository_id: str,
        *,
        name: str | None = None,
        description: str | None = None,
        tags: Tags = None,
    ) -> Operation[R]:
        body = compact(name=name, description=description, tags=tag_list(tags))
        return self._one(Call("PATCH", f"/artifactRepositories/{repository_id}", json=body))

    def _delete(self, repository_id: str) -> Operation[None]:
        return discard(Call("DELETE", f"/artifactRepositories/{repository_id}"))


class Repositories(RepositoryCalls[ArtifactRepository]):
    model = ArtifactRepository
    get = blocking(RepositoryCalls._get)
    list = blocking_list(RepositoryCalls._list)
    update = blocking(RepositoryCalls._update)
    delete = blocking(RepositoryCalls._delete)


class AsyncRepositories(RepositoryCalls[AsyncArtifactRepository]):
    model = AsyncArtifactRepository
    get = awaited(RepositoryCalls._get)
    list = async_list(RepositoryCalls._list)
    update = awaited(RepositoryCalls._update)
    delete = awaited(RepositoryCalls._delete)

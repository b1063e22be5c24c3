"""`client.artifacts` and `client.repositories`."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from dockyard.sdk.base import Listing, Resource, compact, tag_list
from dockyard.sdk.models import Artifact, ArtifactRepository
from dockyard.sdk.transport import Call, discard

Tags = Mapping[str, str] | list[dict[str, str]] | None


class Artifacts(Resource):
    """Artifacts: what to run, iterated on as drafts and locked into numbered versions."""

    def create(
        self,
        body: Mapping[str, Any] | None = None,
        *,
        name: str | None = None,
        spec: Mapping[str, Any] | None = None,
        description: str | None = None,
        status: str | None = None,
        repository_id: str | None = None,
        tags: Tags = None,
    ) -> Artifact:
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
        return self._one(Call("POST", "/artifacts", json=payload), Artifact)

    def get(self, artifact_id: str) -> Artifact:
        return self._one(Call("GET", f"/artifacts/{artifact_id}"), Artifact)

    def list(
        self,
        *,
        status: str | None = None,
        search: str | None = None,
        repository_id: str | None = None,
        tag_keys: list[str] | None = None,
        tag_values: list[str] | None = None,
        order_by: str | None = None,
        limit: int | None = None,
    ) -> Listing[Artifact]:
        params = {
            "status": status,
            "search": search,
            "repositoryId": repository_id,
            "tagKeys": tag_keys,
            "tagValues": tag_values,
            "orderBy": order_by,
        }
        return self._list("/artifacts", Artifact, params, limit)

    def replace(self, artifact_id: str, body: Mapping[str, Any]) -> Artifact:
        """PUT: replace every field of a draft (the create body; omitted tags are kept)."""
        return self._one(Call("PUT", f"/artifacts/{artifact_id}", json=dict(body)), Artifact)

    def update(
        self,
        artifact_id: str,
        *,
        name: str | None = None,
        description: str | None = None,
        spec: Mapping[str, Any] | None = None,
        status: str | None = None,
        tags: Tags = None,
    ) -> Artifact:
        """PATCH: only the fields given change."""
        body = compact(
            name=name, description=description, spec=spec, status=status, tags=tag_list(tags)
        )
        return self._one(Call("PATCH", f"/artifacts/{artifact_id}", json=body), Artifact)

    def lock(self, artifact_id: str) -> Artifact:
        return self.update(artifact_id, status="locked")

    def clone(self, artifact_id: str, name: str) -> Artifact:
        call = Call("POST", f"/artifacts/{artifact_id}/clone", json={"name": name})
        return self._one(call, Artifact)

    def delete(self, artifact_id: str) -> None:
        return self._run(discard(Call("DELETE", f"/artifacts/{artifact_id}")))


class Repositories(Resource):
    """Artifact repositories: the numbered lineage of an artifact's versions."""

    def get(self, repository_id: str) -> ArtifactRepository:
        return self._one(Call("GET", f"/artifactRepositories/{repository_id}"), ArtifactRepository)

    def list(
        self, *, search: str | None = None, order_by: str | None = None, limit: int | None = None
    ) -> Listing[ArtifactRepository]:
        params = {"search": search, "orderBy": order_by}
        return self._list("/artifactRepositories", ArtifactRepository, params, limit)

    def update(
        self,
        repository_id: str,
        *,
        name: str | None = None,
        description: str | None = None,
        tags: Tags = None,
    ) -> ArtifactRepository:
        body = compact(name=name, description=description, tags=tag_list(tags))
        call = Call("PATCH", f"/artifactRepositories/{repository_id}", json=body)
        return self._one(call, ArtifactRepository)

    def delete(self, repository_id: str) -> None:
        return self._run(discard(Call("DELETE", f"/artifactRepositories/{repository_id}")))

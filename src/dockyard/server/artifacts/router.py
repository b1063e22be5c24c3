"""HTTP routes of /artifacts (and the older /registry/artifacts)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response

from dockyard.core.artifacts import Artifact
from dockyard.core.models import Page
from dockyard.server.artifacts import listing, service
from dockyard.server.artifacts.schemas import (
    ArtifactClone,
    ArtifactCreate,
    ArtifactUpdate,
    ListFilters,
    artifact_filters,
)
from dockyard.server.db.work import UnitOfWork
from dockyard.server.kit.auth import CurrentUser
from dockyard.server.kit.pagination import Paging, page
from dockyard.server.sharing.router import add_shared_roles_routes

TAG = "Artifacts"
router = APIRouter(tags=[TAG])
Filters = Annotated[ListFilters, Depends(artifact_filters)]


@router.get("", response_model=Page[Artifact])
async def list_artifacts(
    request: Request, user: CurrentUser, work: UnitOfWork, paging: Paging, filters: Filters
) -> dict:
    """Artifacts the caller may see, newest first unless `orderBy` says otherwise."""
    items, total = await work(
        listing.list_artifacts, user, filters, offset=paging.offset, limit=paging.limit
    )
    return page(request, items, total, paging)


@router.post("", status_code=201, response_model=Artifact)
async def create_artifact(body: ArtifactCreate, user: CurrentUser, work: UnitOfWork) -> Artifact:
    """Create a draft (or, with `status: locked`, a locked version) in a repository."""
    return await work(service.create_artifact, user, body, work.settings)


@router.get("/{artifact_id}", response_model=Artifact)
async def get_artifact(artifact_id: str, user: CurrentUser, work: UnitOfWork) -> Artifact:
    return await work(service.get_artifact, user, artifact_id)


@router.put("/{artifact_id}", response_model=Artifact)
async def replace_artifact(
    artifact_id: str,
    body: ArtifactCreate,
    user: CurrentUser,
    work: UnitOfWork,
) -> Artifact:
    """Replace every field of a draft (status stays draft; omitted tags are kept)."""
    return await work(service.replace_artifact, user, artifact_id, body, work.settings)


@router.patch("/{artifact_id}", response_model=Artifact)
async def update_artifact(
    artifact_id: str,
    body: ArtifactUpdate,
    user: CurrentUser,
    work: UnitOfWork,
) -> Artifact:
    """Change the fields present; `{"status": "locked"}` locks the artifact at a new version."""
    return await work(service.update_artifact, user, artifact_id, body, work.settings)


@router.delete("/{artifact_id}", status_code=204, response_class=Response)
async def delete_artifact(artifact_id: str, user: CurrentUser, work: UnitOfWork) -> Response:
    """Delete a draft that nothing runs."""
    await work(service.delete_artifact, user, artifact_id)
    return Response(status_code=204)


@router.post("/{artifact_id}/clone", response_model=Artifact)
async def clone_artifact(
    artifact_id: str,
    body: ArtifactClone,
    user: CurrentUser,
    work: UnitOfWork,
) -> Artifact:
    """A new draft in the same repository with the source's spec, description and tags."""
    return await work(service.clone_artifact, user, artifact_id, body, work.settings)


# Image builds: this release builds no images; every builds route answers 501.
@router.post("/{artifact_id}/builds", status_code=202)
async def trigger_build(artifact_id: str, user: CurrentUser, work: UnitOfWork) -> None:
    await work(service.refuse_builds, user, artifact_id)


@router.get("/{artifact_id}/builds")
async def list_builds(artifact_id: str, user: CurrentUser, work: UnitOfWork) -> None:
    await work(service.refuse_builds, user, artifact_id)


@router.get("/{artifact_id}/builds/{build_id}")
async def get_build(artifact_id: str, build_id: str, user: CurrentUser, work: UnitOfWork) -> None:
    await work(service.refuse_builds, user, artifact_id)


@router.get("/{artifact_id}/builds/{build_id}/logs")
async def get_build_logs(
    artifact_id: str, build_id: str, user: CurrentUser, work: UnitOfWork
) -> None:
    await work(service.refuse_builds, user, artifact_id)


add_shared_roles_routes(router, path="/{object_id}", resolve=service.resolve_target, tag=TAG)

"""HTTP routes of /artifactRepositories (and the older /registry/artifactRepositories)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response

from dockyard.core.artifacts import ArtifactRepository
from dockyard.core.models import Page
from dockyard.server.artifact_repos import service
from dockyard.server.artifact_repos.schemas import RepositoryUpdate
from dockyard.server.artifacts.schemas import ListFilters, repository_filters
from dockyard.server.db.work import UnitOfWork
from dockyard.server.kit.auth import CurrentUser
from dockyard.server.kit.pagination import Paging, page
from dockyard.server.sharing.router import add_shared_roles_routes

TAG = "Artifact repositories"
router = APIRouter(tags=[TAG])
Filters = Annotated[ListFilters, Depends(repository_filters)]


@router.get("", response_model=Page[ArtifactRepository])
async def list_repositories(
    request: Request, user: CurrentUser, work: UnitOfWork, paging: Paging, filters: Filters
) -> dict:
    """Repositories the caller may see, newest first unless `orderBy` says otherwise."""
    items, total = await work(
        service.list_repositories, user, filters, offset=paging.offset, limit=paging.limit
    )
    return page(request, items, total, paging)


@router.get("/{repository_id}", response_model=ArtifactRepository)
async def get_repository(
    repository_id: str, user: CurrentUser, work: UnitOfWork
) -> ArtifactRepository:
    return await work(service.get_repository, user, repository_id)


@router.patch("/{repository_id}", response_model=ArtifactRepository)
async def update_repository(
    repository_id: str, body: RepositoryUpdate, user: CurrentUser, work: UnitOfWork
) -> ArtifactRepository:
    """Change the name, description or tags."""
    return await work(service.update_repository, user, repository_id, body)


@router.delete("/{repository_id}", status_code=204, response_class=Response)
async def delete_repository(repository_id: str, user: CurrentUser, work: UnitOfWork) -> Response:
    """Delete the repository and its drafts; refused while it holds locked or used artifacts."""
    await work(service.delete_repository, user, repository_id)
    return Response(status_code=204)


add_shared_roles_routes(router, path="/{object_id}", resolve=service.resolve_target, tag=TAG)

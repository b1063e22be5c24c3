"""HTTP routes of /artifactRepositories (and the older /registry/artifactRepositories)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response

from dockyard.core.artifacts import ArtifactRepository
from dockyard.core.models import Page
from dockyard.server.artifact_repos import service
from dockyard.server.artifact_repos.schemas import RepositoryUpdate
from dockyard.server.artifacts.schemas import ListFilters, repository_filters
from dockyard.server.kit.auth import CurrentUser
from dockyard.server.kit.deps import DbSession
from dockyard.server.kit.pagination import Paging, page
from dockyard.server.sharing.router import add_shared_roles_routes

TAG = "Artifact repositories"
router = APIRouter(tags=[TAG])
Filters = Annotated[ListFilters, Depends(repository_filters)]


@router.get("", response_model=Page[ArtifactRepository])
def list_repositories(
    request: Request, user: CurrentUser, session: DbSession, paging: Paging, filters: Filters
) -> dict:
    """Repositories the caller may see, newest first unless `orderBy` says otherwise."""
    items, total = service.list_repositories(
        session, user, filters, offset=paging.offset, limit=paging.limit
    )
    return page(request, items, total, paging)


@router.get("/{repository_id}", response_model=ArtifactRepository)
def get_repository(repository_id: str, user: CurrentUser, session: DbSession) -> ArtifactRepository:
    return service.get_repository(session, user, repository_id)


@router.patch("/{repository_id}", response_model=ArtifactRepository)
def update_repository(
    repository_id: str, body: RepositoryUpdate, user: CurrentUser, session: DbSession
) -> ArtifactRepository:
    """Change the name, description or tags."""
    return service.update_repository(session, user, repository_id, body)


@router.delete("/{repository_id}", status_code=204, response_class=Response)
def delete_repository(repository_id: str, user: CurrentUser, session: DbSession) -> Response:
    """Delete the repository and its drafts; refused while it holds locked or used artifacts."""
    service.delete_repository(session, user, repository_id)
    return Response(status_code=204)


add_shared_roles_routes(router, path="/{object_id}", resolve=service.resolve_target, tag=TAG)

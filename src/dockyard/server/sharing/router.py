"""The `GET`/`PATCH …/sharedRoles` pair, added to any router that has shareable objects."""

from __future__ import annotations

from collections.abc import Callable

from fastapi import APIRouter, Request, Response
from sqlalchemy.orm import Session

from dockyard.core.models import Page, SharedRole
from dockyard.server.kit.auth import CurrentUser, Principal
from dockyard.server.kit.deps import DbSession
from dockyard.server.kit.pagination import Paging, page
from dockyard.server.sharing import service
from dockyard.server.sharing.schemas import SharedRolesUpdate
from dockyard.server.sharing.service import Target

Resolver = Callable[[Session, str], Target]
# Called after a successful change, in the same transaction (deployments audit it).
ChangeHook = Callable[[Session, Principal, Request, str], None]


def add_shared_roles_routes(
    router: APIRouter,
    *,
    path: str,
    resolve: Resolver,
    tag: str,
    on_change: ChangeHook | None = None,
) -> None:
    """`resolve(session, id)` returns the Target (or raises the kind's 404)."""

    @router.get(f"{path}/sharedRoles", response_model=Page[SharedRole], tags=[tag])
    def get_shared_roles(
        object_id: str, request: Request, user: CurrentUser, session: DbSession, paging: Paging
    ) -> dict:
        roles = service.list_roles(session, user, resolve(session, object_id))
        window = roles[paging.offset : paging.offset + paging.limit]
        return page(request, window, len(roles), paging)

    @router.patch(f"{path}/sharedRoles", status_code=204, response_class=Response, tags=[tag])
    def patch_shared_roles(
        object_id: str,
        body: SharedRolesUpdate,
        request: Request,
        user: CurrentUser,
        session: DbSession,
    ) -> Response:
        service.update_roles(session, user, resolve(session, object_id), body)
        if on_change is not None:
            on_change(session, user, request, object_id)
        return Response(status_code=204)

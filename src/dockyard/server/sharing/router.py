"""The `GET`/`PATCH …/sharedRoles` pair, added to any router that has shareable objects."""

from __future__ import annotations

from collections.abc import Callable

from fastapi import APIRouter, Request, Response
from sqlalchemy.orm import Session

from dockyard.core.models import Page, SharedRole
from dockyard.server.db.work import UnitOfWork
from dockyard.server.kit.auth import CurrentUser, Principal
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

    def list_roles(session: Session, user: Principal, object_id: str) -> list[SharedRole]:
        return service.list_roles(session, user, resolve(session, object_id))

    def update_roles(
        session: Session,
        user: Principal,
        request: Request,
        object_id: str,
        body: SharedRolesUpdate,
    ) -> None:
        service.update_roles(session, user, resolve(session, object_id), body)
        if on_change is not None:
            on_change(session, user, request, object_id)

    @router.get(f"{path}/sharedRoles", response_model=Page[SharedRole], tags=[tag])
    async def get_shared_roles(
        object_id: str, request: Request, user: CurrentUser, work: UnitOfWork, paging: Paging
    ) -> dict:
        roles = await work(list_roles, user, object_id)
        window = roles[paging.offset : paging.offset + paging.limit]
        return page(request, window, len(roles), paging)

    @router.patch(f"{path}/sharedRoles", status_code=204, response_class=Response, tags=[tag])
    async def patch_shared_roles(
        object_id: str,
        body: SharedRolesUpdate,
        request: Request,
        user: CurrentUser,
        work: UnitOfWork,
    ) -> Response:
        await work(update_roles, user, request, object_id, body)
        return Response(status_code=204)

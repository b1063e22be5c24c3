"""HTTP routes of /credentials: secrets go in, only metadata comes out."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from dockyard.core.credentials import Credential
from dockyard.core.models import Page
from dockyard.server.credentials import service
from dockyard.server.credentials.schemas import CredentialCreate
from dockyard.server.db.work import UnitOfWork
from dockyard.server.kit.auth import CurrentUser
from dockyard.server.kit.pagination import Paging, page

router = APIRouter(tags=["Credentials"])


@router.post("", status_code=201, response_model=Credential)
async def create_credential(
    body: CredentialCreate, request: Request, user: CurrentUser, work: UnitOfWork
) -> Credential:
    """Store a credential; its secret fields are encrypted and never returned."""
    return await work(service.create_credential, request.app.state.secret_box, user, body)


@router.get("", response_model=Page[Credential])
async def list_credentials(
    request: Request, user: CurrentUser, work: UnitOfWork, paging: Paging
) -> dict:
    """The caller's credentials, newest first (admins see everyone's)."""
    items, total = await work(
        service.list_credentials, user, offset=paging.offset, limit=paging.limit
    )
    return page(request, items, total, paging)


@router.get("/{credential_id}", response_model=Credential)
async def get_credential(credential_id: str, user: CurrentUser, work: UnitOfWork) -> Credential:
    return await work(service.get_credential, user, credential_id)


@router.delete("/{credential_id}", status_code=204, response_class=Response)
async def delete_credential(credential_id: str, user: CurrentUser, work: UnitOfWork) -> Response:
    await work(service.delete_credential, user, credential_id)
    return Response(status_code=204)

"""Registry > Services: the repository list, one repository's artifacts, and their actions."""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request, Response
from sqlalchemy.orm import Session

from dockyard.core.errors import ValidationFailed
from dockyard.server.artifact_repos import service as repositories
from dockyard.server.artifacts import listing as artifact_listing
from dockyard.server.artifacts import service as artifacts
from dockyard.server.artifacts.schemas import ArtifactClone, ArtifactCreate, ListFilters
from dockyard.server.db.work import UnitOfWork
from dockyard.server.kit.auth import Principal
from dockyard.server.kit.deps import AppSettings
from dockyard.server.kit.urls import base_url
from dockyard.server.settings import Settings
from dockyard.server.sharing import service as sharing
from dockyard.server.sharing.schemas import SharedRolesUpdate
from dockyard.server.ui import examples
from dockyard.server.ui.web import Actor, UiRoute, Viewer, parse, redirect, render
from dockyard.server.users import service as users

router = APIRouter(route_class=UiRoute, include_in_schema=False)

Text = Annotated[str, Form()]
OptionalText = Annotated[str, Form()]
ROLES = ("OWNER", "EDITOR", "USER", "CONSUMER", "READ_ONLY")


def _listed(value: str | None) -> list[str]:
    return [value] if value else []


@router.get("/registry/services")
async def services(
    request: Request,
    user: Viewer,
    work: UnitOfWork,
    search: str | None = None,
    created_by: str | None = None,
    tag_key: str | None = None,
    tag_value: str | None = None,
    add: str | None = None,
) -> Response:
    return await work(_services, request, user, search, created_by, tag_key, tag_value, add)


def _services(
    session: Session,
    request: Request,
    user: Principal,
    search: str | None,
    created_by: str | None,
    tag_key: str | None,
    tag_value: str | None,
    add: str | None,
) -> Response:
    filters = ListFilters(
        search=(search or "").strip()[:100] or None,
        created_by=_listed(created_by),
        tag_keys=_listed(tag_key),
        tag_values=_listed(tag_value),
    )
    rows, total = repositories.list_repositories(session, user, filters, offset=0, limit=100)
    people, _ = users.list_users(session, user, offset=0, limit=100)
    payload = examples.artifact_payload()
    return render(
        request,
        "services.html",
        repositories=rows,
        total=total,
        people=people,
        query={
            "search": search or "",
            "created_by": created_by or "",
            "tag_key": tag_key or "",
            "tag_value": tag_value or "",
        },
        filtered=any((search, created_by, tag_key, tag_value)),
        open_panel=add is not None,
        curl_example=examples.create_artifact_curl(base_url(request), payload),
        payload_text=json.dumps(payload, indent=2),
    )


@router.post("/registry/services/new")
async def create_artifact(
    user: Actor, work: UnitOfWork, settings: AppSettings, payload: Text
) -> Response:
    return await work(_create_artifact, user, settings, payload)


def _create_artifact(
    session: Session,
    user: Principal,
    settings: Settings,
    payload: str,
) -> Response:
    try:
        body = json.loads(payload)
    except json.JSONDecodeError as exc:
        raise ValidationFailed.at(["body"], f"the payload is not valid JSON ({exc.msg})") from None
    created = artifacts.create_artifact(session, user, parse(ArtifactCreate, body), settings)
    return redirect(f"/registry/artifacts/{created.id}", notice=f"Draft '{created.name}' created.")


@router.get("/registry/services/{repository_id}")
async def repository(
    request: Request, repository_id: str, user: Viewer, work: UnitOfWork, tab: str = "locked"
) -> Response:
    return await work(_repository, request, repository_id, user, tab)


def _repository(
    session: Session,
    request: Request,
    repository_id: str,
    user: Principal,
    tab: str,
) -> Response:
    repo = repositories.get_repository(session, user, repository_id)
    tab = "draft" if tab == "draft" else "locked"
    counts: dict[str, int] = {}
    rows: list[Any] = []
    for status in ("locked", "draft"):
        filters = ListFilters(repository_ids=[repo.id], statuses=[status])
        found, counts[status] = artifact_listing.list_artifacts(
            session, user, filters, offset=0, limit=100
        )
        if status == tab:
            rows = found
    return render(
        request, "repository.html", repo=repo, artifacts=rows, tab=tab, counts=counts, roles=ROLES
    )


@router.post("/registry/services/{repository_id}/share")
async def share_repository(
    repository_id: str, user: Actor, work: UnitOfWork, username: Text, role: Text
) -> Response:
    return await work(_share_repository, repository_id, user, username, role)


def _share_repository(
    session: Session,
    repository_id: str,
    user: Principal,
    username: str,
    role: str,
) -> Response:
    target = repositories.resolve_target(session, repository_id)
    sharing.update_roles(session, user, target, _grant(username, role))
    return redirect(
        f"/registry/services/{repository_id}", notice=f"Shared with {username} as {role}."
    )


@router.post("/registry/services/{repository_id}/delete")
async def delete_repository(repository_id: str, user: Actor, work: UnitOfWork) -> Response:
    return await work(_delete_repository, repository_id, user)


def _delete_repository(session: Session, repository_id: str, user: Principal) -> Response:
    repositories.delete_repository(session, user, repository_id)
    return redirect("/registry/services", notice="Repository deleted.")


# --- row actions of the artifact list (also on the detail view's actions menu) ---------------


@router.post("/registry/artifacts/{artifact_id}/share")
async def share_artifact(
    artifact_id: str, user: Actor, work: UnitOfWork, username: Text, role: Text
) -> Response:
    return await work(_share_artifact, artifact_id, user, username, role)


def _share_artifact(
    session: Session,
    artifact_id: str,
    user: Principal,
    username: str,
    role: str,
) -> Response:
    sharing.update_roles(
        session, user, artifacts.resolve_target(session, artifact_id), _grant(username, role)
    )
    return redirect(f"/registry/artifacts/{artifact_id}", notice=f"Shared with {username}.")


@router.post("/registry/artifacts/{artifact_id}/delete")
async def delete_artifact(artifact_id: str, user: Actor, work: UnitOfWork) -> Response:
    return await work(_delete_artifact, artifact_id, user)


def _delete_artifact(session: Session, artifact_id: str, user: Principal) -> Response:
    found = artifacts.get_artifact(session, user, artifact_id)
    artifacts.delete_artifact(session, user, artifact_id)
    return redirect(
        f"/registry/services/{found.artifact_repository_id}?tab=draft",
        notice=f"Artifact '{found.name}' deleted.",
    )


@router.post("/registry/artifacts/{artifact_id}/clone")
async def clone_artifact(
    artifact_id: str, user: Actor, work: UnitOfWork, settings: AppSettings, name: Text
) -> Response:
    return await work(_clone_artifact, artifact_id, user, settings, name)


def _clone_artifact(
    session: Session,
    artifact_id: str,
    user: Principal,
    settings: Settings,
    name: str,
) -> Response:
    body = parse(ArtifactClone, {"name": name.strip()})
    clone = artifacts.clone_artifact(session, user, artifact_id, body, settings)
    return redirect(f"/registry/artifacts/{clone.id}", notice=f"Cloned as draft '{clone.name}'.")


def _grant(username: str, role: str) -> SharedRolesUpdate:
    return parse(
        SharedRolesUpdate,
        {
            "operation": "updateRoles",
            "roles": [{"shareRecipientType": "user", "username": username.strip(), "role": role}],
        },
    )

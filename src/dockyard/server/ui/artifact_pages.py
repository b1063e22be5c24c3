"""The artifact detail view: Assemble, Info and Workload tabs, and Test, Stop, Lock, Deploy."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Request, Response
from sqlalchemy.orm import Session

from dockyard.core.artifacts import Artifact
from dockyard.core.errors import NotFound, ValidationFailed
from dockyard.core.spec import parse_stored
from dockyard.core.workloads import Workload
from dockyard.server.artifact_repos import service as repositories
from dockyard.server.artifacts import service as artifacts
from dockyard.server.artifacts.schemas import ArtifactUpdate
from dockyard.server.db.work import UnitOfWork
from dockyard.server.kit.auth import Principal
from dockyard.server.kit.deps import AppSettings
from dockyard.server.kit.pagination import PageParams
from dockyard.server.platform import Platform, PlatformDep
from dockyard.server.settings import Settings
from dockyard.server.ui import spec_edits
from dockyard.server.ui.registry_pages import ROLES
from dockyard.server.ui.spec_edits import PROBE_FIELDS, PROBE_KINDS, ContainerRef, EnvInput
from dockyard.server.ui.web import (
    Actor,
    UiRoute,
    Viewer,
    optional_int,
    parse,
    redirect,
    render,
)
from dockyard.server.workloads import listing as workload_listing
from dockyard.server.workloads import service as workloads
from dockyard.server.workloads.schemas import WorkloadCreate, WorkloadFilters
from dockyard.server.workloads.statuses import INACTIVE

router = APIRouter(route_class=UiRoute, include_in_schema=False)

Text = Annotated[str, Form()]
MaybeText = Annotated[str | None, Form()]
TABS = ("assemble", "info", "workload")


def _workloads_on(
    session: Session, user: Principal, artifact_id: str, platform: Platform
) -> list[Workload]:
    rows, _ = workload_listing.list_workloads(
        session,
        user,
        WorkloadFilters(artifact_id=artifact_id),
        PageParams(offset=0, limit=100),
        platform.base_url,
    )
    return rows


def _is_active(workload: Workload) -> bool:
    return workload.status not in {status.value for status in INACTIVE}


@router.get("/registry/artifacts/{artifact_id}")
async def artifact_page(
    request: Request,
    artifact_id: str,
    user: Viewer,
    work: UnitOfWork,
    platform: PlatformDep,
    tab: str = "assemble",
) -> Response:
    return await work(_artifact_page, request, artifact_id, user, platform, tab)


def _artifact_page(
    session: Session,
    request: Request,
    artifact_id: str,
    user: Principal,
    platform: Platform,
    tab: str,
) -> Response:
    artifact = artifacts.get_artifact(session, user, artifact_id)
    running = _workloads_on(session, user, artifact.id, platform)
    try:  # an artifact can be shared without its repository: then the crumb stays generic
        repository_name = repositories.get_repository(
            session, user, artifact.artifact_repository_id or ""
        ).name
    except NotFound:
        repository_name = None
    return render(
        request,
        "artifact.html",
        artifact=artifact,
        repository_name=repository_name,
        tab=tab if tab in TABS else "assemble",
        draft=artifact.status == "draft",
        can_update="CAN_UPDATE" in artifact.permissions,
        can_delete="CAN_DELETE" in artifact.permissions,
        can_share="CAN_SHARE" in artifact.permissions,
        # Parsed again: a spec stored under older rules is shown by the API as it was stored,
        # and has no containers to edit here.
        containers=spec_edits.containers(parse_stored(_spec_json(artifact))),
        probe_kinds=PROBE_KINDS,
        probe_fields=PROBE_FIELDS,
        workloads=running,
        active=[w for w in running if _is_active(w)],
        roles=ROLES,
        ttl_hours=round(platform.settings.draft_ttl_seconds / 3600, 1),
    )


# --- lifecycle actions -----------------------------------------------------------------------


@router.post("/registry/artifacts/{artifact_id}/test")
async def test_artifact(
    artifact_id: str, user: Actor, work: UnitOfWork, platform: PlatformDep
) -> Response:
    """A workload on the draft; it expires after the draft TTL (8 hours) unless stopped."""
    return await work(_test_artifact, artifact_id, user, platform)


def _test_artifact(
    session: Session,
    artifact_id: str,
    user: Principal,
    platform: Platform,
) -> Response:
    artifact = artifacts.get_artifact(session, user, artifact_id)
    body = parse(
        WorkloadCreate,
        {
            "artifactId": artifact.id,
            "name": f"{artifact.name} (test)",
            "description": "Test workload started from the Registry.",
        },
    )
    workloads.create_workload(session, user, body, platform)
    return redirect(
        f"/registry/artifacts/{artifact.id}?tab=workload", notice="Test workload starting."
    )


@router.post("/registry/artifacts/{artifact_id}/stop")
async def stop_artifact(
    artifact_id: str, user: Actor, work: UnitOfWork, platform: PlatformDep
) -> Response:
    return await work(_stop_artifact, artifact_id, user, platform)


def _stop_artifact(
    session: Session,
    artifact_id: str,
    user: Principal,
    platform: Platform,
) -> Response:
    artifact = artifacts.get_artifact(session, user, artifact_id)
    active = [w for w in _workloads_on(session, user, artifact.id, platform) if _is_active(w)]
    for workload in active:
        workloads.stop_workload(session, user, workload.id, platform)
    notice = "Stopping the test workload." if active else "No workload is running this artifact."
    return redirect(f"/registry/artifacts/{artifact.id}?tab=workload", notice=notice)


@router.post("/registry/artifacts/{artifact_id}/lock")
async def lock_artifact(
    artifact_id: str, user: Actor, work: UnitOfWork, settings: AppSettings
) -> Response:
    return await work(_lock_artifact, artifact_id, user, settings)


def _lock_artifact(
    session: Session,
    artifact_id: str,
    user: Principal,
    settings: Settings,
) -> Response:
    locked = _lock(session, user, artifact_id, settings)
    return redirect(
        f"/registry/artifacts/{locked.id}", notice=f"Locked as version {locked.version}."
    )


@router.post("/registry/artifacts/{artifact_id}/deploy")
async def deploy_artifact(
    artifact_id: str,
    user: Actor,
    work: UnitOfWork,
    settings: AppSettings,
    platform: PlatformDep,
) -> Response:
    """A draft is locked first; a locked artifact gets one more workload."""
    return await work(_deploy_artifact, artifact_id, user, settings, platform)


def _deploy_artifact(
    session: Session,
    artifact_id: str,
    user: Principal,
    settings: Settings,
    platform: Platform,
) -> Response:
    artifact = artifacts.get_artifact(session, user, artifact_id)
    if artifact.status == "draft":
        artifact = _lock(session, user, artifact_id, settings)
    body = parse(WorkloadCreate, {"artifactId": artifact.id, "name": artifact.name})
    created = workloads.create_workload(session, user, body, platform)
    return redirect(
        f"/registry/artifacts/{artifact.id}?tab=workload",
        notice=f"Deployed version {artifact.version}: workload {created.id} is starting.",
    )


# --- Assemble and Info edits (drafts; the service refuses them on locked artifacts) ----------


@router.post("/registry/artifacts/{artifact_id}/env")
async def save_env(
    artifact_id: str,
    user: Actor,
    work: UnitOfWork,
    settings: AppSettings,
    container: Text,
    name: Text,
    source: Text = "string",
    value: Annotated[str, Form()] = "",
    key: Annotated[str, Form()] = "",
    index: MaybeText = None,
) -> Response:
    return await work(
        _save_env,
        artifact_id,
        user,
        settings,
        container,
        name,
        source,
        value,
        key,
        index,
    )


def _save_env(
    session: Session,
    artifact_id: str,
    user: Principal,
    settings: Settings,
    container: str,
    name: str,
    source: str,
    value: str,
    key: str,
    index: str | None,
) -> Response:
    artifact = artifacts.get_artifact(session, user, artifact_id)
    env = EnvInput(name=name.strip(), source=source, value=value, key=key.strip())
    where = optional_int(index, "index")
    spec = spec_edits.set_env(_spec_json(artifact), _ref(container), env, where)
    _save_spec(session, user, artifact_id, spec, settings)
    verb = "added" if where is None else "saved"
    return redirect(
        f"/registry/artifacts/{artifact_id}", notice=f"Environment variable {env.name} {verb}."
    )


@router.post("/registry/artifacts/{artifact_id}/env/delete")
async def delete_env(
    artifact_id: str,
    user: Actor,
    work: UnitOfWork,
    settings: AppSettings,
    container: Text,
    index: Text,
) -> Response:
    return await work(_delete_env, artifact_id, user, settings, container, index)


def _delete_env(
    session: Session,
    artifact_id: str,
    user: Principal,
    settings: Settings,
    container: str,
    index: str,
) -> Response:
    artifact = artifacts.get_artifact(session, user, artifact_id)
    position = optional_int(index, "index")
    if position is None:
        raise ValidationFailed.at(["index"], "which variable to delete is missing")
    spec = spec_edits.delete_env(_spec_json(artifact), _ref(container), position)
    _save_spec(session, user, artifact_id, spec, settings)
    return redirect(f"/registry/artifacts/{artifact_id}", notice="Environment variable deleted.")


@router.post("/registry/artifacts/{artifact_id}/probe")
async def save_probe(
    artifact_id: str,
    user: Actor,
    work: UnitOfWork,
    settings: AppSettings,
    container: Text,
    kind: Text,
    path: Annotated[str, Form()] = "",
    remove: MaybeText = None,
    port: MaybeText = None,
    initial_delay: Annotated[str | None, Form(alias="initialDelaySeconds")] = None,
    timeout: Annotated[str | None, Form(alias="timeoutSeconds")] = None,
    period: Annotated[str | None, Form(alias="periodSeconds")] = None,
    failures: Annotated[str | None, Form(alias="failureThreshold")] = None,
) -> Response:
    """Empty fields are left out, so the server fills in its defaults on write."""
    return await work(
        _save_probe,
        artifact_id,
        user,
        settings,
        container,
        kind,
        path,
        remove,
        port,
        initial_delay,
        timeout,
        period,
        failures,
    )


def _save_probe(
    session: Session,
    artifact_id: str,
    user: Principal,
    settings: Settings,
    container: str,
    kind: str,
    path: str,
    remove: str | None,
    port: str | None,
    initial_delay: str | None,
    timeout: str | None,
    period: str | None,
    failures: str | None,
) -> Response:
    artifact = artifacts.get_artifact(session, user, artifact_id)
    ref = _ref(container)
    if remove:
        spec = spec_edits.remove_probe(_spec_json(artifact), ref, kind)
        notice = f"The {kind} probe was removed."
    else:
        if not path.strip():
            raise ValidationFailed.at(["path"], "the probe path is required")
        given = (port, initial_delay, timeout, period, failures)
        numbers = {
            field: optional_int(value, field)
            for field, value in zip(PROBE_FIELDS, given, strict=True)
        }
        spec = spec_edits.set_probe(_spec_json(artifact), ref, kind, path.strip(), numbers)
        notice = f"The {kind} probe was saved."
    _save_spec(session, user, artifact_id, spec, settings)
    return redirect(f"/registry/artifacts/{artifact_id}", notice=notice)


@router.post("/registry/artifacts/{artifact_id}/description")
async def save_description(
    artifact_id: str,
    user: Actor,
    work: UnitOfWork,
    settings: AppSettings,
    description: Annotated[str, Form()] = "",
) -> Response:
    return await work(_save_description, artifact_id, user, settings, description)


def _save_description(
    session: Session,
    artifact_id: str,
    user: Principal,
    settings: Settings,
    description: str,
) -> Response:
    body = parse(ArtifactUpdate, {"description": description})
    artifacts.update_artifact(session, user, artifact_id, body, settings)
    return redirect(f"/registry/artifacts/{artifact_id}?tab=info", notice="Description saved.")


# --- helpers ---------------------------------------------------------------------------------


def _lock(session: Session, user: Principal, artifact_id: str, settings: Settings) -> Artifact:
    body = parse(ArtifactUpdate, {"status": "locked"})
    return artifacts.update_artifact(session, user, artifact_id, body, settings)


def _save_spec(
    session: Session, user: Principal, artifact_id: str, spec: dict[str, Any], settings: Settings
) -> None:
    body = parse(ArtifactUpdate, {"spec": spec})
    artifacts.update_artifact(session, user, artifact_id, body, settings)


def _spec_json(artifact: Artifact) -> dict[str, Any]:
    return artifact.spec.model_dump(mode="json", by_alias=True)


def _ref(container: str) -> ContainerRef:
    group, _, index = container.partition(":")
    try:
        return ContainerRef(int(group), int(index))
    except ValueError:
        raise ValidationFailed.at(["container"], "no such container in this artifact") from None

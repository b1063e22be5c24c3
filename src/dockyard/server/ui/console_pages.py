"""Console: the workload list and detail (overview, events, logs, replicas, endpoint, stats)."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Form, Request, Response
from sqlalchemy.orm import Session

from dockyard.core.errors import ValidationFailed
from dockyard.server.db.work import UnitOfWork
from dockyard.server.deployments import listing as deployment_listing
from dockyard.server.deployments.schemas import deployment_filters
from dockyard.server.kit.auth import Principal
from dockyard.server.kit.pagination import PageParams
from dockyard.server.platform import Platform, PlatformDep
from dockyard.server.sharing.roles import Right
from dockyard.server.ui import examples
from dockyard.server.ui.web import Actor, UiRoute, Viewer, parse, redirect, render
from dockyard.server.users import service as users
from dockyard.server.workloads import details, listing, rollouts, service
from dockyard.server.workloads.schemas import (
    IMPORTANCES,
    SettingsUpdate,
    WorkloadUpdate,
    workload_filters,
)
from dockyard.server.workloads.statuses import INACTIVE, Status

router = APIRouter(route_class=UiRoute, include_in_schema=False)

EDITABLE = ("name", "description", "importance")
WORKLOAD_TABS = ("overview", "settings", "endpoints", "monitoring", "activity")
SCALING_METRICS = (
    ("httpRequestsConcurrency", "HTTP requests in flight per replica"),
    ("cpuAverageUtilization", "CPU use, % of the CPU limit"),
)
INACTIVE_VALUES = sorted(status.value for status in INACTIVE)


def _listed(value: str | None) -> list[str] | None:
    return [value] if value else None


@router.get("/console/workloads")
async def workloads_page(
    request: Request,
    user: Viewer,
    work: UnitOfWork,
    platform: PlatformDep,
    search: str | None = None,
    status: str | None = None,
    artifact_status: str | None = None,
    importance: str | None = None,
    created_by: str | None = None,
) -> Response:
    return await work(
        _workloads_page,
        request,
        user,
        platform,
        search,
        status,
        artifact_status,
        importance,
        created_by,
    )


def _workloads_page(
    session: Session,
    request: Request,
    user: Principal,
    platform: Platform,
    search: str | None,
    status: str | None,
    artifact_status: str | None,
    importance: str | None,
    created_by: str | None,
) -> Response:
    # The API's own filter parsing: an unknown status or importance is refused the same way.
    filters = workload_filters(
        search=(search or "").strip()[:100] or None,
        status=_listed(status),
        artifact_status=_listed(artifact_status),
        importance=_listed(importance),
        created_by=_listed(created_by),
    )
    rows, total = listing.list_workloads(
        session, user, filters, PageParams(offset=0, limit=100), platform.base_url
    )
    people, _ = users.list_users(session, user, offset=0, limit=100)
    running = sum(1 for row in rows if row.status == Status.RUNNING)
    chips = {
        name: value
        for name, value in (
            ("search", search),
            ("status", status),
            ("artifact_status", artifact_status),
            ("importance", importance),
            ("created_by", created_by),
        )
        if value
    }
    return render(
        request,
        "workloads.html",
        workloads=rows,
        total=total,
        running=running,
        inactive=sum(1 for row in rows if row.status in INACTIVE_VALUES),
        people=people,
        statuses=[s.value for s in Status],
        importances=IMPORTANCES,
        chips=chips,
        summary_query=urlencode(
            [
                (api_name, chips[name])
                for name, api_name in (
                    ("search", "search"),
                    ("status", "status"),
                    ("artifact_status", "artifactStatus"),
                    ("importance", "importance"),
                    ("created_by", "createdBy"),
                )
                if name in chips
            ]
        ),
    )


@router.get("/console/workloads/{workload_id}")
async def workload_page(
    request: Request,
    workload_id: str,
    user: Viewer,
    work: UnitOfWork,
    platform: PlatformDep,
    tab: str = "overview",
) -> Response:
    return await work(_workload_page, request, workload_id, user, platform, tab)


def _workload_page(
    session: Session,
    request: Request,
    workload_id: str,
    user: Principal,
    platform: Platform,
    tab: str,
) -> Response:
    row = service.require(session, user, workload_id, Right.VIEW)
    workload = service.publish_one(session, user, row, platform)
    events, _ = details.events(session, user, workload_id, PageParams(offset=0, limit=50))
    protons = details.protons(session, user, workload_id, platform.base_url)
    active = next((p for p in protons if p.id == workload.proton_id), None)
    snapshot = details.status_details(session, user, workload_id, active.id) if active else None
    fronting, _ = deployment_listing.list_deployments(
        session,
        user,
        deployment_filters(workload_id=workload.id),
        PageParams(offset=0, limit=100),
        platform.base_url,
    )
    return render(
        request,
        "workload.html",
        tab=tab if tab in WORKLOAD_TABS else "overview",
        workload=workload,
        events=events,
        protons=protons,
        snapshot=snapshot,
        deployments=fronting,
        scaling_events=[e for e in events if e.event_type == "scaled"][:5],
        scaling_metrics=SCALING_METRICS,
        locked=bool(workload.artifact and workload.artifact.status == "locked"),
        importances=IMPORTANCES,
        can_update="CAN_UPDATE" in workload.permissions,
        can_delete="CAN_DELETE" in workload.permissions,
        inactive=workload.status in INACTIVE_VALUES,
        curl_example=examples.invoke_curl(workload.endpoint) if workload.endpoint else "",
        python_example=examples.invoke_python(workload.endpoint) if workload.endpoint else "",
    )


@router.post("/console/workloads/{workload_id}/update")
async def update_workload(
    workload_id: str,
    user: Actor,
    work: UnitOfWork,
    platform: PlatformDep,
    field: Annotated[str, Form()],
    value: Annotated[str, Form()] = "",
) -> Response:
    return await work(_update_workload, workload_id, user, platform, field, value)


def _update_workload(
    session: Session,
    workload_id: str,
    user: Principal,
    platform: Platform,
    field: str,
    value: str,
) -> Response:
    if field not in EDITABLE:
        raise ValidationFailed.at([field], "only name, description and importance are edited here")
    body = parse(WorkloadUpdate, {field: value.strip() if field != "description" else value})
    service.update_workload(session, user, workload_id, body, platform)
    return redirect(f"/console/workloads/{workload_id}", notice=f"The {field} was saved.")


@router.post("/console/workloads/{workload_id}/tags")
async def edit_tags(
    workload_id: str,
    user: Actor,
    work: UnitOfWork,
    platform: PlatformDep,
    name: Annotated[str, Form()] = "",
    value: Annotated[str, Form()] = "",
    remove: Annotated[str | None, Form()] = None,
) -> Response:
    """Add a tag, or remove the one at `remove`; the API's PATCH replaces the whole list."""
    return await work(_edit_tags, workload_id, user, platform, name, value, remove)


def _edit_tags(
    session: Session,
    workload_id: str,
    user: Principal,
    platform: Platform,
    name: str,
    value: str,
    remove: str | None,
) -> Response:
    row = service.require(session, user, workload_id, Right.VIEW)
    current = service.publish_one(session, user, row, platform).tags
    pairs = [{"name": tag.name, "value": tag.value} for tag in current]
    if remove is not None:
        pairs = [pair for index, pair in enumerate(pairs) if str(index) != remove]
    else:
        pairs.append({"name": name.strip(), "value": value.strip()})
    service.update_workload(
        session, user, workload_id, parse(WorkloadUpdate, {"tags": pairs}), platform
    )
    return redirect(f"/console/workloads/{workload_id}", notice="Tags saved.")


@router.post("/console/workloads/{workload_id}/autoscaling")
async def edit_autoscaling(
    request: Request, workload_id: str, user: Actor, work: UnitOfWork, platform: PlatformDep
) -> Response:
    """The Settings tab's Compute management form: one group's replicas or autoscaling,
    saved as a settings change (a rolling replacement)."""
    form = dict((await request.form()).items())
    fields = {key: value for key, value in form.items() if isinstance(value, str)}
    return await work(_edit_autoscaling, workload_id, user, platform, fields)


def _edit_autoscaling(
    session: Session,
    workload_id: str,
    user: Principal,
    platform: Platform,
    form: dict[str, str],
) -> Response:
    row = service.require(session, user, workload_id, Right.VIEW)
    runtime = dict(row.runtime or {})
    group_name = form.get("group") or "default"
    groups = [dict(g) for g in runtime.get("containerGroups") or []]
    group = next((g for g in groups if g.get("name", "default") == group_name), None)
    if group is None:
        group = {"name": group_name}
        groups.append(group)
    for stale in ("currentReplicaCount", "desiredReplicaCount", "resolvedBundle"):
        group.pop(stale, None)
    policies = [
        {"scalingMetric": metric, "target": _number(form, f"target_{metric}")}
        for metric, _ in SCALING_METRICS
        if form.get(f"target_{metric}", "").strip()
    ]
    if form.get("enabled"):
        group.pop("replicaCount", None)
        group["autoscaling"] = {
            "enabled": True,
            "minReplicaCount": _number(form, "minReplicaCount"),
            "maxReplicaCount": _number(form, "maxReplicaCount"),
            "policies": policies,
        }
    else:
        group["replicaCount"] = _number(form, "replicaCount")
        if group.get("autoscaling"):
            group["autoscaling"] = {**group["autoscaling"], "enabled": False}
    runtime["containerGroups"] = groups
    body = parse(SettingsUpdate, {"runtime": runtime})
    rollouts.update_settings(session, user, workload_id, body, platform)
    return redirect(
        f"/console/workloads/{workload_id}?tab=settings",
        notice="The settings are rolling out (a replacement starts the new replicas).",
    )


def _number(form: dict[str, str], name: str) -> float | int | str:
    """A number field as typed; what does not parse goes on to the API's own message."""
    text = form.get(name, "").strip()
    try:
        number = float(text)
    except ValueError:
        return text
    return int(number) if number.is_integer() else number


@router.post("/console/workloads/{workload_id}/start")
async def start_workload(
    workload_id: str, user: Actor, work: UnitOfWork, platform: PlatformDep
) -> Response:
    return await work(_start_workload, workload_id, user, platform)


def _start_workload(
    session: Session,
    workload_id: str,
    user: Principal,
    platform: Platform,
) -> Response:
    service.start_workload(session, user, workload_id, platform)
    return redirect(f"/console/workloads/{workload_id}", notice="The workload is starting.")


@router.post("/console/workloads/{workload_id}/stop")
async def stop_workload(
    workload_id: str, user: Actor, work: UnitOfWork, platform: PlatformDep
) -> Response:
    return await work(_stop_workload, workload_id, user, platform)


def _stop_workload(
    session: Session,
    workload_id: str,
    user: Principal,
    platform: Platform,
) -> Response:
    service.stop_workload(session, user, workload_id, platform)
    return redirect(f"/console/workloads/{workload_id}", notice="The workload is stopping.")


@router.post("/console/workloads/{workload_id}/promote")
async def promote_workload(
    workload_id: str, user: Actor, work: UnitOfWork, platform: PlatformDep
) -> Response:
    """Lock the draft the workload runs, in place (same id and endpoint, no restart)."""
    return await work(_promote_workload, workload_id, user, platform)


def _promote_workload(
    session: Session,
    workload_id: str,
    user: Principal,
    platform: Platform,
) -> Response:
    rollouts.promote(session, user, workload_id, platform)
    return redirect(f"/console/workloads/{workload_id}", notice="The workload was promoted.")


@router.post("/console/workloads/{workload_id}/delete")
async def delete_workload(
    workload_id: str, user: Actor, work: UnitOfWork, platform: PlatformDep
) -> Response:
    return await work(_delete_workload, workload_id, user, platform)


def _delete_workload(
    session: Session,
    workload_id: str,
    user: Principal,
    platform: Platform,
) -> Response:
    service.delete_workload(session, user, workload_id, platform)
    return redirect("/console/workloads", notice="The workload was deleted.")

"""`client.workloads` and `client.deployments`, in both flavours."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

from dockyard.core.deployments import AuditLog
from dockyard.core.workloads import WorkloadEvent
from dockyard.sdk.base import (
    BoundResource,
    Query,
    async_list,
    awaited,
    blocking,
    blocking_list,
    compact,
    plain_query,
    tag_list,
)
from dockyard.sdk.models import (
    AsyncDeployment,
    AsyncWorkload,
    Deployment,
    DeploymentVerbs,
    Workload,
    audit_log,
)
from dockyard.sdk.transport import Call, Operation, discard
from dockyard.sdk.workload import RUN_OVER, WorkloadVerbs

Tags = Mapping[str, str] | list[dict[str, str]] | None
W = TypeVar("W", bound=WorkloadVerbs)
D = TypeVar("D", bound=DeploymentVerbs)


class WorkloadCalls(BoundResource[W]):
    """Workloads: a running artifact with a stable id and invoke URL."""

    def _create(
        self,
        body: Mapping[str, Any] | None = None,
        *,
        artifact_id: str | None = None,
        artifact: Mapping[str, Any] | None = None,
        name: str | None = None,
        description: str | None = None,
        importance: str | None = None,
        runtime: Mapping[str, Any] | None = None,
        tags: Tags = None,
    ) -> Operation[W]:
        """POST /workloads with `artifact_id` or an inline `artifact` (a new draft)."""
        payload = {
            **(body or {}),
            **compact(
                artifactId=artifact_id,
                artifact=artifact,
                name=name,
                description=description,
                importance=importance,
                runtime=runtime,
                tags=tag_list(tags),
            ),
        }
        return self._one(Call("POST", "/workloads", json=payload))

    def _get(self, workload_id: str) -> Operation[W]:
        return self._one(Call("GET", f"/workloads/{workload_id}"))

    def _run(
        self,
        body: Mapping[str, Any] | None = None,
        *,
        image: str | None = None,
        command: list[str] | None = None,
        env: Mapping[str, str] | None = None,
        name: str | None = None,
        timeout: float = 3600.0,
        interval: float = 0.2,
        delete: bool = False,
    ) -> Operation[W]:
        """Run a task to its end, like `docker run`: create it, wait until its run is over,
        read its output. Returns the finished workload (`status`, `exit_code`, `output`).

        Give the workload's whole body, or `image` and `command` (a task: no port). With
        `delete`, the workload is deleted once its output is read."""
        payload = dict(body) if body is not None else task_body(image, command, env, name)
        workload = yield from self._one(Call("POST", "/workloads", json=payload))
        yield from workload._waiting(RUN_OVER, timeout, interval, None)
        yield from workload._read_output()
        if delete:
            yield from workload._delete()
        return workload

    def _list(
        self,
        *,
        status: str | list[str] | None = None,
        artifact_id: str | None = None,
        search: str | None = None,
        tag_keys: list[str] | None = None,
        tag_values: list[str] | None = None,
        order_by: str | None = None,
        limit: int | None = None,
    ) -> Query[W]:
        params = {
            "status": ",".join(status) if isinstance(status, list) else status,
            "artifactId": artifact_id,
            "search": search,
            "tagKeys": tag_keys,
            "tagValues": tag_values,
            "orderBy": order_by,
        }
        return self._bound_query("/workloads", params, limit)

    def _events(self, workload_id: str, *, limit: int | None = 100) -> Query[WorkloadEvent]:
        """The workload's events, newest first (status changes carry `reason` and `code`)."""
        return plain_query(f"/workloads/{workload_id}/events", WorkloadEvent, {}, limit)

    def _start(self, workload_id: str) -> Operation[W]:
        return self._acted(workload_id, "start")

    def _stop(self, workload_id: str) -> Operation[W]:
        return self._acted(workload_id, "stop")

    def _promote(self, workload_id: str) -> Operation[W]:
        return self._acted(workload_id, "promote")

    def _delete(self, workload_id: str) -> Operation[None]:
        return discard(Call("DELETE", f"/workloads/{workload_id}"))

    def _acted(self, workload_id: str, action: str) -> Operation[W]:
        yield Call("POST", f"/workloads/{workload_id}/{action}")
        return (yield from self._get(workload_id))


def task_body(
    image: str | None,
    command: list[str] | None,
    env: Mapping[str, str] | None,
    name: str | None,
) -> dict[str, Any]:
    """A workload body that runs `command` in `image` once (a task: its primary has no port)."""
    if not image:
        raise ValueError("give the workload's body, or an image (and a command) to run")
    container: dict[str, Any] = {"name": "main", "primary": True, "imageUri": image}
    if command:
        container["entrypoint"] = list(command)
    if env:
        container["environmentVars"] = [{"name": k, "value": v} for k, v in env.items()]
    spec = {"containerGroups": [{"name": "default", "containers": [container]}]}
    title = name or image.rsplit("/", 1)[-1].split(":")[0]
    return {"name": title, "artifact": {"name": title, "spec": spec}}


class Workloads(WorkloadCalls[Workload]):
    model = Workload
    run = blocking(WorkloadCalls._run)
    create = blocking(WorkloadCalls._create)
    get = blocking(WorkloadCalls._get)
    list = blocking_list(WorkloadCalls._list)
    events = blocking_list(WorkloadCalls._events)
    start = blocking(WorkloadCalls._start)
    stop = blocking(WorkloadCalls._stop)
    promote = blocking(WorkloadCalls._promote)
    delete = blocking(WorkloadCalls._delete)


class AsyncWorkloads(WorkloadCalls[AsyncWorkload]):
    model = AsyncWorkload
    run = awaited(WorkloadCalls._run)
    create = awaited(WorkloadCalls._create)
    get = awaited(WorkloadCalls._get)
    list = async_list(WorkloadCalls._list)
    events = async_list(WorkloadCalls._events)
    start = awaited(WorkloadCalls._start)
    stop = awaited(WorkloadCalls._stop)
    promote = awaited(WorkloadCalls._promote)
    delete = awaited(WorkloadCalls._delete)


class DeploymentCalls(BoundResource[D]):
    """Deployments: a stable, audited endpoint in front of a workload on a locked artifact."""

    def _create(
        self,
        workload_id: str,
        *,
        name: str | None = None,
        description: str | None = None,
        tags: Tags = None,
    ) -> Operation[D]:
        body = compact(
            workloadId=workload_id, name=name, description=description, tags=tag_list(tags)
        )
        return self._one(Call("POST", "/console/deployments", json=body))

    def _get(self, deployment_id: str) -> Operation[D]:
        return self._one(Call("GET", f"/console/deployments/{deployment_id}"))

    def _list(
        self,
        *,
        status: str | None = None,
        workload_id: str | None = None,
        search: str | None = None,
        tag_keys: list[str] | None = None,
        tag_values: list[str] | None = None,
        limit: int | None = None,
    ) -> Query[D]:
        params = {
            "status": status,
            "workloadId": workload_id,
            "search": search,
            "tagKeys": tag_keys,
            "tagValues": tag_values,
        }
        return self._bound_query("/console/deployments", params, limit)

    def _audit(self, deployment_id: str) -> Operation[AuditLog]:
        return audit_log(deployment_id)

    def _delete(self, deployment_id: str) -> Operation[None]:
        return discard(Call("DELETE", f"/console/deployments/{deployment_id}"))


class Deployments(DeploymentCalls[Deployment]):
    model = Deployment
    create = blocking(DeploymentCalls._create)
    get = blocking(DeploymentCalls._get)
    list = blocking_list(DeploymentCalls._list)
    audit = blocking(DeploymentCalls._audit)
    delete = blocking(DeploymentCalls._delete)


class AsyncDeployments(DeploymentCalls[AsyncDeployment]):
    model = AsyncDeployment
    create = awaited(DeploymentCalls._create)
    get = awaited(DeploymentCalls._get)
    list = async_list(DeploymentCalls._list)
    audit = awaited(DeploymentCalls._audit)
    delete = awaited(DeploymentCalls._delete)

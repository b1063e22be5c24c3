"""`client.workloads` and `client.deployments`."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from dockyard.core.deployments import AuditLog
from dockyard.core.workloads import WorkloadEvent
from dockyard.sdk.base import Listing, Resource, compact, tag_list
from dockyard.sdk.models import Deployment, Workload, audit_log
from dockyard.sdk.transport import Call, Operation, discard

Tags = Mapping[str, str] | list[dict[str, str]] | None


class Workloads(Resource):
    """Workloads: a running artifact with a stable id and invoke URL."""

    def create(
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
    ) -> Workload:
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
        return self._one(Call("POST", "/workloads", json=payload), Workload)

    def get(self, workload_id: str) -> Workload:
        return self._one(Call("GET", f"/workloads/{workload_id}"), Workload)

    def list(
        self,
        *,
        status: str | list[str] | None = None,
        artifact_id: str | None = None,
        search: str | None = None,
        tag_keys: list[str] | None = None,
        tag_values: list[str] | None = None,
        order_by: str | None = None,
        limit: int | None = None,
    ) -> Listing[Workload]:
        params = {
            "status": ",".join(status) if isinstance(status, list) else status,
            "artifactId": artifact_id,
            "search": search,
            "tagKeys": tag_keys,
            "tagValues": tag_values,
            "orderBy": order_by,
        }
        return self._list("/workloads", Workload, params, limit)

    def events(self, workload_id: str, *, limit: int | None = 100) -> Listing[WorkloadEvent]:
        """The workload's events, newest first (status changes carry `reason` and `code`)."""
        path = f"/workloads/{workload_id}/events"
        return Listing(self._client, path, {}, WorkloadEvent.model_validate, limit)

    def start(self, workload_id: str) -> Workload:
        return self._run(_acted(self, workload_id, "start"))

    def stop(self, workload_id: str) -> Workload:
        return self._run(_acted(self, workload_id, "stop"))

    def promote(self, workload_id: str) -> Workload:
        return self._run(_acted(self, workload_id, "promote"))

    def delete(self, workload_id: str) -> None:
        return self._run(discard(Call("DELETE", f"/workloads/{workload_id}")))


class Deployments(Resource):
    """Deployments: a stable, audited endpoint in front of a workload on a locked artifact."""

    def create(
        self,
        workload_id: str,
        *,
        name: str | None = None,
        description: str | None = None,
        tags: Tags = None,
    ) -> Deployment:
        body = compact(
            workloadId=workload_id, name=name, description=description, tags=tag_list(tags)
        )
        return self._one(Call("POST", "/console/deployments", json=body), Deployment)

    def get(self, deployment_id: str) -> Deployment:
        return self._one(Call("GET", f"/console/deployments/{deployment_id}"), Deployment)

    def list(
        self,
        *,
        status: str | None = None,
        workload_id: str | None = None,
        search: str | None = None,
        tag_keys: list[str] | None = None,
        tag_values: list[str] | None = None,
        limit: int | None = None,
    ) -> Listing[Deployment]:
        params = {
            "status": status,
            "workloadId": workload_id,
            "search": search,
            "tagKeys": tag_keys,
            "tagValues": tag_values,
        }
        return self._list("/console/deployments", Deployment, params, limit)

    def audit(self, deployment_id: str) -> AuditLog:

        return self._run(audit_log(deployment_id))

    def delete(self, deployment_id: str) -> None:
        return self._run(discard(Call("DELETE", f"/console/deployments/{deployment_id}")))


def _acted(resource: Resource, workload_id: str, action: str) -> Operation[Workload]:
    yield Call("POST", f"/workloads/{workload_id}/{action}")
    body = yield Call("GET", f"/workloads/{workload_id}")
    return Workload.model_validate(body)._bind(resource._client)

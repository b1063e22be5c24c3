"""Request bodies and list filters of /workloads."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated, Literal

from fastapi import Query
from pydantic import Field, model_validator

from dockyard.core.base import RequestBody
from dockyard.core.errors import ValidationFailed
from dockyard.core.workloads import Importance, ReplacementConfig, WorkloadRuntime
from dockyard.server.artifacts.schemas import ArtifactCreate
from dockyard.server.kit.pagination import split_list
from dockyard.server.tags.schemas import TagInput
from dockyard.server.workloads.statuses import NEVER_SET, Status


class WorkloadCreate(RequestBody):
    """`CreateWorkloadRequest`: run an existing artifact (`artifactId`) or an inline one."""

    name: str | None = Field(
        default=None, min_length=1, max_length=5000, description="Default: the artifact's name."
    )
    description: str = Field(default="", max_length=50000)
    importance: Importance = "low"
    artifact_id: str | None = Field(default=None, max_length=64)
    artifact: ArtifactCreate | None = Field(
        default=None, description="Creates a draft artifact (and its repository) to run."
    )
    runtime: WorkloadRuntime = Field(default_factory=WorkloadRuntime)
    tags: list[TagInput] | None = Field(default=None, max_length=100)
    use_case_id: str | None = Field(
        default=None, max_length=64, description="Stored and shown; Dockyard has no Use Cases."
    )

    @model_validator(mode="after")
    def _one_artifact(self) -> WorkloadCreate:
        if (self.artifact_id is None) == (self.artifact is None):
            raise ValueError("give exactly one of 'artifactId' or 'artifact'")
        return self


class WorkloadUpdate(RequestBody):
    """`UpdateWorkloadRequest` (PATCH): metadata only, applied in place with no restart."""

    name: str | None = Field(default=None, min_length=1, max_length=5000)
    description: str | None = Field(default=None, max_length=50000)
    importance: Importance | None = None
    tags: list[TagInput] | None = Field(default=None, max_length=100)


ORDERINGS = ("name", "createdAt", "updatedAt", "status", "importance")
IMPORTANCES = ("critical", "high", "moderate", "low")


@dataclass
class WorkloadFilters:
    created_by: list[str] = field(default_factory=list)
    ids: list[str] = field(default_factory=list)
    search: str | None = None
    tag_keys: list[str] = field(default_factory=list)
    tag_values: list[str] = field(default_factory=list)
    order_by: str = "-createdAt"
    statuses: list[str] = field(default_factory=list)
    artifact_statuses: list[str] = field(default_factory=list)
    importance: list[str] = field(default_factory=list)
    artifact_id: str | None = None
    repository_id: str | None = None
    service_stats: bool = False


def workload_filters(
    created_by: Annotated[list[str] | None, Query(alias="createdBy")] = None,
    ids: Annotated[list[str] | None, Query()] = None,
    search: Annotated[str | None, Query(max_length=100)] = None,
    tag_keys: Annotated[list[str] | None, Query(alias="tagKeys")] = None,
    tag_values: Annotated[list[str] | None, Query(alias="tagValues")] = None,
    order_by: Annotated[str | None, Query(alias="orderBy", max_length=32)] = None,
    sort: Annotated[str | None, Query(max_length=32, description="Synonym of orderBy.")] = None,
    status: Annotated[list[str] | None, Query()] = None,
    artifact_status: Annotated[list[str] | None, Query(alias="artifactStatus")] = None,
    importance: Annotated[list[str] | None, Query()] = None,
    artifact_id: Annotated[str | None, Query(alias="artifactId", max_length=64)] = None,
    repository_id: Annotated[str | None, Query(alias="repositoryId", max_length=64)] = None,
    service_stats: Annotated[bool, Query(alias="serviceStats")] = False,
) -> WorkloadFilters:
    order = order_by or sort or "-createdAt"
    if order.lstrip("-") not in ORDERINGS:
        raise ValidationFailed.at(
            ["query", "orderBy"], f"orderBy must be one of {', '.join(ORDERINGS)} (- for desc)"
        )
    statuses = split_list(status)
    known = {s.value for s in Status} | NEVER_SET
    for value in statuses:
        if value not in known:
            raise ValidationFailed.at(["query", "status"], f"unknown status '{value}'")
    artifact_statuses = ["locked" if s == "registered" else s for s in split_list(artifact_status)]
    for value in artifact_statuses:
        if value not in ("draft", "locked"):
            raise ValidationFailed.at(["query", "artifactStatus"], f"unknown status '{value}'")
    importances = split_list(importance)
    for value in importances:
        if value not in IMPORTANCES:
            raise ValidationFailed.at(["query", "importance"], f"unknown importance '{value}'")
    return WorkloadFilters(
        created_by=split_list(created_by),
        ids=split_list(ids),
        search=search or None,
        tag_keys=split_list(tag_keys),
        tag_values=split_list(tag_values),
        order_by=order,
        statuses=statuses,
        artifact_statuses=artifact_statuses,
        importance=importances,
        artifact_id=artifact_id,
        repository_id=repository_id,
        service_stats=service_stats,
    )


class ReplacementCreate(RequestBody):
    """`StartReplacementRequest`."""

    artifact_id: str = Field(max_length=64)
    strategy: Literal["rolling"] = "rolling"
    config: ReplacementConfig = Field(default_factory=ReplacementConfig)
    runtime: WorkloadRuntime | None = None


class SettingsUpdate(RequestBody):
    runtime: WorkloadRuntime

"""Request bodies and list filters of /console/deployments."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated

from fastapi import Query
from pydantic import Field

from dockyard.core.base import RequestBody
from dockyard.core.errors import ValidationFailed
from dockyard.server.kit.pagination import split_list
from dockyard.server.tags.schemas import TagInput


class DeploymentCreate(RequestBody):
    workload_id: str = Field(max_length=64)
    name: str | None = Field(
        default=None, min_length=1, max_length=5000, description="Default: the workload's name."
    )
    description: str = Field(default="", max_length=50000)
    tags: list[TagInput] | None = Field(default=None, max_length=100)


class DeploymentUpdate(RequestBody):
    workload_id: str | None = Field(
        default=None, max_length=64, description="Switch to this workload once it is running."
    )
    name: str | None = Field(default=None, min_length=1, max_length=5000)
    description: str | None = Field(default=None, max_length=50000)
    tags: list[TagInput] | None = Field(default=None, max_length=100)


STATUSES = ("active", "inactive", "errored", "launching")
ORDERINGS = ("name", "createdAt", "updatedAt")


@dataclass
class DeploymentFilters:
    search: str | None = None
    created_by: list[str] = field(default_factory=list)
    statuses: list[str] = field(default_factory=list)
    workload_id: str | None = None
    tag_keys: list[str] = field(default_factory=list)
    tag_values: list[str] = field(default_factory=list)
    order_by: str = "-createdAt"


def deployment_filters(
    search: Annotated[str | None, Query(max_length=100)] = None,
    created_by: Annotated[list[str] | None, Query(alias="createdBy")] = None,
    status: Annotated[list[str] | None, Query()] = None,
    workload_id: Annotated[str | None, Query(alias="workloadId", max_length=64)] = None,
    tag_keys: Annotated[list[str] | None, Query(alias="tagKeys")] = None,
    tag_values: Annotated[list[str] | None, Query(alias="tagValues")] = None,
    order_by: Annotated[str | None, Query(alias="orderBy", max_length=32)] = None,
) -> DeploymentFilters:
    order = order_by or "-createdAt"
    if order.lstrip("-") not in ORDERINGS:
        raise ValidationFailed.at(
            ["query", "orderBy"], f"orderBy must be one of {', '.join(ORDERINGS)} (- for desc)"
        )
    statuses = split_list(status)
    for value in statuses:
        if value not in STATUSES:
            raise ValidationFailed.at(["query", "status"], f"unknown status '{value}'")
    return DeploymentFilters(
        search=search or None,
        created_by=split_list(created_by),
        statuses=statuses,
        workload_id=workload_id,
        tag_keys=split_list(tag_keys),
        tag_values=split_list(tag_values),
        order_by=order,
    )

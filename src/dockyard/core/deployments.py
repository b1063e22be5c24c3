"""Public models of deployments and their audit log."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from dockyard.core.base import CamelModel
from dockyard.core.models import TagInfo, UserData

DeploymentStatus = Literal["active", "inactive", "errored", "launching"]


class Deployment(CamelModel):
    """A stable, governed endpoint in front of a workload on a locked artifact."""

    id: str
    deployment_id: str = Field(description="Same as `id`, for clients of the older API.")
    name: str
    description: str = ""
    workload_id: str
    pending_workload_id: str | None = None
    status: DeploymentStatus
    endpoint: str
    creator: UserData | None = None
    permissions: list[str] = Field(default_factory=list)
    tags: list[TagInfo] = Field(default_factory=list)
    created_at: str
    updated_at: str


class AuditEntry(CamelModel):
    id: str
    sequence: int
    timestamp: str
    actor_id: str | None = None
    action: str
    before: dict[str, Any] | None = None
    after: dict[str, Any] | None = None
    prev_hash: str
    hash: str
    hmac: str  # HMAC-SHA-256 of `hash` under a key only the server holds


class AuditLog(CamelModel):
    """The list envelope plus whether the whole hash chain recomputes."""

    count: int
    total_count: int
    next: str | None
    previous: str | None
    data: list[AuditEntry]
    verified: bool

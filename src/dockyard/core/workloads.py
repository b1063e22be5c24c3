"""Public models of workloads, protons and their events (`WorkloadFormatted`, …)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field, StringConstraints, field_validator, model_validator

from dockyard.core.autoscaling import Autoscaling
from dockyard.core.base import CamelModel, InputModel
from dockyard.core.bundles import Bundle
from dockyard.core.bundles import resolve as resolve_bundle
from dockyard.core.models import TagInfo, UserData
from dockyard.core.spec import Quantity, ResourceRequest
from dockyard.core.stats import RequestStats
from dockyard.core.text import OneLine

# A memory quantity: bytes, or a number with a unit ("512MB", "1GiB"); at most 1 PiB.

Importance = Literal["critical", "high", "moderate", "low"]
# What started a rollout: a new artifact, a runtime settings change, a rollback, a promote.
ReplacementKind = Literal["replacement", "settings", "rollback", "promote"]


class ResourceAllocation(InputModel):
    cpu: float | None = Field(default=None, ge=0, le=1024, description="Cores, fractions allowed.")
    memory: Quantity | None = Field(
        default=None, description='Bytes, or a string such as "512MB", "1GiB".'
    )
    gpu: float | None = Field(default=None, ge=0, le=64)
    gpu_memory: Quantity | None = None


class ContainerOverride(InputModel):
    name: OneLine = Field(min_length=1, max_length=253)
    resource_allocation: ResourceAllocation | None = None
    resource_request: ResourceRequest | None = None


class GroupRuntime(InputModel):
    name: OneLine = Field(default="default", min_length=1, max_length=253)
    replica_count: int | None = Field(
        default=1, ge=1, le=100, description="Replicas of the group; null with autoscaling."
    )
    autoscaling: Autoscaling | None = None
    resource_bundles: list[Annotated[OneLine, StringConstraints(max_length=64)]] = Field(
        default_factory=list, max_length=10
    )
    bundle_selection_policy: Literal["availability"] = "availability"
    containers: list[ContainerOverride] = Field(default_factory=list, max_length=100)
    resolved_bundle: Bundle | None = Field(
        default=None,
        description="Read-only: the bundle the group runs with (the first known id of "
        "resourceBundles), or null. A value sent is ignored.",
        json_schema_extra={"readOnly": True},
    )

    current_replica_count: int | None = Field(
        default=None,
        description="Read-only: the group's ready replicas now. A value sent is ignored.",
        json_schema_extra={"readOnly": True},
    )
    desired_replica_count: int | None = Field(
        default=None,
        description="Read-only: the replicas the group is asked to have now (the autoscaler's "
        "count, or replicaCount). A value sent is ignored.",
        json_schema_extra={"readOnly": True},
    )

    @field_validator("resolved_bundle", mode="before")
    @classmethod
    def _drop_malformed_bundle(cls, value: Any) -> Any:
        # Clients echo responses back as requests; whatever they send here is not theirs to set.
        return value if isinstance(value, dict | Bundle) else None

    @model_validator(mode="after")
    def _autoscaling_replaces_replica_count(self) -> GroupRuntime:
        if self.autoscaling is None or not self.autoscaling.enabled:
            return self
        if "replica_count" in self.model_fields_set and self.replica_count is not None:
            raise ValueError(
                "replicaCount cannot be combined with autoscaling.enabled=true; the autoscaler "
                "sets the count between minReplicaCount and maxReplicaCount"
            )
        self.replica_count = None
        return self

    def scaled(self) -> bool:
        """Whether the autoscaler sets this group's replica count."""
        return self.autoscaling is not None and self.autoscaling.enabled

    @model_validator(mode="after")
    def _resolve_bundle(self) -> GroupRuntime:
        # Derived from resourceBundles, never taken from the input. The one exception: ids this
        # copy of the catalog does not know (an SDK older than its server) keep what was read.
        resolved = resolve_bundle(self.resource_bundles)
        if resolved is not None or not self.resource_bundles:
            self.resolved_bundle = resolved
        return self


class WorkloadRuntime(InputModel):
    """How much runs: replicas and resources per container group, overlaid on the artifact."""

    container_groups: list[GroupRuntime] = Field(default_factory=list, max_length=20)
    replica_count: int | None = Field(
        default=None,
        ge=1,
        le=100,
        description="Replicas of an artifact with one container group (sets that group's "
        "replicaCount); 422 with several groups or with autoscaling.",
    )
    enclave_selection_policy: Literal["availability", "manual"] | None = Field(
        default=None, description="Stored and shown; this release places nothing by enclave."
    )
    enclaves: list[str] | None = Field(
        default=None, max_length=100, description="Stored and shown, like the policy."
    )


class ArtifactInfo(CamelModel):
    id: str
    name: str | None = None
    status: str | None = None
    type: str | None = None
    version: int | None = None
    artifact_repository_id: str | None = None


class WorkloadStatusDetails(CamelModel):
    """What a workload's own output and status say about it (the reference's `statusDetails`)."""

    log_tail: list[str] | None = Field(
        default=None,
        description="The last 50 lines of the primary container's output. In lists: only what "
        "was kept when the workload errored (reading every item's output would be slow).",
    )
    reason: str | None = Field(
        default=None,
        description="Why the workload is errored, or why a task failed: image_pull_failed, "
        "start_failed, crash_loop, probe_failed, ready_timeout, exit_nonzero or "
        "deadline_exceeded; null in any other status.",
    )
    message: str | None = Field(
        default=None,
        description="The cause in one sentence, as the container engine reported it; null "
        "unless the workload is errored or failed.",
    )


class WorkloadReplacementInfo(CamelModel):
    """The replacement under way on a workload, in its summary form."""

    candidate_proton_ids: list[str] = Field(default_factory=list)
    status: str = "unknown"
    strategy: str = "rolling"


class Workload(CamelModel):
    """A running instance of an artifact with a stable id and invoke URL."""

    id: str
    name: str
    description: str = ""
    importance: Importance = "low"
    status: str
    type: str = "service"
    artifact_id: str | None = None
    artifact: ArtifactInfo | None = None
    proton_id: str | None = None
    endpoint: str | None = Field(
        description="The invoke URL; null for a task, which serves no requests."
    )
    exit_code: int | None = Field(
        default=None,
        description="A finished task's exit code; null until it ends, and when Dockyard "
        "killed it (the run cap, a stop).",
    )
    runtime: WorkloadRuntime = Field(default_factory=WorkloadRuntime)
    replacement: WorkloadReplacementInfo | None = None
    request_stats: RequestStats | None = Field(
        default=None, description="Set when listing with serviceStats=true."
    )
    use_case_id: str | None = Field(default=None, description="Stored and shown as given.")
    last_response: str | None = None
    status_details: WorkloadStatusDetails = Field(default_factory=WorkloadStatusDetails)
    expires_at: str | None = Field(
        default=None, description="When a workload on a draft artifact will be terminated."
    )
    owners: list[UserData] = Field(default_factory=list)
    creator: UserData | None = None
    permissions: list[str] = Field(default_factory=list)
    tags: list[TagInfo] = Field(default_factory=list)
    created_at: str
    updated_at: str


class WorkloadOperation(CamelModel):
    """Answer to start and stop: the change is under way; poll `trackVia`."""

    status: str
    workload_id: str
    track_via: str


class WorkloadSettings(CamelModel):
    runtime: WorkloadRuntime


class WorkloadEvent(CamelModel):
    id: str
    workload_id: str
    timestamp: str
    event_type: str
    actor_id: str | None = None
    details: dict[str, Any] = Field(default_factory=dict)


class ProtonStatusDetails(CamelModel):
    log_tail: list[str] | None = None


class Proton(CamelModel):
    id: str
    name: str
    workload_id: str
    artifact_id: str | None
    role: str
    status: str
    running_since: str | None = None
    runtime: WorkloadRuntime = Field(default_factory=WorkloadRuntime)
    endpoint: str | None = None
    creator: UserData | None = None
    status_details: ProtonStatusDetails = Field(default_factory=ProtonStatusDetails)
    created_at: str
    updated_at: str


class ReplicaCondition(CamelModel):
    type: str
    met: bool | None = None
    since: str | None = None


class ReplicaContainer(CamelModel):
    name: str
    image: str | None = None
    ready: bool = False
    restart_count: int = 0
    started_at: str | None = None
    status: Literal["running", "waiting", "terminated", "unknown"] = "unknown"


class ReplicaDetail(CamelModel):
    name: str
    status: Literal["pending", "running", "succeeded", "failed", "unknown"]
    address: str | None = None
    node_address: str | None = None
    started_at: str | None = None
    message: str | None = None
    conditions: list[ReplicaCondition] = Field(default_factory=list)
    containers: list[ReplicaContainer] = Field(default_factory=list)


class OverallStatus(CamelModel):
    state: str
    summary: str
    last_updated: str


class ReplicaStatusesSnapshot(CamelModel):
    overall_status: OverallStatus
    replicas: list[ReplicaDetail] = Field(default_factory=list)
    log_tail: list[str] | None = None


class LogEntry(CamelModel):
    timestamp: str
    level: str
    message: str
    replica: str
    stream: str
    span_id: str | None = Field(default=None, description="From a JSON line that carries one.")
    trace_id: str | None = Field(default=None, description="From a JSON line that carries one.")
    stacktrace: str | None = Field(default=None, description="From a JSON line that carries one.")


class RelatedItem(CamelModel):
    id: str
    type: str
    name: str | None = None
    created_at: str | None = None
    updated_at: str | None = None
    creator: UserData | None = None
    permissions: list[str] | None = None


class RelatedEntities(CamelModel):
    count: int
    data: list[RelatedItem]


class ReplacementConfig(InputModel):
    warmup_duration_minutes: int = Field(default=0, ge=0, le=1440)
    keep_old_version_minutes: int = Field(default=0, ge=0, le=10080)


class Replacement(CamelModel):
    """A rollout onto a workload (also the entries of its history)."""

    id: str
    name: str
    kind: ReplacementKind = "replacement"
    workload_id: str
    candidate_artifact_id: str | None = None
    previous_artifact_id: str | None = None
    user_id: str | None = None
    tenant_id: str | None = None
    candidate_proton_ids: list[str] = Field(default_factory=list)
    previous_proton_ids: list[str] | None = None
    config: ReplacementConfig = Field(default_factory=ReplacementConfig)
    runtime: WorkloadRuntime | None = None
    status: str
    strategy: str = "rolling"
    message: str | None = None
    switched_at: str | None = None
    is_deleted: bool = False
    deleted_at: str | None = None
    creator: UserData | None = None
    created_at: str
    updated_at: str

"""A container group's `autoscaling`: bounds and the metrics that move its replica count.

Two shapes reach the API. The current one puts the bounds on the group
(`minReplicaCount`/`maxReplicaCount`) and gives each policy only `{scalingMetric, target}`;
the older one puts `minCount`/`maxCount` (and a `priority`) in each policy. Both are read, the
older bounds are hoisted to the group, and responses carry both, so clients of either shape
read what they wrote.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from dockyard.core.base import InputModel

MAX_REPLICAS = 100  # per group, as replicaCount

CPU_UTILIZATION = "cpuAverageUtilization"
HTTP_CONCURRENCY = "httpRequestsConcurrency"
# The hosted platform's metrics for NIM containers: read so the answer can say they are not
# supported here, rather than that they are unknown.
NIM_METRICS = ("gpuCacheUtilization", "gpuRequestQueueDepth")
ScalingMetric = Literal[
    "cpuAverageUtilization",
    "httpRequestsConcurrency",
    "gpuCacheUtilization",
    "gpuRequestQueueDepth",
]


class AutoscalingPolicy(InputModel):
    """Scale so that `scalingMetric` averages `target` per ready replica."""

    scaling_metric: ScalingMetric = Field(
        description="cpuAverageUtilization: percent of the group's CPU limit, averaged over "
        "its ready replicas. httpRequestsConcurrency: invoke requests in flight per ready "
        "replica."
    )
    target: float = Field(gt=0, le=1_000_000)
    min_count: int | None = Field(
        default=None,
        ge=0,
        le=MAX_REPLICAS,
        description="Older shape of the group's minReplicaCount; responses repeat it here.",
    )
    max_count: int | None = Field(
        default=None,
        ge=0,
        le=MAX_REPLICAS,
        description="Older shape of the group's maxReplicaCount; responses repeat it here.",
    )
    priority: int | None = Field(
        default=None,
        description="Kept as given. Like Kubernetes' autoscaler, Dockyard follows the policy "
        "asking for the most replicas, whatever their priorities.",
    )


class Autoscaling(InputModel):
    enabled: bool = True
    min_replica_count: int | None = Field(
        default=None,
        ge=0,
        le=MAX_REPLICAS,
        description="Fewest replicas (default 1). 0 lets an idle group scale to zero; it "
        "needs an httpRequestsConcurrency policy, which wakes it.",
    )
    max_replica_count: int | None = Field(
        default=None, ge=1, le=MAX_REPLICAS, description="Most replicas (required when enabled)."
    )
    policies: list[AutoscalingPolicy] = Field(default_factory=list, max_length=10)

    @model_validator(mode="after")
    def _hoist_bounds(self) -> Autoscaling:
        # Group-level bounds win; the older per-policy ones fill in what they leave out.
        if self.min_replica_count is None:
            mins = [p.min_count for p in self.policies if p.min_count is not None]
            self.min_replica_count = min(mins) if mins else 1
        if self.max_replica_count is None:
            maxes = [p.max_count for p in self.policies if p.max_count]
            self.max_replica_count = max(maxes) if maxes else None
        if not self.enabled:
            return self
        if not self.policies:
            raise ValueError("autoscaling needs at least one policy when enabled")
        if self.max_replica_count is None:
            raise ValueError("autoscaling needs maxReplicaCount (or the policies' maxCount)")
        if self.min_replica_count > self.max_replica_count:
            raise ValueError(
                f"minReplicaCount ({self.min_replica_count}) is above maxReplicaCount "
                f"({self.max_replica_count})"
            )
        if self.min_replica_count == 0 and not self.uses(HTTP_CONCURRENCY):
            raise ValueError(
                "minReplicaCount 0 (scale to zero) needs an httpRequestsConcurrency policy: "
                "only a request can wake a group with no replica"
            )
        for policy in self.policies:
            policy.min_count = self.min_replica_count
            policy.max_count = self.max_replica_count
        return self

    def uses(self, metric: str) -> bool:
        return any(policy.scaling_metric == metric for policy in self.policies)

    @property
    def lowest(self) -> int:
        return self.min_replica_count if self.min_replica_count is not None else 1

    @property
    def highest(self) -> int:
        return self.max_replica_count or max(self.lowest, 1)

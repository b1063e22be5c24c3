"""Where each domain's router is mounted: the current paths and the old aliases."""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import APIRouter, Depends, FastAPI

from dockyard.server.artifact_repos.router import router as repositories
from dockyard.server.artifacts.router import router as artifacts
from dockyard.server.compute.router import router as compute_bundles
from dockyard.server.credentials.router import router as credentials
from dockyard.server.deployments.router import router as deployments
from dockyard.server.kit.errors import ERROR_RESPONSES
from dockyard.server.kit.request_input import check_request_input
from dockyard.server.users.router import tokens_router, users_router
from dockyard.server.version.router import router as version
from dockyard.server.workloads.rollout_router import router as workload_rollouts
from dockyard.server.workloads.router import otel_router
from dockyard.server.workloads.router import router as workloads
from dockyard.server.workloads.stats_router import router as workload_stats

API = "/api/v2"
# Before every API handler: JSON bodies only (415), no NUL byte anywhere (422).
CHECKS = [Depends(check_request_input)]


@dataclass(frozen=True)
class Mount:
    router: APIRouter
    prefix: str  # current path, under /api/v2
    old_prefix: str | None = None  # the older API generation's path, served by the same handlers


def mounts() -> list[Mount]:
    return [
        Mount(artifacts, "/artifacts", "/registry/artifacts"),
        Mount(repositories, "/artifactRepositories", "/registry/artifactRepositories"),
        # Before the workloads router: `/workloads/stats` must not match `/workloads/{id}`.
        Mount(workload_stats, "/workloads", "/console/workloads"),
        Mount(workloads, "/workloads", "/console/workloads"),
        Mount(workload_rollouts, "/workloads", "/console/workloads"),
        Mount(deployments, "/console/deployments"),
        Mount(users_router, "/users"),
        Mount(tokens_router, "/apiTokens"),
        Mount(credentials, "/credentials"),
        Mount(otel_router, "/otel/workload"),
        Mount(compute_bundles, "/mlops/compute/bundles"),
        Mount(version, "/version"),
    ]


def install_routes(app: FastAPI) -> None:
    for mount in mounts():
        app.include_router(
            mount.router, prefix=API + mount.prefix, responses=ERROR_RESPONSES, dependencies=CHECKS
        )
        if mount.old_prefix:
            # Hidden from the OpenAPI document: same operations, older paths.
            app.include_router(
                mount.router,
                prefix=API + mount.old_prefix,
                include_in_schema=False,
                dependencies=CHECKS,
            )

"""The Python SDK of Dockyard: `Client` and `AsyncClient` over the HTTP API.

It imports nothing of the server: installing Dockyard on a laptop and pointing the SDK at a
remote server is the normal case.
"""

from dockyard.sdk.client import AsyncClient, Client
from dockyard.sdk.errors import (
    ConfigurationError,
    Conflict,
    ConnectionFailed,
    DockyardError,
    Forbidden,
    IgnoredFieldWarning,
    NotFound,
    RuleViolation,
    Unauthorized,
    ValidationFailed,
    WaitTimeout,
    WorkloadFailed,
)
from dockyard.sdk.models import (
    Artifact,
    ArtifactRepository,
    AsyncArtifact,
    AsyncArtifactRepository,
    AsyncDeployment,
    AsyncWorkload,
    Deployment,
    Workload,
)

__all__ = [
    "Artifact",
    "ArtifactRepository",
    "AsyncArtifact",
    "AsyncArtifactRepository",
    "AsyncClient",
    "AsyncDeployment",
    "AsyncWorkload",
    "Client",
    "ConfigurationError",
    "Conflict",
    "ConnectionFailed",
    "Deployment",
    "DockyardError",
    "Forbidden",
    "IgnoredFieldWarning",
    "NotFound",
    "RuleViolation",
    "Unauthorized",
    "ValidationFailed",
    "WaitTimeout",
    "Workload",
    "WorkloadFailed",
]

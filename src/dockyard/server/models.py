"""Every table, imported in one place so metadata (and Alembic) see them all."""

from dockyard.server.artifacts.models import Artifact, ArtifactRepository
from dockyard.server.autoscaling.models import InvokeLoad
from dockyard.server.credentials.models import Credential
from dockyard.server.db.base import Base
from dockyard.server.deployments.models import Deployment, DeploymentAuditEntry
from dockyard.server.installation.models import InstallationFact
from dockyard.server.sessions.models import SignInCode, WebSession
from dockyard.server.sharing.models import SharedRole
from dockyard.server.statistics.models import RequestStat
from dockyard.server.tags.models import Tag
from dockyard.server.users.models import ApiToken, User
from dockyard.server.workloads.models import (
    Proton,
    Replacement,
    Replica,
    Workload,
    WorkloadEvent,
)

metadata = Base.metadata

__all__ = [
    "ApiToken",
    "Artifact",
    "ArtifactRepository",
    "Credential",
    "Deployment",
    "DeploymentAuditEntry",
    "InstallationFact",
    "InvokeLoad",
    "SharedRole",
    "SignInCode",
    "Tag",
    "User",
    "WebSession",
    "Workload",
    "WorkloadEvent",
    "Proton",
    "Replica",
    "Replacement",
    "RequestStat",
    "metadata",
]

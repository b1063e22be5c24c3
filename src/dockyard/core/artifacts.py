"""Public models of artifacts and artifact repositories (`ArtifactFormatted`, …)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from dockyard.core.base import CamelModel
from dockyard.core.models import TagInfo, UserData
from dockyard.core.spec import ServiceArtifactSpec

ArtifactStatus = Literal["draft", "locked"]


class Artifact(CamelModel):
    """An artifact: what to run, as a draft or locked at a version of its repository."""

    id: str
    name: str
    description: str = ""
    type: str = "service"
    status: ArtifactStatus = "draft"
    version: int | None = Field(default=None, description="Set when the artifact is locked.")
    artifact_repository_id: str | None
    spec: ServiceArtifactSpec
    tags: list[TagInfo] = Field(default_factory=list)
    permissions: list[str] = Field(default_factory=list, description="The caller's rights.")
    creator: UserData | None = None
    created_at: str
    updated_at: str


class ArtifactRepository(CamelModel):
    """The numbered lineage of one artifact's versions."""

    id: str
    name: str
    description: str = ""
    type: str = "service"
    last_version_number: int = Field(default=0, description="Highest version handed out.")
    num_artifacts: int = Field(default=0, ge=0, description="Artifacts in the repository.")
    tags: list[TagInfo] = Field(default_factory=list)
    permissions: list[str] = Field(default_factory=list, description="The caller's rights.")
    creator: UserData | None = None
    created_at: str
    updated_at: str

"""The manifest of `dockyard apply` and the plan made from it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from pydantic import ConfigDict, Field
from pydantic.alias_generators import to_camel

from dockyard.core.base import CamelModel
from dockyard.core.spec import ServiceArtifactSpec
from dockyard.core.workloads import Importance, WorkloadRuntime
from dockyard.sdk.errors import ConfigurationError

TAG = "dockyard.apply"


class _Part(CamelModel):
    """A manifest is a local file: a misspelt key is refused before anything is sent."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid")


class ArtifactPart(_Part):
    description: str = ""
    spec: ServiceArtifactSpec


class WorkloadPart(_Part):
    runtime: WorkloadRuntime | None = None
    importance: Importance | None = None


class DeploymentPart(_Part):
    description: str = ""


class Manifest(_Part):
    name: str = Field(min_length=1, max_length=5000)
    artifact: ArtifactPart
    workload: WorkloadPart | None = None
    deployment: DeploymentPart | None = None


class Ambiguous(ConfigurationError):
    default_code = "apply_ambiguous"


@dataclass
class Step:
    verb: str  # create, update, lock, restart, replace, keep, note
    kind: str  # artifact, workload, deployment
    text: str
    run: Callable[[], object] | None = None  # None: nothing to do; what it returns is unused

    def as_json(self) -> dict[str, str]:
        return {"action": self.verb, "kind": self.kind, "description": self.text}


@dataclass
class Plan:
    manifest: Manifest
    steps: list[Step] = field(default_factory=list)
    ids: dict[str, str | None] = field(default_factory=dict)  # artifactId, workloadId, …

    @property
    def changes(self) -> list[Step]:
        return [step for step in self.steps if step.run is not None]

    def execute(self) -> None:
        for step in self.changes:
            assert step.run is not None
            step.run()


def tags_of(name: str) -> list[dict[str, str]]:
    return [{"name": TAG, "value": name}]


def managed(items: list[Any], name: str) -> list[Any]:
    return [i for i in items if any(t.name == TAG and t.value == name for t in i.tags)]


def only_one(items: list[Any], kind: str, name: str) -> Any:
    if len(items) > 1:
        ids = ", ".join(i.id for i in items)
        raise Ambiguous(
            f"Several {kind}s are tagged {TAG}={name} ({ids}); keep one (delete or re-tag the "
            "others) and apply again."
        )
    return items[0] if items else None


def runtime_json(runtime: WorkloadRuntime) -> dict[str, Any]:
    return runtime.model_dump(mode="json", by_alias=True, exclude_none=True)

"""Edits the Assemble tab makes to a draft's spec, as pure functions over its JSON form.

Each returns a new spec dict; the page sends it through the artifact service's PATCH, which
validates it exactly as an API write (names, sources, probe paths, defaults filled on write).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

from dockyard.core.errors import ValidationFailed
from dockyard.core.spec import Container, ServiceArtifactSpec

PROBE_KINDS = {
    "readiness": "readinessProbe",
    "liveness": "livenessProbe",
    "startup": "startupProbe",
}
PROBE_FIELDS = (
    "port",
    "initialDelaySeconds",
    "timeoutSeconds",
    "periodSeconds",
    "failureThreshold",
)


@dataclass(frozen=True)
class ContainerRef:
    group: int
    container: int


@dataclass(frozen=True)
class EnvInput:
    name: str
    source: str  # string | dr-credential
    value: str  # the plain value, or the credential id for dr-credential
    key: str  # the credential field, for dr-credential


def containers(spec: ServiceArtifactSpec | None) -> list[tuple[ContainerRef, str, Container]]:
    """Every container with where it sits and its group's name."""
    if spec is None:
        return []
    return [
        (ContainerRef(g, c), group.name, container)
        for g, group in enumerate(spec.container_groups)
        for c, container in enumerate(group.containers)
    ]


def _container(spec: dict[str, Any], ref: ContainerRef) -> dict[str, Any]:
    try:
        return spec["containerGroups"][ref.group]["containers"][ref.container]
    except (KeyError, IndexError, TypeError):
        raise ValidationFailed.at(["container"], "no such container in this artifact") from None


def _variable(env: EnvInput) -> dict[str, Any]:
    if env.source == "dr-credential":
        return {
            "source": "dr-credential",
            "name": env.name,
            "drCredentialId": env.value,
            "key": env.key,
        }
    return {"source": env.source or "string", "name": env.name, "value": env.value}


def set_env(
    spec: dict[str, Any], ref: ContainerRef, env: EnvInput, index: int | None
) -> dict[str, Any]:
    """Add a variable (index None) or replace the one at `index`."""
    edited = copy.deepcopy(spec)
    variables = _container(edited, ref).setdefault("environmentVars", [])
    if index is None:
        variables.append(_variable(env))
    elif 0 <= index < len(variables):
        variables[index] = _variable(env)
    else:
        raise ValidationFailed.at(["environmentVars", index], "no such environment variable")
    return edited


def delete_env(spec: dict[str, Any], ref: ContainerRef, index: int) -> dict[str, Any]:
    edited = copy.deepcopy(spec)
    variables = _container(edited, ref).get("environmentVars") or []
    if not 0 <= index < len(variables):
        raise ValidationFailed.at(["environmentVars", index], "no such environment variable")
    del variables[index]
    return edited


def set_probe(
    spec: dict[str, Any], ref: ContainerRef, kind: str, path: str, numbers: dict[str, int | None]
) -> dict[str, Any]:
    """Set one probe; fields left empty are omitted, so the server fills in the defaults."""
    field = _probe_field(kind)
    edited = copy.deepcopy(spec)
    container = _container(edited, ref)
    probe: dict[str, Any] = dict(container.get(field) or {})
    probe["path"] = path
    for name in PROBE_FIELDS:
        value = numbers.get(name)
        if value is None:
            probe.pop(name, None)
        else:
            probe[name] = value
    container[field] = probe
    return edited


def remove_probe(spec: dict[str, Any], ref: ContainerRef, kind: str) -> dict[str, Any]:
    field = _probe_field(kind)
    edited = copy.deepcopy(spec)
    _container(edited, ref).pop(field, None)
    return edited


def _probe_field(kind: str) -> str:
    field = PROBE_KINDS.get(kind)
    if field is None:
        raise ValidationFailed.at(["probe"], "the probe is readiness, liveness or startup")
    return field

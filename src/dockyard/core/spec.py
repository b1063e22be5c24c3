"""The artifact spec: what runs. Shape and cross-field rules live here, shared with the SDK.

Structural rules (one primary per group, ports, unique names, probe paths, env var names) are
checked while parsing, so every error carries its JSON path below `spec`. Rules that depend on
the server's configuration or the caller (image allow/deny lists, security-context loosening,
sources not supported yet) are in `check_spec_rules`, called by the server on every write.
"""

from __future__ import annotations

import functools
import operator
import re
import types
from collections.abc import Mapping
from typing import Annotated, Any, Literal, TypeVar, Union, get_args, get_origin

import pydantic_core
from pydantic import BaseModel, Field, StringConstraints, field_validator, model_validator
from pydantic_core import InitErrorDetails, PydanticCustomError

from dockyard.core.base import InputModel
from dockyard.core.errors import Forbidden, RuleViolation
from dockyard.core.images import image_allowed, parse_image_reference
from dockyard.core.text import ONE_LINE, URL_PATH, HeaderName, HeaderValue, OneLine
from dockyard.core.units import parse_memory

# Injected by the platform into every container; a user variable may not shadow them.
RESERVED_ENV_NAMES = frozenset({"WORKLOAD_ID", "PORT", "DOCKYARD_ENDPOINT"})
ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")  # used with fullmatch: "AB\n" is no name
# Group and container names end up in runtime object names and labels.
OBJECT_NAME = r"^[A-Za-z0-9]([A-Za-z0-9_.-]{0,62})$"
DEFAULT_PROBE_PORT = 8080
# An entrypoint argument may span lines (an inline script); the body limit bounds the total.
Argument = Annotated[str, StringConstraints(max_length=65536)]


# `None is value`, as a C callable: pydantic-core calls it per field without a Python frame.
_IS_NONE = functools.partial(operator.is_, None)


class SpecModel(InputModel):
    """Base of the spec's parts: unset optional fields are left out of the JSON form."""

    @classmethod
    def __pydantic_init_subclass__(cls, **kwargs: Any) -> None:
        # Left out by pydantic-core itself: a wrap serializer doing the same was a Python call
        # per spec object, most of the cost of dumping a spec (every artifact response and
        # every stored spec is one). Only fields that default to None can hold None (the
        # others' types refuse it), and marking only those keeps the documented schema as it
        # was: one schema for input and output.
        super().__pydantic_init_subclass__(**kwargs)
        for field in cls.model_fields.values():
            if field.default is None:
                field.exclude_if = _IS_NONE
        cls.model_rebuild(force=True)


class ProbeConfig(SpecModel):
    """An HTTP probe; omitted fields are filled in on write, so reads show the defaults."""

    path: str = Field(
        max_length=2048,
        pattern=URL_PATH,
        description="HTTP path to request; starts with '/', no spaces or control characters.",
    )
    port: int | None = Field(
        default=None, ge=1, le=65535, description="Default: the container's port."
    )
    scheme: Literal["HTTP", "HTTPS"] = "HTTP"
    host: OneLine | None = Field(default=None, max_length=253, description="Default: the replica.")
    http_headers: dict[HeaderName, HeaderValue] | None = Field(
        default=None, max_length=50, description="Sent with each probe request."
    )
    initial_delay_seconds: int = Field(default=30, ge=0, le=86400)
    period_seconds: int = Field(default=30, ge=1, le=86400)
    timeout_seconds: int = Field(default=30, ge=1, le=86400)
    failure_threshold: int = Field(default=3, ge=1, le=1000)
    success_threshold: int | None = Field(default=None, ge=1, le=1000)


class EnvironmentVar(SpecModel):
    """One variable; the fields needed depend on `source` (checked by the container)."""

    source: Literal["string", "dr-credential", "api-key"] = "string"
    name: OneLine | None = Field(default=None, max_length=256)
    value: str | None = Field(default=None, max_length=131072, description="For `string`.")
    dr_credential_id: OneLine | None = Field(
        default=None, max_length=64, description="For `dr-credential`: the credential's id."
    )
    key: OneLine | None = Field(
        default=None, max_length=128, description="For `dr-credential`: the credential field."
    )


Capability = Annotated[str, StringConstraints(min_length=1, max_length=64, pattern=ONE_LINE)]


class Capabilities(SpecModel):
    add: list[Capability] | None = Field(default=None, max_length=64)
    drop: list[Capability] | None = Field(default=None, max_length=64)


class SeccompProfile(SpecModel):
    type: Literal["RuntimeDefault", "Localhost", "Unconfined"]
    localhost_profile: OneLine | None = Field(default=None, max_length=4096)


class SecurityContext(SpecModel):
    """Hardening applied to the container; non-admins may only tighten it."""

    read_only_root_filesystem: bool | None = None
    allow_privilege_escalation: bool | None = None
    capabilities: Capabilities | None = None
    seccomp_profile: SeccompProfile | None = None
    run_as_non_root: bool | None = None
    run_as_user: int | None = Field(default=None, ge=0, le=2**31 - 1)
    run_as_group: int | None = Field(default=None, ge=0, le=2**31 - 1)


class CodeRefDatarobot(SpecModel):
    catalog_id: OneLine = Field(max_length=64)
    catalog_version_id: OneLine = Field(max_length=64)


class CodeRef(SpecModel):
    provider: Literal["datarobot"] = "datarobot"
    type: Literal["datarobot"] = "datarobot"
    datarobot: CodeRefDatarobot | None = None


class Dockerfile(SpecModel):
    """`provided` (a Dockerfile in the source) or `generated` (from an environment)."""

    source: Literal["provided", "generated"] = "provided"
    path: OneLine | None = Field(default=None, max_length=1024)
    execution_environment_id: OneLine | None = Field(default=None, max_length=64)
    execution_environment_version_id: OneLine | None = Field(default=None, max_length=64)
    entrypoint: list[Argument] | None = Field(default=None, max_length=1000)

    @model_validator(mode="after")
    def _fields_of_source(self) -> Dockerfile:
        if self.source == "provided":
            self.path = self.path or "./Dockerfile"
        else:
            needed = ("execution_environment_id", "execution_environment_version_id")
            if any(getattr(self, name) is None for name in needed) or not self.entrypoint:
                raise ValueError(
                    "a generated Dockerfile needs executionEnvironmentId, "
                    "executionEnvironmentVersionId and a non-empty entrypoint"
                )
        return self


class ImageBuildConfig(SpecModel):
    """Stored as given; this release builds no images (builds answer 501)."""

    code_ref: CodeRef | None = None
    dockerfile: Dockerfile = Field(default_factory=Dockerfile)


# A memory-like amount: bytes, or a string such as "512MB" (bounded before anything parses it).
Quantity = int | Annotated[str, StringConstraints(max_length=64)]


class ResourceRequest(SpecModel):
    """What a container asks to be guaranteed: requests on Kubernetes, stored and shown on the
    other runtimes (limits are `resourceAllocation`). The hosted platform's tools size a
    container with it, on the artifact's containers and on a workload's runtime alike."""

    cpu: float | None = Field(default=None, ge=0, le=1024, description="Cores, fractions allowed.")
    memory: Quantity | None = Field(
        default=None, description='Bytes, or a string such as "512MB", "1GiB".'
    )
    gpu: float | None = Field(default=None, ge=0, le=64, description="GPUs, as the tools send.")

    @field_validator("memory")
    @classmethod
    def _memory_parses(cls, value: int | str | None) -> int | str | None:
        if value is not None:
            parse_memory(value)  # its ValueError names the problem
        return value


class Container(SpecModel):
    name: str | None = Field(default=None, pattern=OBJECT_NAME, description="Default: see group.")
    description: str = Field(default="", max_length=5000)
    primary: bool = False
    image_uri: OneLine | None = Field(default=None, max_length=1024)
    image_build_config: ImageBuildConfig | None = None
    build: Any = Field(default=None, description="Server-set build info; ignored on input.")
    entrypoint: list[Argument] | None = Field(default=None, max_length=1000)
    port: int | None = Field(default=None, ge=1024, le=65535)
    environment_vars: list[EnvironmentVar] = Field(default_factory=list, max_length=1000)
    readiness_probe: ProbeConfig | None = None
    liveness_probe: ProbeConfig | None = None
    startup_probe: ProbeConfig | None = None
    security_context: SecurityContext | None = None
    resource_request: ResourceRequest | None = None

    @field_validator("image_uri")
    @classmethod
    def _oci_reference(cls, value: str | None) -> str | None:
        if value is not None and parse_image_reference(value) is None:
            raise ValueError(f"'{value}' is not a valid OCI image reference")
        return value

    @field_validator("build", mode="before")
    @classmethod
    def _drop_build(cls, _: Any) -> None:
        # Build info is the server's to write; whatever a client sends back is discarded.
        return None

    @property
    def filled_name(self) -> str:
        """The container's name, given or filled in when its spec was parsed."""
        if self.name is None:
            raise ValueError("a container's name is filled in when its whole spec is parsed")
        return self.name


class ContainerGroup(SpecModel):
    name: str = Field(default="default", pattern=OBJECT_NAME)
    containers: list[Container] = Field(default_factory=list, max_length=100)

    @property
    def primary(self) -> Container:
        """The group's primary container (a parsed spec has exactly one)."""
        return next(container for container in self.containers if container.primary)

    def container_names(self) -> set[str]:
        return {container.filled_name for container in self.containers}


PROBES = ("readiness_probe", "liveness_probe", "startup_probe")


class ServiceArtifactSpec(SpecModel):
    """The spec of a `service` artifact: container groups of containers."""

    type: Literal["service"] = Field(default="service", description="Set from the artifact.")
    container_groups: list[ContainerGroup] = Field(default_factory=list, max_length=20)

    @model_validator(mode="after")
    def _check_and_fill(self) -> ServiceArtifactSpec:
        problems = _Problems()
        if not self.container_groups:
            problems.add(["containerGroups"], "at least one container group is required")
        seen_groups: set[str] = set()
        for g, group in enumerate(self.container_groups):
            at: list[str | int] = ["containerGroups", g]
            if group.name in seen_groups:
                problems.add([*at, "name"], f"duplicate container group name '{group.name}'")
            seen_groups.add(group.name)
            _check_group(group, at, problems)
        problems.raise_if_any()
        return self

    def group(self, name: str) -> ContainerGroup | None:
        """The container group called `name`, if the spec has one."""
        return next((group for group in self.container_groups if group.name == name), None)

    @property
    def is_task(self) -> bool:
        """A declared task: a primary container without a port runs to completion."""
        return any(
            container.primary and container.port is None
            for group in self.container_groups
            for container in group.containers
        )


def _check_group(group: ContainerGroup, at: list[str | int], problems: _Problems) -> None:
    if not group.containers:
        problems.add([*at, "containers"], "a container group needs at least one container")
        return
    primaries = [c for c, container in enumerate(group.containers) if container.primary]
    if len(primaries) != 1:
        where = [*at, "containers", primaries[1]] if primaries else [*at, "containers"]
        problems.add(
            [*where, "primary"] if primaries else where,
            f"a container group needs exactly one primary container, found {len(primaries)}",
        )
    _fill_names(group)
    seen: set[str] = set()
    for c, container in enumerate(group.containers):
        here = [*at, "containers", c]
        if container.name in seen:
            problems.add([*here, "name"], f"duplicate container name '{container.name}'")
        seen.add(container.name or "")
        if not container.primary and container.port is not None:
            problems.add([*here, "port"], "only the primary container may have a port")
        _check_env(container, [*here, "environmentVars"], problems)
        _fill_probes(container, here, problems)


def _fill_names(group: ContainerGroup) -> None:
    """A missing name is `primary` for the primary container and `sidecar-N` otherwise."""
    sidecars = 0
    for container in group.containers:
        if not container.primary:
            sidecars += 1
        if container.name is None:
            container.name = "primary" if container.primary else f"sidecar-{sidecars}"


def _check_env(container: Container, at: list[str | int], problems: _Problems) -> None:
    seen: set[str] = set()
    for v, var in enumerate(container.environment_vars):
        here = [*at, v]
        if var.source == "api-key":
            continue  # refused as a rule (env_source_not_supported), not a shape error
        if var.name is None:
            problems.add([*here, "name"], "Field required", "missing")
        elif not ENV_NAME.fullmatch(var.name):
            problems.add([*here, "name"], "must match [A-Za-z_][A-Za-z0-9_]*")
        elif var.name in RESERVED_ENV_NAMES:
            problems.add([*here, "name"], f"'{var.name}' is set by the platform")
        elif var.name in seen:
            problems.add([*here, "name"], f"duplicate environment variable '{var.name}'")
        if var.name:
            seen.add(var.name)
        if var.source == "string":
            _only(var, here, problems, required=("value",), forbidden=("dr_credential_id", "key"))
        else:
            _only(var, here, problems, required=("dr_credential_id", "key"), forbidden=("value",))


def _only(
    var: EnvironmentVar,
    at: list[str | int],
    problems: _Problems,
    *,
    required: tuple[str, ...],
    forbidden: tuple[str, ...],
) -> None:
    for name in required:
        if getattr(var, name) is None:
            problems.add([*at, _camel(name)], "Field required", "missing")
    for name in forbidden:
        if getattr(var, name) is not None:
            problems.add(
                [*at, _camel(name)], f"not allowed with source '{var.source}'", "extra_forbidden"
            )


def _fill_probes(container: Container, at: list[str | int], problems: _Problems) -> None:
    for attribute in PROBES:
        probe: ProbeConfig | None = getattr(container, attribute)
        if probe is None or probe.port is not None:
            continue
        if container.port is None and not container.primary:
            problems.add(
                [*at, _camel(attribute), "port"],
                "a probe on a container without a port must name its port",
            )
            continue
        probe.port = container.port or DEFAULT_PROBE_PORT


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


class _Problems:
    """Collects every error of a spec so the client sees them all at once."""

    def __init__(self) -> None:
        self.items: list[InitErrorDetails] = []

    def add(self, loc: list[str | int], msg: str, kind: str = "value_error") -> None:
        error = PydanticCustomError(kind, msg) if kind != "missing" else "missing"
        self.items.append(InitErrorDetails(type=error, loc=tuple(loc), input=None))

    def raise_if_any(self) -> None:
        if self.items:
            # Raised inside the validator, pydantic prefixes these locs with the spec's own path.
            raise pydantic_core.ValidationError.from_exception_data("spec", self.items)


def check_spec_rules(
    spec: ServiceArtifactSpec,
    *,
    is_admin: bool,
    allowlist: list[str],
    denylist: list[str],
) -> None:
    """The rules of a spec write that are not about its shape (422 with a code, or 403)."""
    for g, group in enumerate(spec.container_groups):
        for c, container in enumerate(group.containers):
            where = f"containerGroups[{g}].containers[{c}]"
            _check_image(container, where, allowlist, denylist)
            for v, var in enumerate(container.environment_vars):
                if var.source == "api-key":
                    raise RuleViolation(
                        f"{where}.environmentVars[{v}]: the 'api-key' source is not supported yet.",
                        code="env_source_not_supported",
                    )
    check_task_rules(spec)
    if not is_admin:
        check_security_context(spec)


def check_task_rules(spec: ServiceArtifactSpec) -> None:
    """A task (a primary without a port) is one container group that nothing probes."""
    if not spec.is_task:
        return
    if len(spec.container_groups) != 1:
        raise RuleViolation(
            "A task (a primary container without a port) has exactly one container group; "
            f"this spec has {len(spec.container_groups)}. Give every primary a port to run a "
            "service, or split the task into its own artifact.",
            code="task_groups",
        )
    for c, container in enumerate(spec.container_groups[0].containers):
        for attribute in PROBES:
            if getattr(container, attribute) is not None:
                raise RuleViolation(
                    f"containerGroups[0].containers[{c}].{_camel(attribute)}: a task (a primary "
                    "container without a port) runs to completion and is never probed; remove "
                    "the probe, or give the primary a port to run a service.",
                    code="probe_on_task",
                )


def check_security_context(spec: ServiceArtifactSpec) -> None:
    """403 for a non-admin's spec whose security context grants more than the defaults."""
    for g, group in enumerate(spec.container_groups):
        for c, container in enumerate(group.containers):
            if loosens(container.security_context):
                raise Forbidden(
                    f"containerGroups[{g}].containers[{c}].securityContext: only admins may "
                    "run as root (runAsUser 0, runAsNonRoot false), add capabilities, allow "
                    "privilege escalation or disable seccomp.",
                    code="security_context_forbidden",
                )


def _check_image(container: Container, where: str, allow: list[str], deny: list[str]) -> None:
    if not container.image_uri:
        raise RuleViolation(
            f"{where}.imageUri is required: this release builds no images on the server.",
            code="image_uri_required",
        )
    if not image_allowed(container.image_uri, allowlist=allow, denylist=deny):
        raise RuleViolation(
            f"Image URI '{container.image_uri}' is not permitted on this cluster.",
            code="image_not_allowed",
        )


def loosens(context: SecurityContext | None) -> bool:
    """True when a security context grants more than the runtime's defaults."""
    if context is None:
        return False
    if context.capabilities is not None and context.capabilities.add:
        return True
    if context.allow_privilege_escalation:
        return True
    # Root in the container, or an explicit "root is fine": more than the image's default
    # user gives, and a step from a kernel bug to the host.
    if context.run_as_user == 0 or context.run_as_non_root is False:
        return True
    return context.seccomp_profile is not None and context.seccomp_profile.type == "Unconfined"


def credential_references(spec: ServiceArtifactSpec) -> list[tuple[list[str | int], str, str]]:
    """`(loc below spec, credential id, key)` of every `dr-credential` variable."""
    found: list[tuple[list[str | int], str, str]] = []
    for g, group in enumerate(spec.container_groups):
        for c, container in enumerate(group.containers):
            for v, var in enumerate(container.environment_vars):
                if var.source == "dr-credential" and var.dr_credential_id and var.key:
                    loc: list[str | int] = ["containerGroups", g, "containers", c]
                    found.append(([*loc, "environmentVars", v], var.dr_credential_id, var.key))
    return found


def parse_stored(data: Mapping[str, Any]) -> ServiceArtifactSpec | None:
    """A stored spec typed for readers (details, log tail, the UI), or None when it lacks what
    they rely on — every group with containers, one primary and filled-in names — which only a
    spec written under older rules can: the reconciler errors its workload, readers show what
    they can. Typed like `stored_spec`, without validating again."""
    spec = stored_spec(data)
    for group in spec.container_groups or ():
        containers = group.containers or ()
        if sum(1 for c in containers if c.primary) != 1 or any(c.name is None for c in containers):
            return None
    return spec


def spec_to_json(spec: ServiceArtifactSpec) -> dict[str, Any]:
    """The stored and returned form: camelCase, unset optional fields left out."""
    return spec.model_dump(mode="json", by_alias=True)


_Model = TypeVar("_Model", bound=BaseModel)


def stored_spec(data: Mapping[str, Any]) -> ServiceArtifactSpec:
    """A spec as stored, typed without checking it again.

    Every stored spec met the rules of its day when it was written, and its defaults were
    filled in then. Rules tighten, though, and a spec written before must still be readable
    by what runs it (which refuses, with a reason, what no runtime can run): so the stored
    form is trusted here, never re-validated."""
    return _construct(ServiceArtifactSpec, data)


def _construct(model: type[_Model], data: Mapping[str, Any]) -> _Model:
    values = {}
    for name, info in model.model_fields.items():
        key = info.alias or name
        if key in data:
            values[name] = _typed(info.annotation, data[key])
    return model.model_construct(**values)


def _typed(annotation: Any, value: Any) -> Any:
    if value is None:
        return None
    origin = get_origin(annotation)
    if origin in (Union, types.UnionType):
        for option in get_args(annotation):
            if option is not type(None):
                typed = _typed(option, value)
                if typed is not value:
                    return typed
        return value
    if origin is list and isinstance(value, list):
        (item,) = get_args(annotation)
        return [_typed(item, element) for element in value]
    is_model = isinstance(annotation, type) and issubclass(annotation, BaseModel)
    if is_model and isinstance(value, Mapping):
        return _construct(annotation, value)
    return value

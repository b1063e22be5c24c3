"""Request bodies and list filters of /artifacts."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated, Any, Literal

from fastapi import Query
from pydantic import Field, field_validator, model_validator

from dockyard.core.base import RequestBody
from dockyard.core.errors import RuleViolation, ValidationFailed
from dockyard.core.spec import ServiceArtifactSpec
from dockyard.server.kit.pagination import split_list
from dockyard.server.tags.schemas import StoredText, TagInput

# `registered` is the older API generation's word for `locked`.
StatusInput = Literal["draft", "locked", "registered"]
TypeInput = Literal["service", "nim", "agent"]
SUPPORTED_TYPES = frozenset({"service"})
MAX_TAGS = 100


def normal_status(status: str) -> str:
    return "locked" if status == "registered" else status


class ArtifactCreate(RequestBody):
    """`InputArtifact`: the body of POST (and of PUT, which replaces every field)."""

    name: StoredText = Field(min_length=1, max_length=5000)
    description: StoredText | None = Field(default="", max_length=50000)
    type: TypeInput = "service"
    status: StatusInput = Field(default="draft", description="`locked` creates it locked.")
    artifact_repository_id: str | None = Field(
        default=None, max_length=64, description="Default: a new repository named after it."
    )
    spec: ServiceArtifactSpec
    tags: list[TagInput] | None = Field(default=None, max_length=MAX_TAGS)

    @model_validator(mode="before")
    @classmethod
    def _supported_type(cls, data: Any) -> Any:
        # Decided before the spec is read: a nim or agent spec would otherwise fail as a
        # service spec and hide the real reason.
        return _refuse_unsupported_type(data)


class ArtifactUpdate(RequestBody):
    """`UpdateArtifactRequest` (PATCH): only the fields present change."""

    name: StoredText | None = Field(default=None, min_length=1, max_length=5000)
    description: StoredText | None = Field(default=None, max_length=50000)
    spec: ServiceArtifactSpec | None = Field(default=None, description="Replaces the whole spec.")
    status: StatusInput | None = Field(default=None, description="`locked` locks the artifact.")
    tags: list[TagInput] | None = Field(default=None, max_length=MAX_TAGS)

    @field_validator("name", "spec", mode="before")
    @classmethod
    def _not_null(cls, value: Any) -> Any:
        # An explicit null cannot clear these; omitting the field keeps the value.
        if value is None:
            raise ValueError("may be omitted but not null")
        return value


class ArtifactClone(RequestBody):
    name: StoredText = Field(min_length=1, max_length=5000)


def _refuse_unsupported_type(data: Any) -> Any:
    if isinstance(data, dict):
        kind = data.get("type")
        if isinstance(kind, str) and kind in ("nim", "agent"):
            raise RuleViolation(
                f"Artifacts of type '{kind}' are not supported yet; use 'service'.",
                code="type_not_supported",
            )
    return data


ARTIFACT_ORDERS = ("name", "createdAt", "updatedAt", "status")
REPOSITORY_ORDERS = ("name", "createdAt", "updatedAt")
STATUSES = ("draft", "locked", "registered")
TYPES = ("service", "nim", "agent")


@dataclass(frozen=True)
class ListFilters:
    """The list filters shared by artifacts and repositories (lists empty when not given)."""

    order_by: str = "-createdAt"
    created_by: list[str] = field(default_factory=list)
    ids: list[str] = field(default_factory=list)
    search: str | None = None
    tag_keys: list[str] = field(default_factory=list)
    tag_values: list[str] = field(default_factory=list)
    types: list[str] = field(default_factory=list)
    statuses: list[str] = field(default_factory=list)
    repository_ids: list[str] = field(default_factory=list)


def _checked(values: list[str], allowed: tuple[str, ...], name: str) -> list[str]:
    for value in values:
        if value not in allowed:
            raise ValidationFailed.at(
                ["query", name],
                f"'{value}' is not one of {', '.join(allowed)}",
                "enum",
            )
    return values


def _order(order_by: str | None, sort: str | None, allowed: tuple[str, ...]) -> str:
    value = (order_by or sort or "-createdAt").strip()
    name = "orderBy" if order_by else "sort"
    _checked([value.removeprefix("-")], allowed, name)
    return value


ListParam = Annotated[list[str] | None, Query()]
Search = Annotated[
    str | None,
    Query(max_length=100, description="Case-insensitive substring of name, description or id."),
]


def common_filters(
    order_by_param: str | None,
    sort: str | None,
    created_by: list[str] | None,
    ids: list[str] | None,
    search: str | None,
    tag_keys: list[str] | None,
    tag_values: list[str] | None,
    types: list[str] | None,
    allowed_orders: tuple[str, ...],
) -> dict[str, Any]:
    return {
        "order_by": _order(order_by_param, sort, allowed_orders),
        "created_by": split_list(created_by),
        "ids": split_list(ids),
        "search": search or None,
        "tag_keys": split_list(tag_keys),
        "tag_values": split_list(tag_values),
        "types": _checked(split_list(types), TYPES, "type"),
    }


async def artifact_filters(
    order_by: Annotated[str | None, Query(alias="orderBy", max_length=32)] = None,
    sort: Annotated[str | None, Query(max_length=32, description="Same as orderBy.")] = None,
    created_by: Annotated[list[str] | None, Query(alias="createdBy")] = None,
    ids: ListParam = None,
    search: Search = None,
    tag_keys: Annotated[list[str] | None, Query(alias="tagKeys")] = None,
    tag_values: Annotated[list[str] | None, Query(alias="tagValues")] = None,
    type: ListParam = None,  # noqa: A002 - the query parameter's name
    status: ListParam = None,
    repository_id: Annotated[list[str] | None, Query(alias="repositoryId")] = None,
) -> ListFilters:
    """Query parameters of GET /artifacts."""
    return ListFilters(
        **common_filters(
            order_by, sort, created_by, ids, search, tag_keys, tag_values, type, ARTIFACT_ORDERS
        ),
        statuses=[normal_status(s) for s in _checked(split_list(status), STATUSES, "status")],
        repository_ids=split_list(repository_id),
    )


async def repository_filters(
    order_by: Annotated[str | None, Query(alias="orderBy", max_length=32)] = None,
    sort: Annotated[str | None, Query(max_length=32, description="Same as orderBy.")] = None,
    created_by: Annotated[list[str] | None, Query(alias="createdBy")] = None,
    ids: ListParam = None,
    search: Search = None,
    tag_keys: Annotated[list[str] | None, Query(alias="tagKeys")] = None,
    tag_values: Annotated[list[str] | None, Query(alias="tagValues")] = None,
    type: ListParam = None,  # noqa: A002 - the query parameter's name
) -> ListFilters:
    """Query parameters of GET /artifactRepositories."""
    return ListFilters(
        **common_filters(
            order_by, sort, created_by, ids, search, tag_keys, tag_values, type, REPOSITORY_ORDERS
        )
    )

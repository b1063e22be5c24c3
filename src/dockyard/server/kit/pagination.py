"""Offset pagination and the `{count, totalCount, next, previous, data}` envelope."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Annotated, Any, TypeVar
from urllib.parse import quote

from fastapi import Depends, Query, Request

from dockyard.server.kit.urls import base_url

T = TypeVar("T")

MAX_LIMIT = 100


@dataclass(frozen=True)
class PageParams:
    offset: int
    limit: int


async def _page_params(
    offset: Annotated[int, Query(ge=0, le=2**31 - 1, description="Items to skip.")] = 0,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT, description="Items per page.")] = MAX_LIMIT,
) -> PageParams:
    return PageParams(offset=offset, limit=limit)


Paging = Annotated[PageParams, Depends(_page_params)]


def _page_url(request: Request, offset: int, limit: int) -> str:
    params = [(k, v) for k, v in request.query_params.multi_items() if k not in ("offset", "limit")]
    params += [("offset", str(offset)), ("limit", str(limit))]
    query = "&".join(f"{_quote(k)}={_quote(v)}" for k, v in params)
    return f"{base_url(request)}{request.url.path}?{query}"


def _quote(value: str) -> str:
    return quote(value, safe="")


def page(request: Request, items: Sequence[Any], total: int, params: PageParams) -> dict[str, Any]:
    """Build the envelope; `items` are the page's public models."""
    end = params.offset + len(items)
    next_url = _page_url(request, end, params.limit) if end < total else None
    previous_url = None
    if params.offset > 0:
        previous_url = _page_url(request, max(0, params.offset - params.limit), params.limit)
    return {
        "count": len(items),
        "totalCount": total,
        "next": next_url,
        "previous": previous_url,
        "data": list(items),
    }


def split_list(values: list[str] | None) -> list[str]:
    """A list filter given as repeated parameters, comma-separated values, or both."""
    if not values:
        return []
    return [part.strip() for value in values for part in value.split(",") if part.strip()]

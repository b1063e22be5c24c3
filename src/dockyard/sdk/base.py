"""What every resource group and every returned object shares: the client link and listing."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator, Mapping
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from pydantic import BaseModel, PrivateAttr

from dockyard.sdk.transport import Call, Operation, fetch

if TYPE_CHECKING:
    from dockyard.sdk.client import BaseClient

T = TypeVar("T")
B = TypeVar("B", bound="Bound")
MAX_PAGE = 100


class Bound(BaseModel):
    """A public model that remembers the client it came from, for `.reload()` and friends.

    On an `AsyncClient` every method of a bound object returns an awaitable of what the
    blocking client returns.
    """

    _client: BaseClient | None = PrivateAttr(default=None)

    def _bind(self: B, client: BaseClient) -> B:
        self._client = client
        return self

    def _run(self, operation: Operation[Any]) -> Any:
        if self._client is None:
            raise RuntimeError(f"This {type(self).__name__} is not attached to a client.")
        return self._client._run(operation)

    def _take(self: B, fresh: BaseModel) -> B:
        """Update this object in place from a newer copy of it."""
        for name in type(self).model_fields:
            setattr(self, name, getattr(fresh, name))
        return self


def tag_list(tags: Mapping[str, str] | list[dict[str, str]] | None) -> list[dict[str, str]] | None:
    """Tags as the API takes them: `{"team": "ml"}` becomes `[{"name": "team", "value": "ml"}]`."""
    if tags is None:
        return None
    if isinstance(tags, Mapping):
        return [{"name": k, "value": str(v)} for k, v in tags.items()]
    return [{"name": t["name"], "value": str(t["value"])} for t in tags]


def compact(**fields: Any) -> dict[str, Any]:
    """A request body of the fields given (camelCase names), leaving out the ones that are None."""
    return {k: v for k, v in fields.items() if v is not None}


class Resource:
    """One group of API calls (`client.artifacts`, …)."""

    path = ""

    def __init__(self, client: BaseClient) -> None:
        self._client = client

    def _run(self, operation: Operation[Any]) -> Any:
        return self._client._run(operation)

    def _one(self, call: Call, model: type[B]) -> Any:
        return self._run(self._parse(call, model))

    def _parse(self, call: Call, model: type[B]) -> Operation[B]:
        body = yield call
        return model.model_validate(body)._bind(self._client)

    def _list(
        self, path: str, model: type[B], params: dict[str, Any], limit: int | None
    ) -> Listing[B]:
        return Listing(
            self._client,
            path,
            params,
            lambda item: model.model_validate(item)._bind(self._client),
            limit,
        )


class Listing(Generic[T]):
    """The items of a paginated list, fetched page by page while you iterate.

    `for item in listing` on a `Client`, `async for item in listing` on an `AsyncClient`.
    `limit` caps the number of items in all (None: every item).
    """

    def __init__(
        self,
        client: BaseClient,
        path: str,
        params: dict[str, Any],
        parse: Callable[[Any], T],
        limit: int | None = None,
        page_size: int = MAX_PAGE,
    ) -> None:
        self._client = client
        self._path = path
        self._params = params
        self._parse = parse
        self._limit = limit
        self._page_size = max(1, min(MAX_PAGE, page_size))

    def pages_of(self, size: int) -> Listing[T]:
        """The same listing fetched `size` items per request (1 to 100)."""
        return Listing(self._client, self._path, self._params, self._parse, self._limit, size)

    def _page(self, offset: int, taken: int) -> Operation[Any]:
        size = self._page_size
        if self._limit is not None:
            size = max(1, min(size, self._limit - taken))
        return fetch(
            Call("GET", self._path, params={**self._params, "offset": offset, "limit": size})
        )

    def _cut(self, body: Any, taken: int) -> tuple[list[T], bool]:
        items = [self._parse(item) for item in body["data"]]
        if self._limit is not None:
            items = items[: self._limit - taken]
        more = bool(body.get("next")) and bool(body["data"])
        if self._limit is not None and taken + len(items) >= self._limit:
            more = False
        return items, more

    def __iter__(self) -> Iterator[T]:
        runner = self._client._sync_runner()
        offset = taken = 0
        more = True
        while more:
            body = runner.run(self._page(offset, taken))
            items, more = self._cut(body, taken)
            # Follow offsets rather than `next`: its host is the server's view of itself,
            # which may not be the address this client reaches it at.
            offset += len(body["data"])
            taken += len(items)
            yield from items

    async def __aiter__(self) -> AsyncIterator[T]:
        runner = self._client._async_runner()
        offset = taken = 0
        more = True
        while more:
            body = await runner.run(self._page(offset, taken))
            items, more = self._cut(body, taken)
            offset += len(body["data"])
            taken += len(items)
            for item in items:
                yield item

    def all(self) -> list[T]:
        """Every item at once (blocking client)."""
        return list(self)

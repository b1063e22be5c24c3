"""What every resource group and every returned object shares: the client link and listing.

Each API call is written once, as an operation (see `transport`). `blocking` and `awaited`
turn one operation into a method of the `Client` flavour (returns the result) or of the
`AsyncClient` flavour (a coroutine of the result), keeping its parameters, so both flavours
offer the same calls and each says truthfully what it returns. `blocking_list` and
`async_list` do the same for calls that answer with a paginated `Query`.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import AsyncIterator, Callable, Coroutine, Iterator, Mapping
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, Concatenate, Generic, ParamSpec, Protocol, Self, TypeVar

from pydantic import BaseModel, PrivateAttr

from dockyard.sdk.transport import AsyncRunner, Call, Operation, SyncRunner, fetch

if TYPE_CHECKING:
    from dockyard.sdk.client import BaseClient

T = TypeVar("T")
M = TypeVar("M", bound="Bound")
V = TypeVar("V", bound=BaseModel)
P = ParamSpec("P")
MAX_PAGE = 100


class Attached(Protocol):
    """Something that runs its operations on a client's runner."""

    def _runner(self) -> SyncRunner | AsyncRunner: ...


S = TypeVar("S", bound=Attached)


def blocking(op: Callable[Concatenate[S, P], Operation[T]]) -> Callable[Concatenate[S, P], T]:
    """The `Client` method that runs `op` and returns its result."""

    def method(self: S, /, *args: P.args, **kwargs: P.kwargs) -> T:
        runner = self._runner()
        if not isinstance(runner, SyncRunner):
            raise TypeError("This object belongs to an AsyncClient: await its calls.")
        return runner.run(op(self, *args, **kwargs))

    return _named_after(method, op)


def awaited(
    op: Callable[Concatenate[S, P], Operation[T]],
) -> Callable[Concatenate[S, P], Coroutine[Any, Any, T]]:
    """The `AsyncClient` method that runs `op`: a coroutine of its result."""

    async def method(self: S, /, *args: P.args, **kwargs: P.kwargs) -> T:
        runner = self._runner()
        if not isinstance(runner, AsyncRunner):
            raise TypeError("This object belongs to a blocking Client: call it without await.")
        return await runner.run(op(self, *args, **kwargs))

    return _named_after(method, op)


def blocking_list(
    query: Callable[Concatenate[S, P], Query[T]],
) -> Callable[Concatenate[S, P], Listing[T]]:
    """The `Client` method that lists what `query` describes, iterated with `for`."""

    def method(self: S, /, *args: P.args, **kwargs: P.kwargs) -> Listing[T]:
        runner = self._runner()
        if not isinstance(runner, SyncRunner):
            raise TypeError("This object belongs to an AsyncClient: use `async for`.")
        return Listing(runner, query(self, *args, **kwargs))

    return _named_after(method, query)


def async_list(
    query: Callable[Concatenate[S, P], Query[T]],
) -> Callable[Concatenate[S, P], AsyncListing[T]]:
    """The `AsyncClient` method that lists what `query` describes, iterated with `async for`."""

    def method(self: S, /, *args: P.args, **kwargs: P.kwargs) -> AsyncListing[T]:
        runner = self._runner()
        if not isinstance(runner, AsyncRunner):
            raise TypeError("This object belongs to a blocking Client: use `for`.")
        return AsyncListing(runner, query(self, *args, **kwargs))

    return _named_after(method, query)


F = TypeVar("F", bound=Callable[..., Any])


def _named_after(method: F, op: Callable[..., Any]) -> F:
    # The operation's docstring and parameters (help() shows them), not its return type: it
    # returns an operation, the method what running it gives. Its name without the
    # underscore: the operation is `_verb`, the method users call `verb`.
    function: Any = functools.update_wrapper(method, op)  # a function's attributes are open
    function.__signature__ = inspect.signature(op).replace(
        return_annotation=inspect.Signature.empty
    )
    function.__name__ = op.__name__.lstrip("_")
    function.__qualname__ = op.__qualname__.rsplit(".", 1)[0] + "." + function.__name__
    return method


class Bound(BaseModel):
    """A public model that remembers the client it came from, for `.reload()` and friends.

    Its flavours declare their methods as `verb: ClassVar = blocking(Verbs._verb)`: the
    ClassVar tells pydantic the method is not a field.
    """

    _client: BaseClient | None = PrivateAttr(default=None)

    def _bind(self, client: BaseClient) -> Self:
        self._client = client
        return self

    def _attached(self) -> BaseClient:
        if self._client is None:
            raise RuntimeError(f"This {type(self).__name__} is not attached to a client.")
        return self._client

    def _runner(self) -> SyncRunner | AsyncRunner:
        return self._attached()._runner

    def _take(self, fresh: BaseModel) -> Self:
        """Update this object in place from a newer copy of it."""
        for name in type(self).model_fields:
            setattr(self, name, getattr(fresh, name))
        return self

    def _refreshed(self, call: Call) -> Operation[Self]:
        """`call`, then this object updated from the answer."""
        body = yield call
        return self._take(type(self).model_validate(body))

    def _new(self, call: Call) -> Operation[Self]:
        """`call`, and a new object of this class from the answer."""
        body = yield call
        return type(self).model_validate(body)._bind(self._attached())


def plain_query(path: str, model: type[V], params: dict[str, Any], limit: int | None) -> Query[V]:
    """A listing of plain models (events, log lines, users), not attached to the client."""
    return Query(path, params, model.model_validate, limit)


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

    def __init__(self, client: BaseClient) -> None:
        self._client = client

    def _runner(self) -> SyncRunner | AsyncRunner:
        return self._client._runner


class BoundResource(Resource, Generic[M]):
    """A group whose objects (of class `model`) have methods, so are attached to the client."""

    model: type[M]

    def _one(self, call: Call) -> Operation[M]:
        body = yield call
        return self.model.model_validate(body)._bind(self._client)

    def _bound_query(self, path: str, params: dict[str, Any], limit: int | None) -> Query[M]:
        client, model = self._client, self.model
        return Query(path, params, lambda item: model.model_validate(item)._bind(client), limit)


@dataclass(frozen=True)
class Query(Generic[T]):
    """A paginated list call: where, with which filters, how to read an item, how many."""

    path: str
    params: dict[str, Any]
    parse: Callable[[Any], T]
    limit: int | None = None  # items in all (None: every item)
    page_size: int = MAX_PAGE

    def page(self, offset: int, taken: int) -> Operation[Any]:
        size = self.page_size
        if self.limit is not None:
            size = max(1, min(size, self.limit - taken))
        return fetch(
            Call("GET", self.path, params={**self.params, "offset": offset, "limit": size})
        )

    def cut(self, body: Any, taken: int) -> tuple[list[T], bool]:
        items = [self.parse(item) for item in body["data"]]
        if self.limit is not None:
            items = items[: self.limit - taken]
        more = bool(body.get("next")) and bool(body["data"])
        if self.limit is not None and taken + len(items) >= self.limit:
            more = False
        return items, more


class Listing(Generic[T]):
    """The items of a paginated list of a `Client`, fetched page by page while you iterate.

    `limit` (given to the call that made the listing) caps the number of items in all.
    """

    def __init__(self, runner: SyncRunner, query: Query[T]) -> None:
        self._runner = runner
        self._query = query

    def pages_of(self, size: int) -> Self:
        """The same listing fetched `size` items per request (1 to 100)."""
        page_size = max(1, min(MAX_PAGE, size))
        return type(self)(self._runner, replace(self._query, page_size=page_size))

    def __iter__(self) -> Iterator[T]:
        query = self._query
        offset = taken = 0
        more = True
        while more:
            body = self._runner.run(query.page(offset, taken))
            items, more = query.cut(body, taken)
            # Follow offsets rather than `next`: its host is the server's view of itself,
            # which may not be the address this client reaches it at.
            offset += len(body["data"])
            taken += len(items)
            yield from items

    if not TYPE_CHECKING:  # a helpful error at run time; to a type checker it does not exist

        def __aiter__(self):
            raise TypeError("This is a blocking Client: use `for` over its lists.")

    def all(self) -> list[T]:
        """Every item at once."""
        return list(self)


class AsyncListing(Generic[T]):
    """The items of a paginated list of an `AsyncClient`, iterated with `async for`."""

    def __init__(self, runner: AsyncRunner, query: Query[T]) -> None:
        self._runner = runner
        self._query = query

    def pages_of(self, size: int) -> Self:
        """The same listing fetched `size` items per request (1 to 100)."""
        page_size = max(1, min(MAX_PAGE, size))
        return type(self)(self._runner, replace(self._query, page_size=page_size))

    async def __aiter__(self) -> AsyncIterator[T]:
        query = self._query
        offset = taken = 0
        more = True
        while more:
            body = await self._runner.run(query.page(offset, taken))
            items, more = query.cut(body, taken)
            offset += len(body["data"])
            taken += len(items)
            for item in items:
                yield item

    if not TYPE_CHECKING:  # a helpful error at run time; to a type checker it does not exist

        def __iter__(self):
            raise TypeError("This is an AsyncClient: use `async for` over its lists.")

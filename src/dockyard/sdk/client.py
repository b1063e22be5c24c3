"""`Client` (blocking) and `AsyncClient` (asyncio): the entry points of the SDK.

from dockyard.sdk import Client

with Client() as dy:                      # DOCKYARD_URL / DOCKYARD_TOKEN, or `dockyard login`
    wl = dy.workloads.create(artifact={...}).wait("running")
    print(wl.invoke("/health").text)
"""

from __future__ import annotations

from types import TracebackType
from typing import Any, Self, TypeVar

import httpx

from dockyard import __version__
from dockyard.sdk.config import API_PREFIX, resolve
from dockyard.sdk.resources.accounts import (
    AsyncCredentials,
    AsyncTokens,
    AsyncUsers,
    Credentials,
    Tokens,
    Users,
)
from dockyard.sdk.resources.registry import (
    Artifacts,
    AsyncArtifacts,
    AsyncRepositories,
    Repositories,
)
from dockyard.sdk.resources.workloads import (
    AsyncDeployments,
    AsyncWorkloads,
    Deployments,
    Workloads,
)
from dockyard.sdk.transport import AsyncRunner, Call, RetryPolicy, SyncRunner

T = TypeVar("T")
DEFAULT_TIMEOUT = 30.0


class BaseClient:
    """What both clients share: configuration, and a runner for the resource groups' calls."""

    _runner: SyncRunner | AsyncRunner

    def __init__(
        self,
        url: str | None = None,
        token: str | None = None,
        *,
        profile: str | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        retries: int = 3,
    ) -> None:
        settings = resolve(url, token, profile)
        self.url = settings.url
        self.token = settings.token
        self.api_url = settings.url + API_PREFIX
        self.timeout = timeout
        self.retry = RetryPolicy(attempts=retries + 1)

    def _headers(self) -> dict[str, str]:
        headers = {"User-Agent": f"dockyard-sdk/{__version__}"}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        return headers

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.url!r})"


class Client(BaseClient):
    """The blocking client. Arguments win over DOCKYARD_URL/DOCKYARD_TOKEN, which win over
    the profile `dockyard login` saved."""

    def __init__(
        self,
        url: str | None = None,
        token: str | None = None,
        *,
        profile: str | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        retries: int = 3,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        super().__init__(url, token, profile=profile, timeout=timeout, retries=retries)
        self._http = httpx.Client(
            base_url=self.api_url, headers=self._headers(), timeout=timeout, transport=transport
        )
        self._runner: SyncRunner = SyncRunner(self._http, self.retry)
        self.artifacts = Artifacts(self)
        self.repositories = Repositories(self)
        self.workloads = Workloads(self)
        self.deployments = Deployments(self)
        self.users = Users(self)
        self.tokens = Tokens(self)
        self.credentials = Credentials(self)

    def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """A raw call below /api/v2 (retried like the others), for what the SDK lacks."""
        return self._runner.send(Call(method.upper(), path, **kwargs))

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.close()


class AsyncClient(BaseClient):
    """The asyncio client: the same groups, returning the `Async…` flavours of the objects;
    every call is awaited and lists are iterated with `async for`."""

    def __init__(
        self,
        url: str | None = None,
        token: str | None = None,
        *,
        profile: str | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        retries: int = 3,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        super().__init__(url, token, profile=profile, timeout=timeout, retries=retries)
        self._http = httpx.AsyncClient(
            base_url=self.api_url, headers=self._headers(), timeout=timeout, transport=transport
        )
        self._runner: AsyncRunner = AsyncRunner(self._http, self.retry)
        self.artifacts = AsyncArtifacts(self)
        self.repositories = AsyncRepositories(self)
        self.workloads = AsyncWorkloads(self)
        self.deployments = AsyncDeployments(self)
        self.users = AsyncUsers(self)
        self.tokens = AsyncTokens(self)
        self.credentials = AsyncCredentials(self)

    async def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """A raw call below /api/v2 (retried like the others), for what the SDK lacks."""
        return await self._runner.send(Call(method.upper(), path, **kwargs))

    async def aclose(self) -> None:
        await self._http.aclose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        await self.aclose()

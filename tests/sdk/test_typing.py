"""What the SDK's types promise: the blocking client returns objects, the asyncio client
returns coroutines of their `Async…` flavours. Checked by mypy on code written as a user
would, and at run time on the classes themselves."""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Callable
from pathlib import Path

import pytest
from mypy import api as mypy_api

from dockyard.sdk import AsyncClient, Client, NotFound
from dockyard.sdk import models as sdk_models
from dockyard.sdk.base import AsyncListing, Bound, Listing
from dockyard.sdk.resources import accounts, registry, workloads
from tests.sdk.live_server import LiveServer

ROOT = Path(__file__).resolve().parents[2]

USES = """
from collections.abc import AsyncIterator, Iterator
from typing import assert_type

import httpx

from dockyard.core.deployments import AuditLog
from dockyard.core.models import User
from dockyard.core.workloads import LogEntry, Replacement
from dockyard.sdk import (
    Artifact,
    AsyncArtifact,
    AsyncArtifactRepository,
    AsyncClient,
    AsyncDeployment,
    AsyncWorkload,
    Client,
    Deployment,
    Workload,
)
from dockyard.sdk.base import AsyncListing, Listing


def blocking(client: Client) -> None:
    workload = client.workloads.create(artifact_id="a", name="n")
    assert_type(workload, Workload)
    assert_type(workload.wait("running", timeout=5), Workload)
    assert_type(workload.update_settings({"replicaCount": 2}), Replacement)
    assert_type(workload.invoke("/health"), httpx.Response)
    assert_type(workload.logs(limit=3), Listing[LogEntry])
    assert_type(workload.follow_logs(), Iterator[LogEntry])
    assert_type(client.workloads.list(status="running"), Listing[Workload])
    for artifact in client.artifacts.list(search="x").pages_of(5):
        assert_type(artifact, Artifact)
        assert_type(artifact.lock(), Artifact)
    assert_type(client.deployments.get("d").audit(), AuditLog)
    assert_type(client.users.me(), User)
    assert_type(client.workloads.delete("w"), None)


async def asynchronous(client: AsyncClient) -> None:
    workload = await client.workloads.create(artifact_id="a", name="n")
    assert_type(workload, AsyncWorkload)
    assert_type(await workload.wait("running", timeout=5), AsyncWorkload)
    assert_type(await workload.update_settings({"replicaCount": 2}), Replacement)
    assert_type(await workload.invoke("/health"), httpx.Response)
    assert_type(workload.logs(limit=3), AsyncListing[LogEntry])
    assert_type(workload.follow_logs(), AsyncIterator[LogEntry])
    assert_type(client.workloads.list(status="running"), AsyncListing[AsyncWorkload])
    async for artifact in client.artifacts.list(search="x").pages_of(5):
        assert_type(artifact, AsyncArtifact)
        assert_type(await artifact.lock(), AsyncArtifact)
    deployment = await client.deployments.get("d")
    assert_type(deployment, AsyncDeployment)
    assert_type(await deployment.audit(), AuditLog)
    assert_type(await client.users.me(), User)
    assert_type(await client.workloads.delete("w"), None)
    assert_type(await client.repositories.get("r"), AsyncArtifactRepository)
"""

# Each line a mistake that the types must catch, with what mypy says about it.
MISTAKES = {
    "workload: Workload = await client.workloads.get('w')": "incompatible types in assignment",
    "status = client.workloads.get('w').status": 'has no attribute "status"',
    "for item in client.workloads.list(): pass": 'has no attribute "__iter__"',
    "names = [d.name for d in blocking.deployments.list()]": None,
    "await blocking.workloads.get('w')": 'incompatible types in "await"',
    "client.workloads.create(artifact_idd='a')": 'unexpected keyword argument "artifact_idd"',
}


def _mypy(tmp_path: Path, source: str) -> tuple[int, str]:
    path = tmp_path / "uses.py"
    path.write_text(source)
    stdout, stderr, status = mypy_api.run(
        [
            "--config-file",
            str(ROOT / "pyproject.toml"),
            "--cache-dir",
            str(tmp_path / "cache"),
            "--no-error-summary",
            "--hide-error-context",
            str(path),
        ]
    )
    return status, stdout + stderr


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("typing")


def test_the_clients_say_what_their_calls_return(workdir: Path) -> None:
    status, output = _mypy(workdir, USES)
    assert status == 0, output


def test_awaiting_wrongly_or_forgetting_to_await_is_a_type_error(workdir: Path) -> None:
    body = "\n".join(f"    {line}" for line in MISTAKES)
    source = (
        "from dockyard.sdk import AsyncClient, Client, Workload\n\n\n"
        "async def mistakes(client: AsyncClient, blocking: Client) -> None:\n" + body + "\n"
    )
    status, output = _mypy(workdir, source)
    assert status == 1
    errors = [line for line in output.splitlines() if ": error:" in line]
    lines = list(MISTAKES.items())
    flagged = {int(line.split(":")[1]) - 5 for line in errors}
    for index, (mistake, message) in enumerate(lines):
        if message is None:
            # A correct line among the mistakes: it must stay unflagged.
            assert index not in flagged, (mistake, output)
            continue
        said = [line for line in errors if int(line.split(":")[1]) - 5 == index]
        assert said, f"mypy accepted {mistake!r}:\n{output}"
        assert message.lower() in " ".join(said).lower(), (mistake, said)


def _public_methods(cls: type) -> dict[str, Callable[..., object]]:
    names = [name for name in dir(cls) if not name.startswith("_")]
    return {
        name: getattr(cls, name)
        for name in names
        if inspect.isfunction(getattr(cls, name)) and name not in _PYDANTIC
    }


def _parameters(method: Callable[..., object]) -> list[inspect.Parameter]:
    return list(inspect.signature(method).parameters.values())


_PYDANTIC = set(dir(Bound))  # what every model has: pydantic's own methods

FLAVOURS = [
    (registry.Artifacts, registry.AsyncArtifacts),
    (registry.Repositories, registry.AsyncRepositories),
    (workloads.Workloads, workloads.AsyncWorkloads),
    (workloads.Deployments, workloads.AsyncDeployments),
    (accounts.Users, accounts.AsyncUsers),
    (accounts.Tokens, accounts.AsyncTokens),
    (accounts.Credentials, accounts.AsyncCredentials),
    (sdk_models.Artifact, sdk_models.AsyncArtifact),
    (sdk_models.ArtifactRepository, sdk_models.AsyncArtifactRepository),
    (sdk_models.Deployment, sdk_models.AsyncDeployment),
    (sdk_models.Workload, sdk_models.AsyncWorkload),
]

# Methods that hand back something iterated rather than awaited.
LISTINGS = {"list", "events", "history", "logs", "protons", "artifacts"}


@pytest.mark.parametrize(("blocking", "asynchronous"), FLAVOURS, ids=lambda c: c.__name__)
def test_both_flavours_offer_the_same_calls_and_async_ones_are_coroutines(
    blocking: type, asynchronous: type
) -> None:
    sync_methods = _public_methods(blocking)
    async_methods = _public_methods(asynchronous)
    assert sorted(sync_methods) == sorted(async_methods)
    assert sync_methods, blocking
    for name, method in async_methods.items():
        if name == "follow_logs":
            assert inspect.isasyncgenfunction(method)
        elif name not in LISTINGS:
            assert inspect.iscoroutinefunction(method), f"{asynchronous.__name__}.{name}"
        assert not inspect.iscoroutinefunction(sync_methods[name]), f"{blocking.__name__}.{name}"
        # Both flavours take the same arguments.
        assert _parameters(method) == _parameters(sync_methods[name]), name


def test_async_calls_return_awaitables_and_lists_async_iterables(server: LiveServer) -> None:
    async def scenario() -> None:
        async with AsyncClient(server.url, server.token) as client:
            pending = client.workloads.get("0" * 24)
            assert inspect.isawaitable(pending)
            with pytest.raises(NotFound):
                await pending
            me = client.users.me()
            assert inspect.isawaitable(me)
            assert (await me).username
            listing = client.artifacts.list(limit=1)
            assert isinstance(listing, AsyncListing)
            assert not isinstance(listing, Listing)
            assert len([a async for a in listing]) <= 1

    asyncio.run(scenario())


def test_a_blocking_call_on_an_async_object_says_so(server: LiveServer) -> None:
    # The classes are not interchangeable at run time either: each checks its runner.
    with Client(server.url, server.token) as client:
        stray = workloads.AsyncWorkloads(client)
        with pytest.raises(TypeError, match="blocking Client"):
            asyncio.run(stray.get("0" * 24))

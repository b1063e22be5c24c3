"""Bursts of concurrent requests spread over every write route of the API.

Shared by `bench/concurrency.py` and the test that holds the server to it
(`tests/server/test_concurrent_writes.py`). `prepare()` creates, through the API, what the
writes act on (each delete gets an object of its own); `plan()` deals the burst's requests
round-robin over `WRITE_ROUTES`; `fire()` sends them all at once, each on a connection of its
own, and reports statuses, client time-outs and the slowest answer.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import aiohttp

API = "/api/v2"

# Every write operation of the API (the OpenAPI document's, checked by the test), but image
# builds: that route answers 501 by design in this release.
WRITE_ROUTES: tuple[tuple[str, str], ...] = (
    ("POST", "/artifacts"),
    ("PUT", "/artifacts/{artifact_id}"),
    ("PATCH", "/artifacts/{artifact_id}"),
    ("DELETE", "/artifacts/{artifact_id}"),
    ("POST", "/artifacts/{artifact_id}/clone"),
    ("PATCH", "/artifacts/{object_id}/sharedRoles"),
    ("PATCH", "/artifactRepositories/{repository_id}"),
    ("DELETE", "/artifactRepositories/{repository_id}"),
    ("PATCH", "/artifactRepositories/{object_id}/sharedRoles"),
    ("POST", "/workloads"),
    ("PATCH", "/workloads/{workload_id}"),
    ("DELETE", "/workloads/{workload_id}"),
    ("POST", "/workloads/{workload_id}/start"),
    ("POST", "/workloads/{workload_id}/stop"),
    ("PATCH", "/workloads/{workload_id}/settings"),
    ("PATCH", "/workloads/{object_id}/sharedRoles"),
    ("POST", "/workloads/{workload_id}/replacement"),
    ("DELETE", "/workloads/{workload_id}/replacement"),
    ("POST", "/workloads/{workload_id}/promote"),
    ("DELETE", "/workloads/{workload_id}/stats"),
    ("POST", "/console/deployments"),
    ("PATCH", "/console/deployments/{deployment_id}"),
    ("DELETE", "/console/deployments/{deployment_id}"),
    ("POST", "/console/deployments/{deployment_id}/stop"),
    ("POST", "/console/deployments/{deployment_id}/start"),
    ("PATCH", "/console/deployments/{object_id}/sharedRoles"),
    ("POST", "/users"),
    ("POST", "/apiTokens"),
    ("DELETE", "/apiTokens/{token_id}"),
    ("POST", "/credentials"),
    ("DELETE", "/credentials/{credential_id}"),
)


def spec(port: int = 8080) -> dict[str, Any]:
    return {
        "containerGroups": [
            {
                "containers": [
                    {
                        "primary": True,
                        "imageUri": "docker.io/library/python:3.12-slim",
                        "port": port,
                        "entrypoint": ["python", "-m", "http.server", str(port)],
                        "readinessProbe": {"path": "/"},
                    }
                ]
            }
        ]
    }


@dataclass
class Call:
    route: tuple[str, str]
    method: str
    path: str
    body: dict[str, Any] | None = None


@dataclass
class Outcome:
    statuses: Counter[int] = field(default_factory=Counter)
    timeouts: int = 0
    errors: list[str] = field(default_factory=list)  # connection failures and 5xx, described
    by_route: dict[tuple[str, str], Counter[int]] = field(default_factory=dict)
    slowest_seconds: float = 0.0
    seconds: float = 0.0

    @property
    def server_errors(self) -> int:
        return sum(n for status, n in self.statuses.items() if status >= 500)

    @property
    def succeeded(self) -> int:
        return sum(n for status, n in self.statuses.items() if status < 400)


@dataclass
class Slot:
    """The objects one round of the routes acts on."""

    artifact: str  # a draft: replaced, patched, cloned, shared
    repository: str  # its repository: patched, shared
    doomed_artifact: str
    doomed_repository: str
    locked: str  # a locked artifact: workloads
    next_locked: str  # the next version: replacements
    workload: str  # running on `locked`: patched, stopped, shared, deployed, replaced
    stopped_workload: str  # to start
    draft_workload: str  # on a draft of its own: promoted
    doomed_workload: str
    deployment: str
    doomed_deployment: str
    doomed_token: str
    doomed_credential: str


class Api:
    """A small JSON client over one aiohttp session."""

    def __init__(self, session: aiohttp.ClientSession, base_url: str, token: str) -> None:
        self.session = session
        self.base = base_url.rstrip("/") + API
        self.headers = {"Authorization": f"Bearer {token}"}

    async def call(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        async with self.session.request(
            method, self.base + path, json=body, headers=self.headers
        ) as response:
            payload = await response.json(content_type=None) if response.status != 204 else None
            if response.status >= 400:
                raise RuntimeError(f"{method} {path} answered {response.status}: {payload}")
            return payload


async def prepare(api: Api, slots: int, *, parallel: int = 8) -> tuple[str, list[Slot]]:
    """A user to share with, and `slots` sets of objects for the writes to act on."""
    tag = secrets.token_hex(3)
    grantee = (await api.call("POST", "/users", {"username": f"grantee-{tag}"}))["username"]
    gate = asyncio.Semaphore(parallel)

    async def one(index: int) -> Slot:
        async with gate:
            name = f"load-{tag}-{index}"

            async def artifact(suffix: str, **extra: Any) -> dict[str, Any]:
                body = {"name": f"{name}-{suffix}", "spec": spec(), **extra}
                return await api.call("POST", "/artifacts", body)

            async def workload(suffix: str, **body: Any) -> str:
                created = await api.call("POST", "/workloads", {"name": f"{name}-{suffix}", **body})
                return created["id"]

            draft = await artifact("draft")
            doomed = await artifact("doomed")
            other_repo = await artifact("repo")
            locked = await artifact("locked", status="locked")
            next_locked = await artifact(
                "next", status="locked", artifactRepositoryId=locked["artifactRepositoryId"]
            )
            running = await workload("w", artifactId=locked["id"])
            stopped = await workload("stopped", artifactId=locked["id"])
            await api.call("POST", f"/workloads/{stopped}/stop")
            on_draft = await workload("d", artifact={"name": f"{name}-w-draft", "spec": spec()})
            doomed_workload = await workload("doomed", artifactId=locked["id"])
            deployment = await api.call("POST", "/console/deployments", {"workloadId": running})
            doomed_deployment = await api.call(
                "POST", "/console/deployments", {"workloadId": running, "name": f"{name}-gone"}
            )
            token = await api.call("POST", "/apiTokens", {"name": name})
            credential = await api.call(
                "POST", "/credentials", {"name": name, "credentialType": "bearer", "token": "t"}
            )
            return Slot(
                artifact=draft["id"],
                repository=draft["artifactRepositoryId"],
                doomed_artifact=doomed["id"],
                doomed_repository=other_repo["artifactRepositoryId"],
                locked=locked["id"],
                next_locked=next_locked["id"],
                workload=running,
                stopped_workload=stopped,
                draft_workload=on_draft,
                doomed_workload=doomed_workload,
                deployment=deployment["id"],
                doomed_deployment=doomed_deployment["id"],
                doomed_token=token["id"],
                doomed_credential=credential["credentialId"],
            )

    return grantee, list(await asyncio.gather(*(one(i) for i in range(slots))))


def plan(grantee: str, slots: list[Slot], total: int) -> list[Call]:
    """`total` calls dealt round-robin over WRITE_ROUTES; round `r` acts on slot `r`."""
    calls: list[Call] = []
    share = {
        "operation": "updateRoles",
        "roles": [{"shareRecipientType": "user", "username": grantee, "role": "CONSUMER"}],
    }
    for index in range(total):
        route = WRITE_ROUTES[index % len(WRITE_ROUTES)]
        slot = slots[(index // len(WRITE_ROUTES)) % len(slots)]
        unique = f"{index}-{secrets.token_hex(3)}"
        calls.append(Call(route, *_request(route, slot, share, unique)))
    return calls


def _request(
    route: tuple[str, str], slot: Slot, share: dict[str, Any], unique: str
) -> tuple[str, str, dict[str, Any] | None]:
    method, template = route
    kind = template.split("/")[1]
    deleted = method == "DELETE" and template.endswith("}")
    target = {
        "artifacts": slot.doomed_artifact if deleted else slot.artifact,
        "artifactRepositories": slot.doomed_repository if deleted else slot.repository,
        "console": slot.doomed_deployment if deleted else slot.deployment,
        "apiTokens": slot.doomed_token,
        "credentials": slot.doomed_credential,
        "workloads": {
            ("DELETE", "/workloads/{workload_id}"): slot.doomed_workload,
            ("POST", "/workloads/{workload_id}/start"): slot.stopped_workload,
            ("POST", "/workloads/{workload_id}/promote"): slot.draft_workload,
        }.get(route, slot.workload),
    }.get(kind, "")
    path = template
    for name in ("{artifact_id}", "{repository_id}", "{deployment_id}", "{token_id}"):
        path = path.replace(name, target)
    for name in ("{credential_id}", "{workload_id}", "{object_id}"):
        path = path.replace(name, target)
    bodies: dict[tuple[str, str], dict[str, Any] | None] = {
        ("POST", "/artifacts"): {"name": f"burst-{unique}", "spec": spec()},
        ("PUT", "/artifacts/{artifact_id}"): {"name": f"put-{unique}", "spec": spec(8081)},
        ("PATCH", "/artifacts/{artifact_id}"): {"description": unique},
        ("POST", "/artifacts/{artifact_id}/clone"): {"name": f"clone-{unique}"},
        ("PATCH", "/artifactRepositories/{repository_id}"): {"description": unique},
        ("POST", "/workloads"): {"name": f"burst-{unique}", "artifactId": slot.locked},
        ("PATCH", "/workloads/{workload_id}"): {"description": unique},
        ("PATCH", "/workloads/{workload_id}/settings"): {"runtime": {"containerGroups": []}},
        ("POST", "/workloads/{workload_id}/replacement"): {"artifactId": slot.next_locked},
        ("POST", "/console/deployments"): {"workloadId": slot.workload, "name": unique},
        ("PATCH", "/console/deployments/{deployment_id}"): {"description": unique},
        ("POST", "/users"): {"username": f"burst-{unique}"},
        ("POST", "/apiTokens"): {"name": unique},
        ("POST", "/credentials"): {"name": unique, "credentialType": "bearer", "token": "t"},
    }
    body = share if template.endswith("/sharedRoles") else bodies.get(route)
    return method, API + path, body


async def fire(base_url: str, token: str, calls: list[Call], timeout: float = 30.0) -> Outcome:
    """Every call at once, each on its own connection; a call unanswered after `timeout`
    seconds counts as a client time-out."""
    outcome = Outcome()
    headers = {"Authorization": f"Bearer {token}"}
    connector = aiohttp.TCPConnector(limit=0, force_close=True)
    client_timeout = aiohttp.ClientTimeout(total=timeout)
    async with aiohttp.ClientSession(
        base_url.rstrip("/"), connector=connector, timeout=client_timeout
    ) as session:
        start = time.monotonic()

        async def one(call: Call) -> None:
            began = time.monotonic()
            try:
                async with session.request(
                    call.method, call.path, json=call.body, headers=headers
                ) as response:
                    text = await response.text()
                    status = response.status
            except TimeoutError:
                outcome.timeouts += 1
                outcome.errors.append(f"{call.method} {call.path}: no answer in {timeout:.0f} s")
                return
            except aiohttp.ClientError as exc:
                outcome.errors.append(f"{call.method} {call.path}: {exc!r}")
                return
            finally:
                outcome.slowest_seconds = max(outcome.slowest_seconds, time.monotonic() - began)
            outcome.statuses[status] += 1
            outcome.by_route.setdefault(call.route, Counter())[status] += 1
            if status >= 500:
                outcome.errors.append(f"{call.method} {call.path}: {status} {text[:300]}")

        await asyncio.gather(*(one(call) for call in calls))
        outcome.seconds = time.monotonic() - start
    return outcome


async def burst(
    base_url: str,
    token: str,
    total: int,
    *,
    timeout: float = 30.0,
    windows: list[tuple[str, float, float]] | None = None,
) -> Outcome:
    """Prepare, then fire `total` writes over every write route at once. The firing's start
    and end (monotonic clock) are added to `windows` as a "loaded" window."""
    async with aiohttp.ClientSession() as session:
        api = Api(session, base_url, token)
        slots = -(-total // len(WRITE_ROUTES))
        grantee, prepared = await prepare(api, slots)
    calls = plan(grantee, prepared, total)
    began = time.monotonic()
    outcome = await fire(base_url, token, calls, timeout)
    if windows is not None:
        windows.append(("loaded", began, time.monotonic()))
    return outcome

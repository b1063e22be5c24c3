"""The running server as the API's rules see it: settings, runtime, reconciler nudge, links.

Routers take it as `PlatformDep`; services receive it as an argument, so a rule that depends
on the runtime (who may start what where) is written once and asked of whatever server runs.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request

from dockyard.server.kit.audit_seal import AuditSeal
from dockyard.server.kit.auth import Principal
from dockyard.server.kit.urls import base_url
from dockyard.server.settings import Settings
from dockyard.server.workloads.runtime_rules import check_process_runtime


@dataclass(frozen=True)
class Platform:
    """What the workload rules need from the running server."""

    settings: Settings
    runtime_name: str  # docker | process | fake
    nudge: Callable[[str], None]  # hands a workload to the reconciler (after commit)
    base_url: str
    audit_seal: AuditSeal  # seals deployment audit entries (the server's secret key)

    def check_can_start(self, principal: Principal, spec: dict) -> None:
        """What this server's runtime asks of a spec, and of who starts it, before it runs."""
        if self.runtime_name == "process":
            check_process_runtime(principal, spec, open_to_all=self.settings.process_runtime_open)


def platform_of(request: Request) -> Platform:
    state = request.app.state
    return Platform(
        settings=state.settings,
        runtime_name=state.runtime_name,
        nudge=state.reconciler_nudge,
        base_url=base_url(request),
        audit_seal=state.audit_seal,
    )


async def _platform_for(request: Request) -> Platform:
    # A dependency: async, so FastAPI does not send it to a worker thread of its own.
    return platform_of(request)


PlatformDep = Annotated[Platform, Depends(_platform_for)]

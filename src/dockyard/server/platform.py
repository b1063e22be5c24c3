"""The running server as the API's rules see it: settings, runtime, reconciler nudge, links.

Routers take it as `PlatformDep`; services receive it as an argument, so a rule that depends
on the runtime (who may start what where) is written once and asked of whatever server runs.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Request

from dockyard.core.errors import Forbidden, RuleViolation
from dockyard.core.spec import stored_spec
from dockyard.core.workloads import WorkloadRuntime
from dockyard.server.kit.audit_seal import AuditSeal
from dockyard.server.kit.auth import Principal
from dockyard.server.kit.urls import base_url
from dockyard.server.runtimes.base import Runtime, RuntimePermanentError
from dockyard.server.runtimes.proton_spec import build_proton_spec
from dockyard.server.settings import Settings


@dataclass(frozen=True)
class Platform:
    """What the workload rules need from the running server."""

    settings: Settings
    runtime: Runtime  # where this server runs workloads
    nudge: Callable[[str], None]  # hands a workload to the reconciler (after commit)
    base_url: str
    audit_seal: AuditSeal  # seals deployment audit entries (the server's secret key)

    @property
    def runtime_name(self) -> str:
        return self.runtime.name  # docker | process | fake

    def check_can_start(
        self, principal: Principal, spec: dict[str, Any], runtime: WorkloadRuntime | None = None
    ) -> None:
        """What this server's runtime asks of a spec and its runtime settings, and of who
        starts it, before it runs: the runtime's own refusals become a 422 with its code."""
        if self.runtime_name == "process" and not self.settings.process_runtime_open:
            _require_admin_for_processes(principal)
        try:
            # As the runtime would get it, less the ids and secrets it cannot judge anyway.
            proton = build_proton_spec(
                instance_id="",
                workload_id="",
                proton_id="",
                spec=stored_spec(spec),
                runtime=runtime or WorkloadRuntime(),
                platform_env={},
                secrets=lambda _credential, _key: None,
            )
        except RuntimePermanentError:
            return  # a stored spec no runtime can run: the reconciler says why when it starts
        try:
            self.runtime.validate(proton)
        except RuntimePermanentError as exc:
            raise RuleViolation(exc.reason, code=exc.code) from None


def _require_admin_for_processes(principal: Principal) -> None:
    """Replicas of the process runtime run as the server's own user and can read what the
    server can, so starting one is an admin's act unless the server was told it is a
    single-user machine."""
    if not principal.is_admin:
        raise Forbidden(
            "This server runs workloads as local processes under its own user, which cannot "
            "keep them apart from the server, so only admins may start them here "
            "(DOCKYARD_PROCESS_RUNTIME_OPEN=true lifts this on a single-user machine).",
            code="runtime_requires_admin",
        )


def platform_of(request: Request) -> Platform:
    state = request.app.state
    return Platform(
        settings=state.settings,
        runtime=state.runtime,
        nudge=state.reconciler_nudge,
        base_url=base_url(request),
        audit_seal=state.audit_seal,
    )


async def _platform_for(request: Request) -> Platform:
    # A dependency: async, so FastAPI does not send it to a worker thread of its own.
    return platform_of(request)


PlatformDep = Annotated[Platform, Depends(_platform_for)]

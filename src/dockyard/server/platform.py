"""The running server as the API's rules see it: settings, runtime, reconciler nudge, links.

Routers take it as `PlatformDep`; services receive it as an argument, so a rule that depends
on the runtime (who may start what where) is written once and asked of whatever server runs.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Request

from dockyard.core.errors import RuleViolation
from dockyard.core.spec import stored_spec
from dockyard.core.workloads import WorkloadRuntime
from dockyard.server.deployments.audit import AuditSeal
from dockyard.server.kit.auth import Principal
from dockyard.server.kit.urls import base_url
from dockyard.server.runtimes.base import Runtime, RuntimePermanentError
from dockyard.server.runtimes.proton_spec import build_proton_spec
from dockyard.server.settings import Settings
from dockyard.server.workloads.runtime_rules import check_process_runtime


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

    def check_can_start(self, principal: Principal, spec: dict[str, Any]) -> None:
        """What this server's runtime asks of a spec, and of who starts it, before it runs:
        the runtime's own refusals become a 422 with the runtime's code."""
        if self.runtime_name == "process":
            check_process_runtime(principal, open_to_all=self.settings.process_runtime_open)
        try:
            # As the runtime would get it, less the ids and secrets it cannot judge anyway.
            proton = build_proton_spec(
                instance_id="",
                workload_id="",
                proton_id="",
                spec=stored_spec(spec),
                runtime=WorkloadRuntime(),
                platform_env={},
                secrets=lambda _credential, _key: None,
            )
        except RuntimePermanentError:
            return  # a stored spec no runtime can run: the reconciler says why when it starts
        try:
            self.runtime.validate(proton)
        except RuntimePermanentError as exc:
            raise RuleViolation(exc.reason, code=exc.code) from None


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

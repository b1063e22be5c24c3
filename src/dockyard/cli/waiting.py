"""Waiting for a workload with a spinner that shows its current status."""

from __future__ import annotations

from collections.abc import Collection

from rich.status import Status

from dockyard.cli.output import err
from dockyard.sdk.models import Workload

POLL_SECONDS = 1.0


def wait_for(workload: Workload, status: str | Collection[str], timeout: float) -> Workload:
    """Poll until `status`; `WorkloadFailed` / `WaitTimeout` end the command with one line."""
    wanted = status if isinstance(status, str) else " or ".join(sorted(status))
    console = err()
    if not console.is_terminal:
        return workload.wait(status, timeout=timeout, interval=POLL_SECONDS)
    with Status(f"Waiting for {workload.name} to be {wanted}…", console=console) as spinner:

        def show(current: Workload) -> None:
            spinner.update(f"Waiting for {current.name} to be {wanted} (now {current.status})…")

        return workload.wait(status, timeout=timeout, interval=POLL_SECONDS, on_poll=show)

"""`dockyard apply -f manifest.yaml`: create or update an artifact, workload and deployment."""

from __future__ import annotations

from typing import Annotated

import typer

from dockyard.cli.manifest import Manifest, Plan
from dockyard.cli.output import print_json, say
from dockyard.cli.planner import make_plan
from dockyard.cli.specfile import load_document
from dockyard.cli.state import current
from dockyard.cli.waiting import wait_for

SYMBOLS = {
    "create": "+",
    "update": "~",
    "lock": "~",
    "restart": "~",
    "replace": "~",
    "keep": "=",
    "note": "!",
}


def apply(
    file: Annotated[str, typer.Option("--file", "-f", help="The manifest, YAML or JSON.")],
    lock: Annotated[
        bool, typer.Option("--lock", help="Lock the artifact: deploy a numbered version.")
    ] = False,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Print the plan and change nothing.")
    ] = False,
    wait: Annotated[
        bool, typer.Option("--wait", help="After applying, wait for the workload to run.")
    ] = False,
    timeout: Annotated[float, typer.Option(help="Seconds --wait waits at most.")] = 1800.0,
) -> None:
    """Make the server match a manifest (artifact, workload, deployment), plan first.

    The manifest is {name, artifact: {description?, spec}, workload?: {runtime?, importance?},
    deployment?: {description?}}. Nothing changes when the server already matches it.
    """
    manifest = Manifest.model_validate(load_document(file))
    state = current()
    with state.client() as client:
        plan = make_plan(client, manifest, lock=lock)
        if not state.json:
            _print_plan(plan, dry_run)
        if not dry_run:
            plan.execute()
            if wait and plan.ids.get("workloadId"):
                wait_for(client.workloads.get(str(plan.ids["workloadId"])), "running", timeout)
    if state.json:
        print_json(
            {
                "name": manifest.name,
                "dryRun": dry_run,
                "changed": bool(plan.changes) and not dry_run,
                "plan": [step.as_json() for step in plan.steps],
                "ids": plan.ids,
            }
        )
    elif plan.changes and not dry_run:
        ids = ", ".join(f"{key} {value}" for key, value in plan.ids.items() if value)
        say(
            f"Applied {len(plan.changes)} change(s) to '{manifest.name}'"
            + (f": {ids}" if ids else ".")
        )


def _print_plan(plan: Plan, dry_run: bool) -> None:
    name = plan.manifest.name
    if not plan.changes:
        for step in plan.steps:
            if step.verb == "note":
                say(f"  {SYMBOLS[step.verb]} {step.text}")
        say(f"Nothing to do: '{name}' matches the manifest.")
        return
    say(f"Plan for '{name}'{' (dry run: nothing will change)' if dry_run else ''}:")
    for step in plan.steps:
        say(f"  {SYMBOLS.get(step.verb, '?')} {step.text}")

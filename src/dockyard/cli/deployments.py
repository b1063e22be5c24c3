"""`dockyard deployment …`: governed endpoints in front of workloads, with an audit trail."""

from __future__ import annotations

from typing import Annotated

import typer

from dockyard.cli.output import print_fields, print_json, print_table, say, tags_text
from dockyard.cli.state import confirm, current
from dockyard.core.deployments import AuditEntry
from dockyard.sdk.models import Deployment

app = typer.Typer(help="Deployments: stable, audited endpoints.", no_args_is_help=True)

DeploymentId = Annotated[str, typer.Argument(help="The deployment's id.", show_default=False)]


def show(deployment: Deployment) -> None:
    if current().json:
        print_json(deployment)
        return
    print_fields(
        [
            ("ID", deployment.id),
            ("Name", deployment.name),
            ("Status", deployment.status),
            ("Workload", deployment.workload_id),
            ("Pending workload", deployment.pending_workload_id or "-"),
            ("Endpoint", deployment.endpoint),
            ("Description", deployment.description),
            ("Tags", tags_text(deployment.tags)),
            ("Created", deployment.created_at),
            ("Updated", deployment.updated_at),
        ]
    )


@app.command("create")
def create(
    workload_id: Annotated[
        str, typer.Option("--workload-id", help="Workload on a locked artifact.")
    ],
    name: Annotated[str | None, typer.Option(help="Default: the workload's name.")] = None,
    description: Annotated[str | None, typer.Option(help="What it is for.")] = None,
) -> None:
    """Put a workload behind a governed deployment endpoint."""
    with current().client() as client:
        deployment = client.deployments.create(workload_id, name=name, description=description)
    if current().json:
        print_json(deployment)
    else:
        say(
            f"Created deployment '{deployment.name}' ({deployment.id}); "
            f"endpoint {deployment.endpoint}"
        )


@app.command("get")
def get(deployment_id: DeploymentId) -> None:
    """Show one deployment."""
    with current().client() as client:
        show(client.deployments.get(deployment_id))


@app.command("list")
def list_(
    status: Annotated[
        str | None, typer.Option(help="active, inactive, launching, errored.")
    ] = None,
    workload: Annotated[str | None, typer.Option("--workload-id", help="Backing workload.")] = None,
    limit: Annotated[int, typer.Option(min=1, help="At most this many.")] = 100,
) -> None:
    """List deployments, newest first."""
    with current().client() as client:
        items = list(client.deployments.list(status=status, workload_id=workload, limit=limit))
    if current().json:
        print_json(items)
        return
    rows = [(d.id, d.name, d.status, d.workload_id, d.endpoint) for d in items]
    print_table(["ID", "NAME", "STATUS", "WORKLOAD", "ENDPOINT"], rows, empty="No deployments.")


@app.command("audit")
def audit(deployment_id: DeploymentId) -> None:
    """Print the audit trail, oldest first, and whether its hash chain verifies."""
    with current().client() as client:
        log = client.deployments.audit(deployment_id)
    if current().json:
        print_json(log)
        return
    rows = [(e.sequence, e.timestamp, e.action, _actor(e), e.hash[:12]) for e in log.data]
    print_table(["SEQ", "TIME", "ACTION", "ACTOR", "HASH"], rows, empty="No audit entries.")
    say(f"Chain verified: {'yes' if log.verified else 'NO'} ({log.total_count} entries)")
    if not log.verified:
        raise typer.Exit(1)


def _actor(entry: AuditEntry) -> str:
    """Who acted: their username (the id when the user is gone); "dockyard" for its own."""
    return entry.actor_name or entry.actor_id or "dockyard"


@app.command("delete")
def delete(
    deployment_id: DeploymentId,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
) -> None:
    """Remove a deployment (its workload stays)."""
    confirm(f"Delete deployment {deployment_id}?", yes)
    with current().client() as client:
        client.deployments.delete(deployment_id)
    if current().json:
        print_json({"id": deployment_id, "deleted": True})
    else:
        say(f"Deleted deployment {deployment_id}")

"""The `dockyard` command."""

from __future__ import annotations

from typing import Annotated

import typer

from dockyard.cli import accounts, artifacts, deployments, workloads
from dockyard.cli.apply import apply
from dockyard.cli.doctor import doctor
from dockyard.cli.group import DockyardGroup
from dockyard.cli.output import show_server_warnings
from dockyard.cli.serve import serve
from dockyard.cli.state import OutputFormat, State, begin

app = typer.Typer(
    name="dockyard",
    help="Dockyard: run, version and govern HTTP workloads on your own machines.",
    no_args_is_help=True,
    add_completion=False,
    cls=DockyardGroup,
)
app.command(name="serve")(serve)
app.command(name="doctor")(doctor)
app.command(name="login")(accounts.login)
app.command(name="apply")(apply)
app.add_typer(artifacts.app, name="artifact")
app.add_typer(workloads.app, name="workload")
app.add_typer(workloads.app, name="wl", hidden=True)
app.add_typer(deployments.app, name="deployment")
app.add_typer(accounts.users, name="user")
app.add_typer(accounts.tokens, name="token")


@app.callback()
def _root(
    ctx: typer.Context,
    output_format: Annotated[
        OutputFormat,
        typer.Option("--output-format", "-o", help="text or json (allowed anywhere on the line)."),
    ] = OutputFormat.TEXT,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Answer yes to every question.")] = False,
    debug: Annotated[
        bool, typer.Option("--debug", help="Show tracebacks instead of one-line errors.")
    ] = False,
    profile: Annotated[
        str | None,
        typer.Option(help="Profile of the config file to use (default: the current one)."),
    ] = None,
) -> None:
    """Dockyard command-line interface.

    Server and token: DOCKYARD_URL and DOCKYARD_TOKEN, else the profile `dockyard login` saved.
    """
    ctx.obj = State(output=output_format, yes=yes, debug=debug, profile=profile)
    show_server_warnings()
    begin(ctx.obj)

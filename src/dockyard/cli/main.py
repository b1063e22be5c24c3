"""The `dockyard` command."""

from __future__ import annotations

import typer

from dockyard.cli.serve import serve

app = typer.Typer(
    name="dockyard",
    help="Dockyard: run, version and govern HTTP workloads on your own machines.",
    no_args_is_help=True,
    add_completion=False,
)
app.command(name="serve")(serve)


@app.callback()
def _root() -> None:
    """Dockyard command-line interface."""

"""`dockyard doctor`: what `dockyard serve` would use here, and whether each part is usable."""

from __future__ import annotations

import typer

from dockyard.cli import output
from dockyard.cli.state import current


def doctor() -> None:
    """Check this machine: data dir, database, runtime, engine socket and image store."""
    # Like `serve`, it reads the server's settings: the server is imported here, not at the top.
    from pydantic import ValidationError

    from dockyard.server.doctor import diagnose
    from dockyard.server.settings import Settings

    try:
        settings = Settings()
    except ValidationError as exc:
        output.err().print(f"[red]Invalid DOCKYARD_* setting:[/red] {exc}")
        raise typer.Exit(2) from None
    findings = diagnose(settings)
    if current().json:
        output.print_json([finding.as_dict() for finding in findings])
    else:
        width = max(len(finding.name) for finding in findings)
        for finding in findings:
            mark = "ok " if finding.ok else "[red]!![/red] "
            output.out().print(f"{mark} {finding.name.ljust(width)}  {finding.value}")
            if finding.advice:
                output.out().print(f"    {' ' * width}  {finding.advice}")
    if not all(finding.ok for finding in findings):
        raise typer.Exit(1)

"""`dockyard serve`: the API, the reconciler and the proxy in one process."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console

console = Console(stderr=True, soft_wrap=True)


def serve(
    host: Annotated[str | None, typer.Option(help="Interface to bind (default 127.0.0.1).")] = None,
    port: Annotated[int | None, typer.Option(help="Port to bind (default 8700).")] = None,
    log_level: Annotated[
        str, typer.Option(help="Log level: debug, info, warning or error.")
    ] = "info",
) -> None:
    """Start the Dockyard server (settings come from DOCKYARD_* variables)."""
    # The server is imported here, not at the top: the rest of the CLI must not load it.
    import logging

    import uvicorn
    from pydantic import ValidationError

    from dockyard.server.app import create_app
    from dockyard.server.http_server import uvicorn_options
    from dockyard.server.sessions.service import issue_sign_in_code
    from dockyard.server.settings import RuntimeName, Settings

    # Dockyard's own messages (runtime choice, reconciler trouble) go where uvicorn's go.
    logging.basicConfig(
        level=log_level.upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    try:
        settings = Settings()
    except ValidationError as exc:
        console.print(f"[red]Invalid DOCKYARD_* setting:[/red] {exc}")
        raise typer.Exit(2) from None
    if host is not None:
        settings.host = host
    if port is not None:
        settings.port = port
    if settings.runtime is RuntimeName.KUBERNETES:
        console.print("[red]DOCKYARD_RUNTIME=kubernetes is not available in this release.[/red]")
        raise typer.Exit(2)

    app = create_app(settings)
    bootstrap = app.state.bootstrap
    url = settings.public_url or f"http://{_display_host(settings.host)}:{settings.port}"
    console.print(f"Dockyard {app.version} on [bold]{url}[/bold]")
    console.print(f"  data dir: {settings.home}")
    console.print(f"  database: {app.state.db.engine.url.render_as_string(hide_password=True)}")
    console.print(f"  API docs: {url}/api/v2/docs")
    if bootstrap.new_token:
        console.print(f"  admin token (shown once, also in {bootstrap.token_file}):")
        console.print(f"    {bootstrap.new_token}")
    if settings.admin_token and bootstrap.token_file is None:
        console.print("  admin token: the value of DOCKYARD_ADMIN_TOKEN")
    token = bootstrap.new_token or _read(bootstrap.token_file) or settings.admin_token
    code = None
    if token:
        with app.state.db.unit_of_work() as session:
            code = issue_sign_in_code(session, token)
    if code:
        # A one-time code, never the token: terminals, logs and browser history keep URLs.
        console.print(f"  sign in: {url}/login?code={code}  (works once, for 10 minutes)")
    uvicorn.run(
        app,
        host=settings.host,
        port=settings.port,
        log_level=log_level,
        # Above "info" the access log is dropped anyway, but uvicorn would still format the
        # client address and path of every request for it: a cost on the invoke hot path.
        access_log=log_level.lower() in ("trace", "debug", "info"),
        timeout_graceful_shutdown=10,
        **uvicorn_options(),
    )


def _display_host(host: str) -> str:
    return "127.0.0.1" if host in ("0.0.0.0", "::") else host


def _read(path) -> str | None:  # type: ignore[no-untyped-def]
    if path is None:
        return None
    try:
        return path.read_text().strip() or None
    except OSError:
        return None

"""`dockyard serve`: the API, the reconciler and the proxy in one process."""

from __future__ import annotations

import os
import socket
from pathlib import Path
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
    from dockyard.server.runtimes.base import RuntimePermanentError
    from dockyard.server.sessions.service import issue_sign_in_code
    from dockyard.server.settings import Settings

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
    # Everything the server writes (database, keys, logs, replica files) is its user's alone.
    os.umask(0o077)
    # The port first: a second server on a busy port stops here, before starting anything.
    try:
        listener = _listen(settings.host, settings.port)
    except OSError as exc:
        console.print(
            f"[red]Cannot listen on {settings.host}:{settings.port}:[/red] {exc.strerror or exc}. "
            "Is another `dockyard serve` running? Stop it, or choose another port with --port "
            "or DOCKYARD_PORT."
        )
        raise typer.Exit(1) from None

    try:
        app = create_app(settings)
    except RuntimePermanentError as exc:
        # Where workloads would run cannot be used (no engine, no cluster, a missing verb):
        # say what, not where in the code.
        console.print(f"[red]Cannot start:[/red] {exc.reason}")
        raise typer.Exit(2) from None
    bootstrap = app.state.bootstrap
    url = settings.public_url or f"http://{_display_host(settings.host)}:{settings.port}"
    console.print(f"Dockyard {app.version} on [bold]{url}[/bold]")
    console.print(f"  data dir: {settings.home}")
    console.print(f"  database: {app.state.db.engine.url.render_as_string(hide_password=True)}")
    for label, value in app.state.runtime.describe().items():
        console.print(f"  {label}: {value}")
    if app.state.runtime_name == "process":
        who = "admins only"
        if settings.process_runtime_open:
            who = "every user (DOCKYARD_PROCESS_RUNTIME_OPEN: nothing keeps them from the server)"
        console.print(f"  who may run workloads here: {who}")
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
    config = uvicorn.Config(
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
    uvicorn.Server(config).run(sockets=[listener])


def _listen(host: str, port: int) -> socket.socket:
    """A listening socket on host:port, as uvicorn would open it."""
    family, kind, proto, _, address = socket.getaddrinfo(
        host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
    )[0]
    listener = socket.socket(family, kind, proto)
    try:
        # Reusing a port in TIME_WAIT, like uvicorn; a port another server listens on is
        # still refused.
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(address)
        listener.listen(2048)
    except OSError:
        listener.close()
        raise
    listener.set_inheritable(True)
    return listener


def _display_host(host: str) -> str:
    return "127.0.0.1" if host in ("0.0.0.0", "::") else host


def _read(path: Path | None) -> str | None:
    if path is None:
        return None
    try:
        return path.read_text().strip() or None
    except OSError:
        return None

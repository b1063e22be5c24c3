"""`dockyard login`, `dockyard user …` and `dockyard token …`."""

from __future__ import annotations

import re
from typing import Annotated

import typer

from dockyard.cli.output import note, print_json, say
from dockyard.cli.state import current
from dockyard.sdk import Client
from dockyard.sdk.config import DEFAULT_PROFILE, Profile, root_url, save_profile
from dockyard.sdk.errors import NotFound

users = typer.Typer(help="User accounts (admins).", no_args_is_help=True)
tokens = typer.Typer(help="API tokens.", no_args_is_help=True)
OBJECT_ID = re.compile(r"^[0-9a-f]{24}$")


def login(
    url: Annotated[str, typer.Option(help="The server's root URL, e.g. http://127.0.0.1:8700.")],
    token: Annotated[
        str,
        typer.Option(help="An API token (prompted when omitted).", prompt=True, hide_input=True),
    ],
    profile: Annotated[str, typer.Option(help="Save under this profile name.")] = DEFAULT_PROFILE,
) -> None:
    """Check a URL and token against the server and save them as the current profile."""
    url = root_url(url)
    with Client(url, token) as client:
        me = client.users.me()
    path = save_profile(profile, Profile(url=url, token=token))
    if current().json:
        print_json({"url": url, "profile": profile, "user": me, "configFile": str(path)})
    else:
        say(f"Signed in to {url} as {me.username}; profile '{profile}' saved in {path}")


@users.command("create")
def create_user(
    username: Annotated[str, typer.Argument(help="Login name.", show_default=False)],
    email: Annotated[str | None, typer.Option(help="E-mail address.")] = None,
    full_name: Annotated[str | None, typer.Option("--full-name", help="Display name.")] = None,
    admin: Annotated[bool, typer.Option("--admin", help="Make the user an administrator.")] = False,
) -> None:
    """Create a user account (admins only)."""
    with current().client() as client:
        user = client.users.create(
            username, email=email, full_name=full_name, is_admin=admin or None
        )
    if current().json:
        print_json(user)
    else:
        say(f"Created user {user.username} ({user.id}){' as admin' if user.is_admin else ''}")


@tokens.command("create")
def create_token(
    name: Annotated[str, typer.Option(help="What the token is for.")] = "cli",
    user: Annotated[
        str | None, typer.Option("--user", help="User id or username (default: yourself).")
    ] = None,
) -> None:
    """Create an API token; it is printed once and never shown again."""
    with current().client() as client:
        user_id = _user_id(client, user) if user else None
        created = client.tokens.create(name, user_id=user_id)
    if current().json:
        print_json(created)
        return
    say(created.token)
    note(
        f"Token '{created.name}' ({created.id}) for user {created.user_id}: "
        "keep it now, it is not shown again."
    )


def _user_id(client: Client, user: str) -> str:
    if OBJECT_ID.match(user):
        return user
    for candidate in client.users.list():
        if candidate.username == user:
            return candidate.id
    raise NotFound(f"The user '{user}' does not exist.", code="user_not_found")

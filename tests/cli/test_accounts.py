"""`dockyard login`, `user create`, `token create`."""

from __future__ import annotations

import json
import stat

from typer.testing import CliRunner

from dockyard.cli.main import app
from dockyard.sdk import Client
from dockyard.sdk.config import config_path
from tests.cli.conftest import Dockyard
from tests.sdk.live_server import LiveServer, unique


def test_login_saves_a_private_profile_that_later_commands_use(server: LiveServer) -> None:
    runner = CliRunner()
    signed_in = runner.invoke(
        app, ["login", "--url", server.url + "/api/v2/", "--token", server.token]
    )
    assert signed_in.exit_code == 0, signed_in.output
    assert f"Signed in to {server.url} as admin" in signed_in.stdout
    assert stat.S_IMODE(config_path().stat().st_mode) == 0o600
    assert server.token in config_path().read_text()

    # No DOCKYARD_* variables: the profile is used.
    assert runner.invoke(app, ["artifact", "list"]).exit_code == 0
    # The environment wins over the profile.
    overridden = runner.invoke(app, ["artifact", "list"], env={"DOCKYARD_TOKEN": "wrong"})
    assert overridden.exit_code == 1
    assert "unauthorized" in overridden.stderr


def test_login_with_a_bad_token_saves_nothing(server: LiveServer) -> None:
    result = CliRunner().invoke(app, ["login", "--url", server.url, "--token", "wrong"])
    assert result.exit_code == 1
    assert "[HTTP 401, unauthorized]" in result.stderr
    assert not config_path().exists()


def test_nothing_configured() -> None:
    result = CliRunner().invoke(app, ["workload", "list"])
    assert result.exit_code == 1
    assert "dockyard login --url URL --token TOKEN" in result.stderr


def test_users_and_tokens(dockyard: Dockyard, server: LiveServer) -> None:
    username = unique("cli-user")
    created = dockyard("user", "create", username, "--full-name", "CLI User")
    assert created.exit_code == 0, created.output
    assert f"Created user {username}" in created.stdout

    token = dockyard("token", "create", "--user", username, "--name", "laptop")
    assert token.exit_code == 0, token.output
    secret = token.stdout.strip()
    assert "not shown again" in token.stderr
    with Client(server.url, secret) as theirs:
        assert theirs.users.me().username == username

    mine = json.loads(dockyard("-o", "json", "token", "create").stdout)
    assert mine["token"] and mine["name"] == "cli"

    again = dockyard("-o", "json", "user", "create", username)
    assert again.exit_code == 1
    assert json.loads(again.stdout)["error"]["code"] == "username_taken"
    assert dockyard("token", "create", "--user", "nobody-at-all").exit_code == 1

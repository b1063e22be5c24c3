"""Where the client finds its server and token: arguments, environment, then the profile."""

from __future__ import annotations

import stat

import pytest

from dockyard.sdk import Client
from dockyard.sdk.config import Profile, config_path, read_profiles, resolve, save_profile
from dockyard.sdk.errors import ConfigurationError


def test_the_profile_file_is_private_and_read_back() -> None:
    path = save_profile("default", Profile(url="http://saved:8700", token="saved-token"))
    assert path == config_path()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    save_profile("other", Profile(url="http://other:8700", token='we"ird'))
    current, profiles = read_profiles()
    assert current == "other"
    assert profiles["default"] == Profile(url="http://saved:8700", token="saved-token")
    assert profiles["other"].token == 'we"ird'


def test_arguments_win_over_the_environment_which_wins_over_the_profile(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    save_profile("default", Profile(url="http://saved:8700", token="saved-token"))
    assert resolve() == resolve(None, None)
    assert (resolve().url, resolve().token) == ("http://saved:8700", "saved-token")

    monkeypatch.setenv("DOCKYARD_URL", "http://env:8700/api/v2/")
    assert (resolve().url, resolve().token) == ("http://env:8700", "saved-token")
    monkeypatch.setenv("DOCKYARD_TOKEN", "env-token")
    assert resolve().token == "env-token"

    settings = resolve("http://arg:1234", "arg-token")
    assert (settings.url, settings.token) == ("http://arg:1234", "arg-token")


def test_a_named_profile_is_chosen_by_argument_or_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    save_profile("staging", Profile(url="http://staging:8700", token="s"))
    save_profile("default", Profile(url="http://local:8700", token="d"))
    assert resolve().url == "http://local:8700"
    assert resolve(profile="staging").url == "http://staging:8700"
    monkeypatch.setenv("DOCKYARD_PROFILE", "staging")
    assert resolve().url == "http://staging:8700"
    with pytest.raises(ConfigurationError, match="No profile named 'nope'"):
        resolve(profile="nope")


def test_nothing_configured_says_how_to_configure() -> None:
    with pytest.raises(ConfigurationError, match="dockyard login"):
        Client()


def test_a_url_without_scheme_is_refused() -> None:
    with pytest.raises(ConfigurationError, match="http"):
        Client("localhost:8700", "t")

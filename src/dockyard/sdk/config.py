"""Where the server URL and the token come from, and the CLI's profile file.

Each of the two values is resolved on its own, first match wins: the argument given to the
client, then `DOCKYARD_URL` / `DOCKYARD_TOKEN`, then the profile file that `dockyard login`
writes (`$XDG_CONFIG_HOME/dockyard/config.toml`, by default `~/.config/dockyard/config.toml`).
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass
from pathlib import Path

from dockyard.sdk.errors import ConfigurationError

DEFAULT_PROFILE = "default"
API_PREFIX = "/api/v2"


@dataclass(frozen=True)
class Profile:
    url: str | None = None
    token: str | None = None


@dataclass(frozen=True)
class Settings:
    url: str  # the server's root URL, without /api/v2
    token: str | None
    url_from: str  # "argument", "DOCKYARD_URL" or the profile file, for error messages


def config_path() -> Path:
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "dockyard" / "config.toml"


def root_url(url: str) -> str:
    """The server's root URL: a trailing `/` or `/api/v2` is tolerated and removed."""
    url = url.strip().rstrip("/")
    if url.endswith(API_PREFIX):
        url = url[: -len(API_PREFIX)].rstrip("/")
    if not url.startswith(("http://", "https://")):
        raise ConfigurationError(f"The server URL must start with http:// or https://: {url!r}")
    return url


def read_profiles(path: Path | None = None) -> tuple[str | None, dict[str, Profile]]:
    """(current profile name, profiles by name) from the profile file; empty when absent."""
    path = path or config_path()
    try:
        data = tomllib.loads(path.read_text())
    except FileNotFoundError:
        return None, {}
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ConfigurationError(f"Cannot read {path}: {exc}") from None
    profiles = {
        name: Profile(url=fields.get("url"), token=fields.get("token"))
        for name, fields in (data.get("profiles") or {}).items()
        if isinstance(fields, dict)
    }
    current = data.get("current")
    return (current if isinstance(current, str) else None), profiles


def save_profile(name: str, profile: Profile, path: Path | None = None) -> Path:
    """Add or replace one profile and make it current; the file is readable by its owner only."""
    path = path or config_path()
    _, profiles = read_profiles(path)
    profiles[name] = profile
    lines = [f"current = {_quote(name)}", ""]
    for key, item in sorted(profiles.items()):
        lines.append(f"[profiles.{_quote(key)}]")
        if item.url:
            lines.append(f"url = {_quote(item.url)}")
        if item.token:
            lines.append(f"token = {_quote(item.token)}")
        lines.append("")
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    # Created 0600 from the start: the token must never be readable by others, even briefly.
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as handle:
        handle.write("\n".join(lines))
    path.chmod(0o600)
    return path


def resolve(
    url: str | None = None, token: str | None = None, profile: str | None = None
) -> Settings:
    """The URL and token to use: arguments, then the environment, then the profile file."""
    url_from = "argument"
    if url is None and os.environ.get("DOCKYARD_URL"):
        url, url_from = os.environ["DOCKYARD_URL"], "DOCKYARD_URL"
    if token is None and os.environ.get("DOCKYARD_TOKEN"):
        token = os.environ["DOCKYARD_TOKEN"]
    if url is None or token is None:
        stored = _stored_profile(profile)
        if url is None and stored.url:
            url, url_from = stored.url, str(config_path())
        if token is None:
            token = stored.token
    if url is None:
        raise ConfigurationError(
            "No Dockyard server configured: run `dockyard login --url URL --token TOKEN` "
            "or set DOCKYARD_URL and DOCKYARD_TOKEN."
        )
    return Settings(url=root_url(url), token=token, url_from=url_from)


def _stored_profile(name: str | None) -> Profile:
    current, profiles = read_profiles()
    wanted = name or os.environ.get("DOCKYARD_PROFILE") or current or DEFAULT_PROFILE
    if name and name not in profiles:
        raise ConfigurationError(f"No profile named '{name}' in {config_path()}.")
    return profiles.get(wanted, Profile())


def _quote(text: str) -> str:
    # TOML basic strings: escape backslashes and quotes; URLs and tokens need nothing more.
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'

"""`dockyard doctor`: what `dockyard serve` would use on this machine, and whether it can.

Looks without changing anything: no database is created or migrated, no engine is started.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine
from sqlalchemy.engine import make_url

from dockyard.server.db.revision import revision_of, sqlite_revision
from dockyard.server.runtimes.base import RuntimePermanentError
from dockyard.server.runtimes.kubernetes.connection import check as check_cluster
from dockyard.server.runtimes.kubernetes.connection import connect as connect_cluster
from dockyard.server.runtimes.podman_service import PodmanService, engine_answers, engine_facts
from dockyard.server.runtimes.select import engine_candidates
from dockyard.server.settings import KubernetesRoute, RuntimeName, Settings


@dataclass(frozen=True)
class Finding:
    name: str  # data dir | database | runtime | engine | engine socket | image store | …
    value: str
    ok: bool = True  # False: `dockyard serve` cannot work this way
    advice: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def diagnose(settings: Settings, environ: Mapping[str, str] | None = None) -> list[Finding]:
    environ = os.environ if environ is None else environ
    return [*_data_dir(settings.home), _database(settings), *_runtime(settings, environ)]


# --- storage ---------------------------------------------------------------------------------


def _data_dir(home: Path) -> list[Finding]:
    if home.is_dir():
        usable = os.access(home, os.W_OK | os.X_OK)
        mode = home.stat().st_mode & 0o777
        advice = None
        if not usable:
            advice = "this user cannot write it: fix its owner or set DOCKYARD_HOME"
        elif mode & 0o077:
            advice = "readable by others; `dockyard serve` makes it private (0700) at start"
        return [Finding("data dir", f"{home} (mode {mode:o})", usable, advice)]
    parent = next((p for p in home.parents if p.exists()), Path("/"))
    usable = os.access(parent, os.W_OK | os.X_OK)
    return [
        Finding(
            "data dir",
            f"{home} (not created yet)",
            usable,
            "created (0700) at the first `dockyard serve`"
            if usable
            else f"this user cannot create it in {parent}: set DOCKYARD_HOME",
        )
    ]


def _database(settings: Settings) -> Finding:
    url = make_url(settings.effective_database_url)
    shown = url.render_as_string(hide_password=True)
    if url.get_backend_name() == "sqlite":
        return _sqlite(shown, Path(url.database or ""))
    try:
        engine = create_engine(url, connect_args={"connect_timeout": 5}, pool_pre_ping=False)
        try:
            with engine.connect() as connection:
                revision = _revision(connection)
        finally:
            engine.dispose()
    except Exception as exc:  # the driver's errors are many; each means "cannot use it"
        return Finding("database", shown, False, f"cannot connect: {_first_line(exc)}")
    return Finding("database", f"{shown} ({revision})")


def _sqlite(shown: str, path: Path) -> Finding:
    if not path.exists():
        return Finding("database", f"{shown} (not created yet)", True, "created at first start")
    try:
        revision = sqlite_revision(path)
    except sqlite3.Error as exc:
        return Finding("database", shown, False, f"cannot read it: {exc}")
    state = f"schema {revision}" if revision else "empty: migrated at first start"
    return Finding("database", f"{shown} ({state})")


def _revision(connection: Any) -> str:
    try:
        version = revision_of(connection)
    except Exception:  # no table yet: a new database
        return "empty: migrated at first start"
    return f"schema {version}"


# --- where workloads run ---------------------------------------------------------------------


def _runtime(settings: Settings, environ: Mapping[str, str]) -> list[Finding]:
    wanted = settings.runtime
    if wanted is RuntimeName.KUBERNETES:
        return _kubernetes(settings)
    if wanted is RuntimeName.FAKE:
        return [Finding("runtime", "fake (in memory, for tests)")]
    if wanted is not RuntimeName.PROCESS:
        found = _engine(settings, environ)
        if found is not None:
            return found
        if wanted is RuntimeName.DOCKER:
            tried = ", ".join(engine_candidates(environ))
            return [
                Finding(
                    "runtime",
                    "docker",
                    False,
                    f"no engine answers at {tried} and podman is not installed to start one",
                )
            ]
    how = "DOCKYARD_RUNTIME=process" if wanted is RuntimeName.PROCESS else "auto: no engine found"
    who = "every user (DOCKYARD_PROCESS_RUNTIME_OPEN=true)"
    if not settings.process_runtime_open:
        who = "admins only (DOCKYARD_PROCESS_RUNTIME_OPEN=true opens it on a one-user machine)"
    return [
        Finding("runtime", f"process ({how})"),
        Finding("engine", "none: each container's entrypoint runs as a local process"),
        Finding("image store", "none: images are not used"),
        Finding("who may run workloads", who),
    ]


def _kubernetes(settings: Settings) -> list[Finding]:
    try:
        connection = connect_cluster(settings)
    except RuntimePermanentError as exc:
        return [Finding("runtime", "kubernetes", False, exc.reason)]
    how = " (this pod's service account)" if connection.in_cluster else ""
    found = [
        Finding("runtime", "kubernetes"),
        Finding("cluster", f"{connection.server}{how}"),
        Finding("namespace", connection.namespace),
    ]
    try:
        check_cluster(connection, settings.kubernetes_route)
    except RuntimePermanentError as exc:
        found.append(Finding("access", "incomplete", False, exc.reason))
    else:
        found.append(Finding("access", "every verb Dockyard needs in the namespace"))
    finally:
        connection.client.close()
    route = settings.kubernetes_route
    found.append(
        Finding(
            "invoke traffic",
            "to ready pod IPs (Dockyard must run in the cluster)"
            if route == KubernetesRoute.PODS
            else "through the API server's service proxy (slower)",
        )
    )
    return found


def _engine(settings: Settings, environ: Mapping[str, str]) -> list[Finding] | None:
    own = PodmanService(settings.home / "podman").base_url
    for base_url in [*engine_candidates(environ), own]:
        if engine_answers(base_url):
            origin = "a podman service Dockyard started" if base_url == own else "found"
            facts = engine_facts(base_url)
            return [Finding("runtime", f"docker ({origin})")] + [
                Finding(name, value) for name, value in facts.items()
            ]
    podman = shutil.which("podman")
    if podman is None:
        return None
    return [
        Finding("runtime", "docker (on a podman service Dockyard starts)"),
        Finding("engine", f"Podman ({podman})"),
        Finding("engine socket", f"{own} (once started)"),
        _podman_store(podman),
    ]


def _podman_store(podman: str) -> Finding:
    try:
        done = subprocess.run(
            [podman, "info", "--format", "{{.Store.GraphRoot}} ({{.Store.GraphDriverName}})"],
            capture_output=True,
            text=True,
            timeout=30,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return Finding("image store", "unknown", False, f"podman info failed: {exc}")
    if done.returncode != 0:
        return Finding("image store", "unknown", False, f"podman info: {_first_line(done.stderr)}")
    return Finding("image store", done.stdout.strip())


def _first_line(value: object) -> str:
    return str(value).strip().splitlines()[0] if str(value).strip() else "no detail"

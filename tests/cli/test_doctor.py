"""`dockyard doctor` reports what `dockyard serve` would use here, without changing anything."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

from typer.testing import CliRunner, Result

from dockyard.cli.main import app
from dockyard.server.app import create_app
from dockyard.server.settings import Settings
from tests.conftest import PG_URL, require_service


def doctor(home: Path, *args: str, **env: str) -> Result:
    environment = {"DOCKYARD_HOME": str(home), "DOCKYARD_DATABASE_URL": None, **env}
    for name in os.environ:
        if name.startswith("DOCKYARD_") and name not in environment:
            environment[name] = None  # the developer's own settings stay out
    return CliRunner().invoke(app, [*args, "doctor"], env=environment)


def findings(result: Result) -> dict[str, dict]:
    return {item["name"]: item for item in json.loads(result.stdout)}


def test_a_fresh_machine_on_the_process_runtime(tmp_path: Path) -> None:
    home = tmp_path / "home"

    result = doctor(home, DOCKYARD_RUNTIME="process")

    assert result.exit_code == 0, result.output
    for line in ("data dir", "not created yet", "database", "runtime", "process", "image store"):
        assert line in result.output
    assert "admins only" in result.output
    assert not home.exists(), "doctor must not create the data dir"


def test_an_existing_installation_and_the_open_mode(tmp_path: Path) -> None:
    home = tmp_path / "home"
    create_app(Settings(home=home, runtime="fake"), run_reconciler=False).state.db.dispose()

    result = doctor(
        home, "-o", "json", DOCKYARD_RUNTIME="process", DOCKYARD_PROCESS_RUNTIME_OPEN="true"
    )

    assert result.exit_code == 0, result.output
    found = findings(result)
    assert found["data dir"]["value"] == f"{home} (mode 700)" and found["data dir"]["ok"]
    assert re.search(r"\(schema \d{4}\)$", found["database"]["value"]), found["database"]
    assert found["who may run workloads"]["value"].startswith("every user")


def test_the_engine_socket_and_image_store_of_a_podman(tmp_path: Path) -> None:
    url = os.environ.get("DOCKER_HOST")
    require_service(bool(url), "the engine report needs DOCKER_HOST (scripts/test-podman.sh)")

    result = doctor(tmp_path / "home", "-o", "json", DOCKYARD_RUNTIME="docker", DOCKER_HOST=url)

    assert result.exit_code == 0, result.output
    found = findings(result)
    assert found["engine"]["value"].startswith(("Podman ", "Docker "))
    assert found["engine socket"]["value"] == url
    store = os.environ.get("DOCKYARD_TEST_PODMAN_DIR")
    if store:
        assert found["image store"]["value"].startswith(str(Path(store) / "root"))


def test_what_cannot_work_is_flagged_and_fails(tmp_path: Path) -> None:
    result = doctor(
        tmp_path / "home",
        DOCKYARD_RUNTIME="docker",
        DOCKER_HOST=f"unix://{tmp_path}/nothing.sock",
        PATH=str(tmp_path),  # no podman to start one either
        XDG_RUNTIME_DIR=str(tmp_path),
        DOCKYARD_DATABASE_URL="postgresql+psycopg://nobody:secret@127.0.0.1:1/none",
    )

    assert result.exit_code == 1
    assert "!!" in result.output and "no engine answers" in result.output
    assert "cannot connect" in result.output and "secret" not in result.output


def test_a_reachable_postgresql(tmp_path: Path) -> None:
    require_service(bool(PG_URL), "PostgreSQL tests need DOCKYARD_TEST_DATABASE_URL")
    assert PG_URL is not None
    result = doctor(
        tmp_path / "home", "-o", "json", DOCKYARD_RUNTIME="process", DOCKYARD_DATABASE_URL=PG_URL
    )

    assert result.exit_code == 0, result.output
    assert findings(result)["database"]["ok"]

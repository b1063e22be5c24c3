"""The README stays true: every setting is documented, CI can find the test command, and the
"No internet?" section's commands work."""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import docker
import httpx

from dockyard.server.settings import Settings
from tests.conftest import require_service
from tests.support.images import BUSYBOX_IMAGE

README = (Path(__file__).resolve().parents[1] / "README.md").read_text()
# Accepted for tests and deliberately left out of the user-facing docs.
UNDOCUMENTED_ON_PURPOSE: set[str] = set()


def test_every_setting_is_in_the_configuration_table() -> None:
    missing = [
        f"DOCKYARD_{name.upper()}"
        for name in Settings.model_fields
        if name not in UNDOCUMENTED_ON_PURPOSE and f"`DOCKYARD_{name.upper()}`" not in README
    ]
    assert not missing, f"README.md's configuration table lacks {', '.join(missing)}"


def test_the_readme_marks_the_command_ci_runs() -> None:
    # .ci/run executes the first line of the code block under this marker.
    lines = README.splitlines()
    marker = lines.index("<!-- test-command -->")
    assert lines[marker + 1].startswith("```")
    assert "pytest" in lines[marker + 2]


# --- "No internet?": its commands run as written ---------------------------------------------
# The block that saves an image needs internet by definition; the test makes the file it would
# make (an image of its own, so the shared engine gains nothing it might mistake for another).


def readme_block(name: str) -> str:
    """The shell code block under `<!-- no-internet: NAME -->`."""
    lines = README.splitlines()
    start = lines.index(f"<!-- no-internet: {name} -->") + 1
    assert lines[start] == "```sh"
    end = lines.index("```", start + 1)
    return "\n".join(lines[start + 1 : end])


def _bash(script: str, env: dict[str, str], cwd: Path, timeout: float = 120):  # noqa: ANN202
    return subprocess.run(
        ["bash", "-euo", "pipefail", "-c", script],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def _clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DOCKYARD_")}
    return {**env, **extra}


def test_no_internet_loading_an_image_file_into_the_engine(tmp_path: Path) -> None:
    url = os.environ.get("DOCKER_HOST", "")
    require_service(
        bool(url) and shutil.which("podman") is not None,
        "the image part needs podman and the private engine (DOCKER_HOST)",
    )
    name = f"localhost/dockyard-readme-offline:{secrets.token_hex(4)}"
    podman = ["podman", "--url", url]
    subprocess.run([*podman, "tag", BUSYBOX_IMAGE, name], check=True, capture_output=True)
    subprocess.run(
        [*podman, "save", "-o", str(tmp_path / "python-3.12-slim.tar"), name],
        check=True,
        capture_output=True,
    )
    subprocess.run([*podman, "rmi", name], check=True, capture_output=True)
    client = docker.DockerClient(base_url=url, timeout=30)
    try:
        block = readme_block("load")
        lines = block.splitlines()
        assert lines[0].startswith("export ENGINE=")
        lines[0] = f"export ENGINE={url}"  # the "engine socket" line of this machine's doctor
        if shutil.which("docker") is None:
            lines = [line for line in lines if " docker load " not in line]

        loaded = _bash("\n".join(lines), _clean_env(), tmp_path)

        assert loaded.returncode == 0, loaded.stderr
        assert name in client.images.get(name).tags
        _a_workload_runs_from_the_loaded_image(tmp_path, url, name)
    finally:
        subprocess.run([*podman, "rmi", "-f", name], capture_output=True)
        client.close()


def _a_workload_runs_from_the_loaded_image(tmp_path: Path, url: str, image: str) -> None:
    from tests.e2e.conftest import PodmanEngine, Server, wait_for

    engine = PodmanEngine(url)
    server = Server(tmp_path / "home", engine.server_env())
    (tmp_path / "home").mkdir()
    server.start()
    try:
        spec = engine.web("offline")
        spec["containerGroups"][0]["containers"][0]["imageUri"] = image
        created = server.api.post(
            "/workloads", json={"name": "offline", "artifact": {"name": "offline", "spec": spec}}
        )
        assert created.status_code == 201, created.text
        workload_id = created.json()["id"]
        wait_for(
            "the workload on the loaded image to run",
            lambda: server.api.get(f"/workloads/{workload_id}").json()["status"] == "running",
            timeout=60,
            context=lambda: server.api.get(f"/workloads/{workload_id}/events").json(),
        )
        server.api.delete(f"/workloads/{workload_id}")
        wait_for("its containers to go", lambda: not engine.all_objects(workload_id))
    finally:
        server.stop()


def _still_running(process: subprocess.Popen[bytes]) -> bool:
    if process.poll() is not None:
        raise AssertionError(f"the README's `dockyard serve` exited with {process.returncode}")
    return True


def test_no_internet_the_process_runtime_on_a_laptop(tmp_path: Path) -> None:
    from tests.e2e.conftest import ProcessEngine, free_port, wait_for

    port = free_port()
    admin_token = "dy_readme_" + secrets.token_hex(16)
    serve_line = readme_block("laptop-serve").replace(
        ".venv/bin/", f"{Path(sys.executable).parent}/"
    )
    env = _clean_env(
        DOCKYARD_HOME=str(tmp_path / "home"),
        DOCKYARD_PORT=str(port),
        DOCKYARD_ADMIN_TOKEN=admin_token,
    )
    with open(tmp_path / "serve.log", "wb") as log:
        server = subprocess.Popen(
            ["bash", "-c", serve_line],
            env=env,
            cwd=tmp_path,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    api = f"http://127.0.0.1:{port}/api/v2"
    admin = httpx.Client(base_url=api, headers={"Authorization": f"Bearer {admin_token}"})
    workload_ids: list[str] = []
    try:
        wait_for(
            "the README's server",
            lambda: (
                server.poll() is None
                and httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=2).status_code == 200
            ),
            timeout=60,
            context=lambda: (tmp_path / "serve.log").read_text()[-2000:],
        )
        assert "who may run workloads here: every user" in (tmp_path / "serve.log").read_text()
        # An everyday token of a user who is not the admin: the open mode lets it run code here.
        user = admin.post("/users", json={"username": "me"}).json()
        token = admin.post("/apiTokens", json={"name": "laptop", "userId": user["id"]}).json()

        ran = _bash(
            readme_block("laptop-run"),
            _clean_env(DOCKYARD=api, TOKEN=token["token"]),
            tmp_path,
            timeout=90,
        )

        workload_ids = [w["id"] for w in admin.get("/workloads").json()["data"]]
        assert ran.returncode == 0, ran.stderr
        assert "Directory listing for /" in ran.stdout, ran.stdout
    finally:
        for workload_id in workload_ids:
            admin.delete(f"/workloads/{workload_id}")
        for workload_id in workload_ids:
            wait_for("its processes to go", lambda w=workload_id: not ProcessEngine().objects(w))
        admin.close()
        with contextlib.suppress(ProcessLookupError):
            os.killpg(server.pid, signal.SIGTERM)  # the line's shell and the server in it
        server.wait(20)

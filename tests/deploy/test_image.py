"""The Containerfile builds Dockyard's image from a local base, and the image serves.

The base is a Debian root filesystem made by `scripts/base-image.sh` (mmdebstrap, no container
registry), imported into the private Podman of `scripts/test-podman.sh`; its tar is cached
between runs. The build installs Dockyard's Python dependencies from the package index, with
the host's CA bundle mounted for the build only (an HTTPS proxy may sit in between).

The containers run as the manifests run them: read-only root filesystem, a writable data dir,
the default non-root user. On PostgreSQL they use the host's network to reach the test server,
and two of them start at once on a fresh database, as two replicas would.
"""

from __future__ import annotations

import base64
import fcntl
import hashlib
import json
import os
import shutil
import socket
import subprocess
import time
from pathlib import Path

import pytest

from tests.conftest import PG_URL, new_postgres_database, require_service

ROOT = Path(__file__).resolve().parents[2]
BASE_IMAGE = "localhost/dockyard-base:bookworm"
CA_BUNDLE = Path("/etc/ssl/certs/ca-certificates.crt")
IMAGE_UID = "10001"


def _cache() -> Path:
    default = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "dockyard"
    return Path(os.environ.get("DOCKYARD_IMAGE_CACHE", default / "images"))


class Podman:
    """The podman command on the private store of `scripts/test-podman.sh`."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def __call__(self, *args: str, check: bool = True) -> str:
        done = self.run(*args)
        if check and done.returncode != 0:
            pytest.fail(f"podman {' '.join(args[:2])} failed ({done.returncode}): {done.stderr}")
        return done.stdout.strip()

    def run(self, *args: str) -> subprocess.CompletedProcess[str]:
        command = [
            "podman",
            "--root", str(self.directory / "root"),
            "--runroot", str(self.directory / "runroot"),
            "--tmpdir", str(self.directory / "tmp"),
            *args,
        ]  # fmt: skip
        env = {**os.environ, "CONTAINERS_CONF": str(self.directory / "containers.conf")}
        return subprocess.run(command, capture_output=True, text=True, env=env, timeout=600)


@pytest.fixture(scope="module")
def podman() -> Podman:
    store = os.environ.get("DOCKYARD_TEST_PODMAN_DIR")
    require_service(
        bool(store) and shutil.which("podman") is not None,
        "the image test needs the private Podman: "
        'eval "$(scripts/test-podman.sh start DIR)" sets DOCKYARD_TEST_PODMAN_DIR',
    )
    assert store is not None
    return Podman(Path(store))


IMAGE_REPOSITORY = "localhost/dockyard-image-test"


@pytest.fixture(scope="module")
def image(podman: Podman) -> str:
    """The image of this source tree, built once for every test worker.

    Its tag is a hash of what goes into it, so a worker finds the image another one built (they
    take turns under a file lock); older builds of the test image are removed then."""
    with (podman.directory / "dockyard-image-test.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        _make_base(podman)
        base_id = podman("image", "inspect", "--format", "{{.Id}}", BASE_IMAGE)
        name = f"{IMAGE_REPOSITORY}:{_source_hash(base_id)}"
        if podman.run("image", "exists", name).returncode == 0:
            return name
        for old in podman("images", "--format", "{{.Repository}}:{{.Tag}}").split():
            if old.startswith(f"{IMAGE_REPOSITORY}:"):
                podman.run("rmi", old)  # not forced: an image in use stays
        pip_cache = _cache().parent / "pip"
        pip_cache.mkdir(parents=True, exist_ok=True)
        build = ["build", "--pull=never", "--format=docker", "--build-arg", f"BASE={BASE_IMAGE}"]
        build += ["-v", f"{pip_cache}:/root/.cache/pip"]
        if CA_BUNDLE.exists():
            build += ["-v", f"{CA_BUNDLE}:{CA_BUNDLE}:ro"]
        podman(*build, "-t", name, "-f", str(ROOT / "Containerfile"), str(ROOT))
    return name


def _make_base(podman: Podman) -> None:
    has_base = podman.run("image", "exists", BASE_IMAGE).returncode == 0
    cached = any(_cache().glob("debian-*.tar"))
    require_service(
        has_base or cached or shutil.which("mmdebstrap") is not None,
        "building the base image needs mmdebstrap (apt-get install mmdebstrap)",
    )
    made = subprocess.run(
        [ROOT / "scripts" / "base-image.sh", BASE_IMAGE, str(podman.directory)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert made.returncode == 0, made.stderr


def _source_hash(base_id: str) -> str:
    digest = hashlib.sha256(base_id.encode())
    files = [ROOT / name for name in ("Containerfile", ".containerignore", "pyproject.toml")]
    files += [ROOT / "README.md"]
    files += sorted(
        p for p in (ROOT / "src").rglob("*") if p.is_file() and "__pycache__" not in p.parts
    )
    for path in files:
        digest.update(str(path.relative_to(ROOT)).encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()[:16]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _run(podman: Podman, image: str, *options: str, secret_key: str | None = None) -> str:
    """A detached container run as deployment.yaml runs it: read-only root filesystem, an
    empty writable data dir, the secret key given. The process runtime: no cluster here."""
    return podman(
        "run", "--detach", "--pull=never",
        "--read-only", "--tmpfs", "/var/lib/dockyard:rw,U",
        "--env", "DOCKYARD_RUNTIME=process",
        "--env", f"DOCKYARD_SECRET_KEY={secret_key or _secret_key()}",
        *options,
        image,
    )  # fmt: skip


def _secret_key() -> str:
    return base64.urlsafe_b64encode(os.urandom(32)).decode()


# /readyz from inside the container, with the image's own Python (there is no curl in it).
_READYZ = (
    "import os, urllib.request; "
    "r = urllib.request.urlopen(f\"http://127.0.0.1:{os.environ['DOCKYARD_PORT']}/readyz\", "
    "timeout=2); print(r.status, r.read().decode())"
)


def _wait_ready(podman: Podman, container: str) -> tuple[int, dict[str, str]]:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        answer = podman("exec", container, "python3", "-c", _READYZ, check=False)
        if answer:
            status, body = answer.split(" ", 1)
            return int(status), json.loads(body)
        if podman("inspect", "--format", "{{.State.Running}}", container) != "true":
            done = podman.run("logs", container)
            logs = done.stdout + done.stderr
            pytest.fail(f"the container stopped before /readyz answered:\n{logs}")
        time.sleep(0.2)
    pytest.fail("/readyz did not answer within 120 s")


def _remove(podman: Podman, *containers: str) -> None:
    for container in containers:
        podman("rm", "--force", "--time", "0", container, check=False)


def test_the_image_serves_on_sqlite_as_a_non_root_user(podman: Podman, image: str) -> None:
    container = _run(podman, image)
    try:
        assert _wait_ready(podman, container) == (200, {"status": "ok"})
        assert podman("exec", container, "id", "-u") == IMAGE_UID
        # The image's HEALTHCHECK (for plain `podman run`) asks /readyz too.
        assert podman.run("healthcheck", "run", container).returncode == 0
        # Only the installed package is in the image: sources and build tools stay behind.
        assert podman.run("exec", container, "test", "-e", "/src").returncode == 1
        assert podman.run("exec", container, "python3", "-c", "import pip").returncode == 1
        assert podman("exec", container, "dockyard", "--help").startswith("Usage")
    finally:
        _remove(podman, container)


def test_two_containers_start_together_on_one_postgresql(podman: Podman, image: str) -> None:
    require_service(PG_URL is not None, "the image on PostgreSQL needs DOCKYARD_TEST_DATABASE_URL")
    key = _secret_key()
    with new_postgres_database("dockyard_image") as url:
        # The host's network: the test PostgreSQL listens on the host's loopback only.
        containers = [
            _run(
                podman,
                image,
                "--network=host",
                "--env",
                "DOCKYARD_HOST=127.0.0.1",
                "--env",
                f"DOCKYARD_PORT={_free_port()}",
                "--env",
                f"DOCKYARD_DATABASE_URL={url}",
                secret_key=key,
            )  # fmt: skip
            for _ in range(2)
        ]
        try:
            for container in containers:
                assert _wait_ready(podman, container) == (200, {"status": "ok"})
            logs = [podman.run("logs", container).stderr for container in containers]
        finally:
            _remove(podman, *containers)
    # One of them made the database and the admin token; the other found both.
    assert sum("admin token (shown once" in log for log in logs) == 1

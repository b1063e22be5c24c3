"""Dockyard's own `podman system service`, for machines with podman but no engine running.

It listens on a socket in the data dir and uses the engine's default image store, so images a
user built with `podman build` are there. It is started with Dockyard's own containers.conf
(`CONTAINERS_CONF` replaces every other one), carrying what Podman needs on machines without
systemd and with a low hard nofile limit: no default ulimits, and runc (crun refuses hybrid
cgroups). The service runs in its own session; containers (and their conmon) outlive it, which
is what lets a restarted server adopt them.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

import docker

SOCKET_PATH_LIMIT = 100  # sun_path holds 108 bytes


def containers_conf() -> str:
    lines = ["[containers]", "default_ulimits = []", "", "[engine]"]
    if shutil.which("runc"):
        lines.append('runtime = "runc"')
    lines += ['cgroup_manager = "cgroupfs"', 'events_logger = "file"']
    return "\n".join(lines) + "\n"


class PodmanService:
    def __init__(self, directory: Path, podman_args: Sequence[str] = ()) -> None:
        self.directory = Path(directory)
        self.podman_args = list(podman_args)  # global flags, e.g. a private --root for tests
        self.socket = _socket_path(self.directory)
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def base_url(self) -> str:
        return f"unix://{self.socket}"

    def start(self, timeout: float = 15.0) -> str:
        """Start the service (or reuse one this data dir already runs); return its URL."""
        if engine_answers(self.base_url):
            return self.base_url  # another Dockyard process on this data dir started it
        self.directory.mkdir(parents=True, exist_ok=True)
        conf = self.directory / "containers.conf"
        conf.write_text(containers_conf())
        self.socket.unlink(missing_ok=True)  # left by a service that died
        log = open(self.directory / "podman-service.log", "ab")  # noqa: SIM115 - child owns it
        self.process = subprocess.Popen(
            ["podman", *self.podman_args, "system", "service", "--time=0", self.base_url],
            env={**os.environ, "CONTAINERS_CONF": str(conf)},
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            # Podman's image layers are its own business: the usual umask, not the server's
            # 077 (a directory it makes for a layer must stay readable by a container's user).
            umask=0o022,
        )
        log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                tail = Path(log.name).read_text(errors="replace").strip().splitlines()[-3:]
                raise OSError(f"podman system service exited: {' / '.join(tail)}")
            if self.socket.exists() and engine_answers(self.base_url):
                return self.base_url
            time.sleep(0.05)
        self.stop()
        raise OSError(f"podman system service did not answer within {timeout:.0f} s")

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=5)


def _socket_path(directory: Path) -> Path:
    path = directory / "podman.sock"
    if len(str(path)) <= SOCKET_PATH_LIMIT:
        return path
    # A deep data dir: keep a short, stable path derived from it instead.
    digest = hashlib.sha256(str(directory).encode()).hexdigest()[:12]
    return Path(tempfile.gettempdir()) / f"dockyard-{os.getuid()}-{digest}.sock"


def engine_answers(base_url: str) -> bool:
    """True when a Docker-API engine answers a ping at `base_url` within two seconds."""
    if base_url.startswith("unix://") and not Path(base_url[len("unix://") :]).exists():
        return False
    try:
        client = docker.DockerClient(base_url=base_url, version="1.41", timeout=2)
        try:
            return bool(client.ping())
        finally:
            client.close()
    except Exception:  # any failure means "not usable here"
        return False


def engine_facts(base_url: str) -> dict[str, str]:
    """What the engine at `base_url` is and where it keeps images, in words for people.

    Keys: `engine` ("Podman 4.3.1"), `engine socket` and `image store` (its root directory and
    storage driver): the store that `podman load` or `docker load` must fill for offline use."""
    try:
        client = docker.DockerClient(base_url=base_url, version="1.41", timeout=5)
        try:
            version, info = client.version(), client.info()
        finally:
            client.close()
    except Exception as exc:  # any failure means "not usable here"; say why
        return {"engine": f"no answer ({exc.__class__.__name__})", "engine socket": base_url}
    names = [c.get("Name", "") for c in version.get("Components") or []]
    kind = "Podman" if any("Podman" in name for name in names) else "Docker"
    root = info.get("DockerRootDir") or "unknown"
    driver = info.get("Driver")
    return {
        "engine": f"{kind} {version.get('Version', '?')}",
        "engine socket": base_url,
        "image store": f"{root} ({driver})" if driver else root,
    }

"""Test images built offline, on any Docker-API engine, from the host's static busybox.

`scripts/test-podman.sh` builds the same image in its private store; this helper makes it on an
engine that lacks it (a developer's own Docker, say) by importing a rootfs tar through the API.
"""

from __future__ import annotations

import io
import re
import subprocess
import tarfile
import time

import docker
import docker.errors

BUSYBOX_IMAGE = "localhost/dockyard-test-bb:1"
# Runs the shell code in $SANDBOX_CODE as its own command, like a code sandbox image whose
# client sends the code in an environment variable and no entrypoint.
SANDBOX_IMAGE = "localhost/dockyard-test-sandbox:1"
SANDBOX_COMMAND = '["/bin/sh", "-c", "eval \\"$SANDBOX_CODE\\""]'
BUSYBOX = "/usr/bin/busybox"


def ensure_sandbox_image(client: docker.DockerClient) -> str:
    return ensure_busybox_image(client, SANDBOX_IMAGE, command=SANDBOX_COMMAND)


def ensure_busybox_image(
    client: docker.DockerClient, name: str = BUSYBOX_IMAGE, command: str = '["/bin/sh"]'
) -> str:
    try:
        client.images.get(name)
        return name
    except docker.errors.ImageNotFound:
        pass
    applets = subprocess.run([BUSYBOX, "--list"], capture_output=True, text=True, check=True)
    data = io.BytesIO()
    with tarfile.open(fileobj=data, mode="w") as tar:
        _directory(tar, "bin")
        _directory(tar, "tmp", mode=0o1777)
        _directory(tar, "www")
        _directory(tar, "etc")
        tar.add(BUSYBOX, arcname="bin/busybox")
        for applet in applets.stdout.split():
            if applet != "busybox":
                link = tarfile.TarInfo(f"bin/{applet}")
                link.type, link.linkname = tarfile.SYMTYPE, "busybox"
                tar.addfile(link)
        _file(tar, "www/healthz", b"ok\n")
        _file(tar, "etc/passwd", b"root:x:0:0:root:/:/bin/sh\nnobody:x:65534:65534::/:/bin/sh\n")
        _file(tar, "etc/group", b"root:x:0:\nnogroup:x:65534:\n")
    answer = client.api.import_image_from_data(
        data.getvalue(), changes=["ENV PATH=/bin", f"CMD {command}"]
    )
    image_id = re.search(r"sha256:[0-9a-f]{64}", str(answer))
    assert image_id, answer
    repository, _, tag = name.rpartition(":")
    client.images.get(image_id.group(0)).tag(repository, tag)  # Podman ignores import tags
    return name


def _directory(tar: tarfile.TarFile, name: str, mode: int = 0o755) -> None:
    info = tarfile.TarInfo(name)
    info.type, info.mode, info.mtime = tarfile.DIRTYPE, mode, int(time.time())
    tar.addfile(info)


def _file(tar: tarfile.TarFile, name: str, content: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size, info.mode, info.mtime = len(content), 0o644, int(time.time())
    tar.addfile(info, io.BytesIO(content))

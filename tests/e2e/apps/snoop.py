"""A workload that looks for what it should not find (standard library only).

GET / answers JSON: its working directory, HOME and environment; Dockyard files found where a
program would look without being told (its directory and HOME, the ancestors of its directory,
~/.dockyard); what it can read of its parents (the shim, then the server) through /proc; and
every DOCKYARD_ADMIN_TOKEN in any /proc/<pid>/environ it can read. /healthz answers ok.
"""

from __future__ import annotations

import json
import os
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

DOCKYARD_FILES = ("secret-key", "dockyard.db", "admin-token", "replica.json", "proton.json")


def _parent_of(pid: int) -> int:
    stat = Path(f"/proc/{pid}/stat").read_text()
    return int(stat[stat.rindex(")") + 2 :].split()[1])


def _try(action):  # noqa: ANN001, ANN202 - a tiny probe helper
    try:
        return action()
    except OSError as exc:
        return f"refused: {exc.__class__.__name__}"


def _found() -> list[str]:
    cwd = Path.cwd()
    places = [cwd, *cwd.parents, Path(os.environ.get("HOME", "/")), Path.home() / ".dockyard"]
    places.append(Path(os.environ.get("HOME", "/")) / ".dockyard")
    hits = []
    for place in places:
        for name in DOCKYARD_FILES:
            if (place / name).exists():
                hits.append(str(place / name))
    return sorted(set(hits))


def _open_files(pid: int) -> list[str]:
    # Under root the fd numbers may be listed (the directory is root's); where they lead may not.
    return [os.readlink(f"/proc/{pid}/fd/{fd}") for fd in os.listdir(f"/proc/{pid}/fd")]


def _tokens() -> list[str]:
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            environ = (entry / "environ").read_bytes()
        except OSError:
            continue
        for item in environ.split(b"\0"):
            if item.startswith(b"DOCKYARD_ADMIN_TOKEN="):
                found.append(item.split(b"=", 1)[1].decode())
    return found


def report() -> dict:
    shim = os.getppid()
    server = _parent_of(shim)
    return {
        "cwd": os.getcwd(),
        "listing": sorted(os.listdir(".")),
        "env": dict(os.environ),
        "found": _found(),
        "server_pid": server,
        "server_environ": _try(lambda: len(Path(f"/proc/{server}/environ").read_bytes())),
        "server_cwd": _try(lambda: os.readlink(f"/proc/{server}/cwd")),
        "server_files": _try(lambda: _open_files(server)),
        "shim_cwd": _try(lambda: os.readlink(f"/proc/{shim}/cwd")),
        "tokens": _tokens(),
    }


class Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802 - the http.server hook's name
        body = json.dumps(report()).encode() if self.path == "/" else b"ok\n"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


if __name__ == "__main__":
    ThreadingHTTPServer(("127.0.0.1", int(os.environ["PORT"])), Handler).serve_forever()

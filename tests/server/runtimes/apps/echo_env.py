"""A tiny HTTP app for process-runtime tests.

/env answers its environment as JSON; /self its working directory, and for each pid in the
SERVER_PID variable whether its /proc environ could be read.
"""

import json
import os
import sys
from http.server import BaseHTTPRequestHandler, HTTPServer


def _readable(path: str) -> bool:
    try:
        with open(path, "rb") as handle:
            handle.read(1)
    except OSError:
        return False
    return True


def _self() -> dict:
    pids = [p for p in os.environ.get("SERVER_PID", "").split(",") if p]
    return {
        "cwd": os.getcwd(),
        "files": sorted(os.listdir(".")),
        "environ_readable": {p: _readable(f"/proc/{p}/environ") for p in pids},
        "capabilities": _capabilities(),
    }


def _capabilities() -> dict:
    try:
        with open("/proc/self/status") as status:
            lines = [line.split(":") for line in status if line.startswith("Cap")]
    except OSError:
        return {}
    return {name: int(value.strip(), 16) for name, value in lines}


class Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        if self.path == "/env":
            body = json.dumps(dict(os.environ)).encode()
        elif self.path == "/self":
            body = json.dumps(_self()).encode()
        else:
            body = b"ok\n"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        print("request", self.path, file=sys.stderr, flush=True)


if __name__ == "__main__":
    print(f"listening on {os.environ['PORT']}", flush=True)
    HTTPServer(("127.0.0.1", int(os.environ["PORT"])), Handler).serve_forever()

"""A tiny web app for the process-runtime end-to-end tests (standard library only).

GET / answers JSON with GREETING, the pid and the port; /healthz answers ok; /slow answers
after SLOW_SECONDS (default 1), so a test controls how many requests are in flight; anything
else 404.
MODE=crash prints an error and exits 3 at once (a crash-looping container).
"""

from __future__ import annotations

import json
import os
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

PORT = int(os.environ.get("PORT", "8080"))
GREETING = os.environ.get("GREETING", "")


class Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802 - the http.server hook's name
        if self.path == "/":
            body = json.dumps({"greeting": GREETING, "pid": os.getpid(), "port": PORT}).encode()
            status = 200
        elif self.path == "/healthz":
            body, status = b"ok\n", 200
        elif self.path == "/slow":
            time.sleep(float(os.environ.get("SLOW_SECONDS", "1")))
            body, status = b"slow ok\n", 200
        else:
            body, status = b"not found\n", 404
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        print("INFO " + format % args, flush=True)


def main() -> None:
    if os.environ.get("MODE") == "crash":
        print("ERROR cannot start: crash mode", file=sys.stderr, flush=True)
        sys.exit(3)
    print(f"INFO web listening on {PORT} greeting={GREETING}", flush=True)
    ThreadingHTTPServer(("127.0.0.1", PORT), Handler).serve_forever()


if __name__ == "__main__":
    main()

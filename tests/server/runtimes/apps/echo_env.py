"""A tiny HTTP app for process-runtime tests: /env answers its environment as JSON."""

import json
import os
import sys
from http.server import BaseHTTPRequestHandler, HTTPServer


class Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        body = json.dumps(dict(os.environ)).encode() if self.path == "/env" else b"ok\n"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        print("request", self.path, file=sys.stderr, flush=True)


if __name__ == "__main__":
    print(f"listening on {os.environ['PORT']}", flush=True)
    HTTPServer(("127.0.0.1", int(os.environ["PORT"])), Handler).serve_forever()

"""Invoke-path benchmark: Dockyard's proxy against nginx and a naive FastAPI + httpx proxy.

    apt-get install -y wrk nginx           # Debian's packages (as root)
    python -m bench.proxy [--seconds 10]   # prints the table and updates docs/benchmarks.md
    python -m bench.proxy --seconds 2 --rounds 1 --stream-mb 256 --no-naive --no-docs \
        --json out.json                    # the short run bench.compare makes

One wrk run per target, all against the same upstream (nginx returning a tiny body), which
Dockyard itself runs as a workload on the process runtime:

- direct:  the upstream itself;
- nginx:   nginx as a keep-alive reverse proxy to it (the anchor);
- naive:   FastAPI + an httpx streaming proxy under the same uvicorn (the common Python design);
- dockyard: `dockyard serve`'s invoke path, /api/v2/endpoints/workloads/{id}/.

Each gets requests/s at 32 connections and p50 at 1 connection. Then, through Dockyard only:
time to the first byte of a server-sent event stream, and the server's peak memory growth
while 1 GB (or `--stream-mb`) streams through it.
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import httpx

from bench.report import Measure, replace_section, write_measures

TOKEN = "dy_bench_proxy_token_" + "x" * 24
DOCS = Path(__file__).resolve().parent.parent / "docs" / "benchmarks.md"
START = "<!-- bench:proxy:start -->"
END = "<!-- bench:proxy:end -->"
MB = 1024**2

# The upstream runs as a process-runtime replica: under a root server that is uid 0 without
# capabilities, so nginx must neither chown its temporary paths nor switch users (which
# needs setgroups): it stays one process of the user it was started as.
UPSTREAM_CONF = """
worker_processes 1;
master_process off;
user root root;
daemon off;
error_log {dir}/upstream-error.log;
pid {dir}/upstream.pid;
events {{ worker_connections 4096; }}
http {{
  access_log off;
  client_body_temp_path {dir}/tmp/body;
  proxy_temp_path {dir}/tmp/proxy;
  fastcgi_temp_path {dir}/tmp/fastcgi;
  uwsgi_temp_path {dir}/tmp/uwsgi;
  scgi_temp_path {dir}/tmp/scgi;
  sendfile on;
  server {{
    listen 127.0.0.1:{port};
    location = / {{ return 200 "hello\\n"; }}
    location = /big {{ alias {dir}/big.bin; }}
  }}
}}
"""

PROXY_CONF = """
worker_processes 1;
daemon off;
error_log {dir}/proxy-error.log;
pid {dir}/proxy.pid;
events {{ worker_connections 4096; }}
http {{
  access_log off;
  client_body_temp_path {dir}/tmp/body;
  proxy_temp_path {dir}/tmp/proxy;
  fastcgi_temp_path {dir}/tmp/fastcgi;
  uwsgi_temp_path {dir}/tmp/uwsgi;
  scgi_temp_path {dir}/tmp/scgi;
  upstream app {{ server 127.0.0.1:{upstream}; keepalive 64; }}
  server {{
    listen 127.0.0.1:{port};
    location / {{
      proxy_pass http://app;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
    }}
  }}
}}
"""

NAIVE_APP = """
import os
import httpx
from fastapi import FastAPI, Request
from starlette.background import BackgroundTask
from starlette.responses import StreamingResponse

UPSTREAM = os.environ["UPSTREAM"]
client = httpx.AsyncClient(base_url=UPSTREAM, timeout=60)
app = FastAPI()
HOP = {"connection", "keep-alive", "transfer-encoding", "upgrade", "host", "content-length"}


@app.api_route("/{path:path}", methods=["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD"])
async def proxy(path: str, request: Request):
    headers = [(k, v) for k, v in request.headers.items() if k not in HOP]
    has_body = "content-length" in request.headers or "transfer-encoding" in request.headers
    upstream = client.build_request(
        request.method, "/" + path, params=request.query_params, headers=headers,
        content=request.stream() if has_body else None,
    )
    response = await client.send(upstream, stream=True)
    return StreamingResponse(
        response.aiter_raw(),
        status_code=response.status_code,
        headers={k: v for k, v in response.headers.items() if k not in HOP},
        background=BackgroundTask(response.aclose),
    )
"""

SSE_SERVER = r"""
import asyncio, sys

async def handle(reader, writer):
    await reader.readuntil(b"\r\n\r\n")
    writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
                 b"Cache-Control: no-cache\r\nTransfer-Encoding: chunked\r\n\r\n")
    await writer.drain()
    event = b"data: first\n\n"
    writer.write(b"%x\r\n%s\r\n" % (len(event), event))
    await writer.drain()
    await asyncio.sleep(30)
    writer.close()

async def main():
    server = await asyncio.start_server(handle, "127.0.0.1", int(sys.argv[1]))
    async with server:
        await server.serve_forever()

asyncio.run(main())
"""


@dataclass(frozen=True)
class Row:
    name: str
    rps: float
    p50_ms: float


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_for(url: str, headers: dict[str, str] | None = None, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(url, headers=headers, timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise SystemExit(f"{url} did not answer 200 within {timeout} s")


def wrk(url: str, connections: int, seconds: int, headers: dict[str, str]) -> str:
    command = ["wrk", "-t1", f"-c{connections}", f"-d{seconds}s"]
    command += ["--latency"]
    for name, value in headers.items():
        command += ["-H", f"{name}: {value}"]
    out = subprocess.run(command + [url], capture_output=True, text=True, check=True).stdout
    if "Non-2xx" in out or "Socket errors" in out:
        print(out, file=sys.stderr)
    return out


def _p50_ms(output: str) -> float:
    match = re.search(r"^\s+50%\s+([\d.]+)(us|ms|s)\s*$", output, re.M)
    assert match, output
    value, unit = float(match.group(1)), match.group(2)
    return value / 1000 if unit == "us" else value * 1000 if unit == "s" else value


def _rps(output: str) -> float:
    match = re.search(r"Requests/sec:\s+([\d.]+)", output)
    assert match, output
    return float(match.group(1))


def measure(name: str, url: str, seconds: int, headers: dict[str, str]) -> Row:
    wrk(url, 8, 1, headers)  # warm-up: pools filled, code paths hot
    rps = _rps(wrk(url, 32, seconds, headers))
    p50 = _p50_ms(wrk(url, 1, max(seconds // 2, 1), headers))
    row = Row(name, rps, p50)
    print(f"{name:9} {rps:10.0f} req/s   p50 {p50:.3f} ms", flush=True)
    return row


class Processes:
    def __init__(self) -> None:
        self.children: list[subprocess.Popen[bytes]] = []

    def start(self, command: list[str], **kwargs: object) -> subprocess.Popen[bytes]:
        child = subprocess.Popen(command, start_new_session=True, **kwargs)  # type: ignore[call-overload]
        self.children.append(child)
        return child

    def stop(self) -> None:
        for child in reversed(self.children):
            if child.poll() is None:
                os.killpg(child.pid, signal.SIGTERM)
        for child in self.children:
            try:
                child.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(child.pid, signal.SIGKILL)


def create_workload(api: httpx.Client, name: str, port: int, entrypoint: list[str]) -> str:
    spec = {
        "containerGroups": [
            {
                "name": "default",
                "containers": [
                    {
                        "name": "primary",
                        "primary": True,
                        "imageUri": "docker.io/library/nginx:1",
                        "port": port,
                        "entrypoint": entrypoint,
                    }
                ],
            }
        ]
    }
    body = {"name": name, "artifact": {"name": name, "spec": spec}}
    response = api.post("/api/v2/workloads", json=body)
    response.raise_for_status()
    return response.json()["id"]


def stop_workloads(base: str, headers: dict[str, str], ids: list[str]) -> None:
    with httpx.Client(base_url=base, headers=headers, timeout=30) as api:
        for workload_id in ids:
            api.post(f"/api/v2/workloads/{workload_id}/stop")
        deadline = time.monotonic() + 30
        for workload_id in ids:
            while time.monotonic() < deadline:
                status = api.get(f"/api/v2/workloads/{workload_id}").json().get("status")
                if status == "stopped":
                    break
                time.sleep(0.3)


def rss_peak(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    return 0


def first_event_ms(url: str, headers: dict[str, str], tries: int = 20) -> float:
    samples = []
    # A starting workload holds the first request until it is ready.
    with httpx.Client(headers={**headers, "X-Scale-Up-Timeout": "60"}, timeout=70) as client:
        for _ in range(tries):
            started = time.perf_counter()
            with client.stream("GET", url) as response:
                next(response.iter_raw())
                samples.append((time.perf_counter() - started) * 1000)
    samples.sort()
    return samples[len(samples) // 2]


def stream(url: str, headers: dict[str, str]) -> int:
    received = 0
    with httpx.stream("GET", url, headers=headers, timeout=120) as response:
        response.raise_for_status()
        for chunk in response.iter_raw(1024 * 1024):
            received += len(chunk)
    return received


@dataclass(frozen=True)
class Found:
    rows: list[Row]
    sse_ms: float
    growth: int  # bytes of peak RSS growth while the body streamed
    stream_bytes: int
    stream_seconds: float


def run(seconds: int, rounds: int, stream_mb: int, naive: bool) -> Found:
    for tool in ("wrk", "nginx"):
        if shutil.which(tool) is None and not Path(f"/usr/sbin/{tool}").exists():
            raise SystemExit(f"{tool} is missing: apt-get install -y wrk nginx")
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    work = Path(tempfile.mkdtemp(prefix="dockyard-bench-proxy-"))
    work.chmod(0o755)  # nginx workers run as nobody when started by root
    # Debian's full nginx keeps its temporary files under /var/lib/nginx, which the process
    # runtime's replicas may not chown; each nginx here keeps them in the work directory.
    (work / "tmp").mkdir()
    with open(work / "big.bin", "wb") as big:
        big.truncate(stream_mb * MB)  # sparse: a large body costs no disk
    upstream_port, nginx_port, naive_port = free_port(), free_port(), free_port()
    dockyard_port, sse_port = free_port(), free_port()
    (work / "upstream.conf").write_text(UPSTREAM_CONF.format(dir=work, port=upstream_port))
    (work / "proxy.conf").write_text(
        PROXY_CONF.format(dir=work, port=nginx_port, upstream=upstream_port)
    )
    (work / "naive_app.py").write_text(NAIVE_APP)
    (work / "sse.py").write_text(SSE_SERVER)
    processes = Processes()
    auth = {"Authorization": f"Bearer {TOKEN}"}
    base = f"http://127.0.0.1:{dockyard_port}"
    created: list[str] = []
    try:
        env = {
            **os.environ,
            "DOCKYARD_HOME": str(work / "home"),
            "DOCKYARD_RUNTIME": "process",
            "DOCKYARD_ADMIN_TOKEN": TOKEN,
            "DOCKYARD_PORT": str(dockyard_port),
        }
        env.pop("DOCKYARD_DATABASE_URL", None)
        log = open(work / "dockyard.log", "wb")  # noqa: SIM115 - closed with the process
        server = processes.start(
            [str(Path(sys.executable).parent / "dockyard"), "serve", "--log-level", "warning"],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        wait_for(f"{base}/healthz")
        with httpx.Client(base_url=base, headers=auth, timeout=30) as api:
            upstream_id = create_workload(
                api,
                "bench-upstream",
                upstream_port,
                [nginx, "-c", str(work / "upstream.conf"), "-p", str(work)],
            )
            created.append(upstream_id)
            sse_id = create_workload(
                api, "bench-sse", sse_port, [sys.executable, str(work / "sse.py"), str(sse_port)]
            )
            created.append(sse_id)
        invoke = f"{base}/api/v2/endpoints/workloads/{upstream_id}/"
        wait_for(invoke, auth)
        first_event_ms(f"{base}/api/v2/endpoints/workloads/{sse_id}/", auth, tries=1)
        processes.start([nginx, "-c", str(work / "proxy.conf"), "-p", str(work)])
        processes.start(
            [sys.executable, "-m", "uvicorn", "naive_app:app", "--port", str(naive_port),
             "--log-level", "warning"],
            cwd=work,
            env={**os.environ, "UPSTREAM": f"http://127.0.0.1:{upstream_port}"},
        )  # fmt: skip
        wait_for(f"http://127.0.0.1:{nginx_port}/")
        wait_for(f"http://127.0.0.1:{naive_port}/")

        targets = {
            "direct": (f"http://127.0.0.1:{upstream_port}/", {}),
            "nginx": (f"http://127.0.0.1:{nginx_port}/", {}),
            "naive": (f"http://127.0.0.1:{naive_port}/", {}),
            "dockyard": (invoke, auth),
        }
        if not naive:
            del targets["naive"]
        # Rounds alternate the targets so a busy moment on a shared machine hits all of
        # them alike; each target keeps its best round.
        best: dict[str, Row] = {}
        for _ in range(rounds):
            for name, (url, headers) in targets.items():
                row = measure(name, url, seconds, headers)
                kept = best.get(name)
                best[name] = (
                    row
                    if kept is None
                    else Row(name, max(row.rps, kept.rps), min(row.p50_ms, kept.p50_ms))
                )
        rows = [best[name] for name in targets]
        sse_ms = first_event_ms(f"{base}/api/v2/endpoints/workloads/{sse_id}/events", auth)
        print(f"SSE first byte through dockyard: {sse_ms:.2f} ms (median of 20)", flush=True)
        before = rss_peak(server.pid)
        started = time.perf_counter()
        received = stream(f"{invoke}big", auth)
        elapsed = time.perf_counter() - started
        growth = rss_peak(server.pid) - before
        assert received == stream_mb * MB, received
        print(
            f"{stream_mb} MB through dockyard in {elapsed:.1f} s; "
            f"peak RSS grew {growth / MB:.1f} MB"
        )
    finally:
        stop_workloads(base, auth, created)  # their processes outlive the server by design
        processes.stop()
        shutil.rmtree(work, ignore_errors=True)
    return Found(rows, sse_ms, growth, received, elapsed)


def measures(found: Found) -> list[Measure]:
    """What Dockyard's invoke path makes of the run (the other targets are its references)."""
    by = {row.name: row for row in found.rows}
    dock, nginx, direct = by["dockyard"], by["nginx"], by["direct"]
    return [
        Measure("dockyard req/s (32 conns)", dock.rps, "req/s", "higher"),
        Measure("dockyard p50 (1 conn)", dock.p50_ms, "ms", "lower"),
        Measure("dockyard / nginx throughput", dock.rps / nginx.rps, "×", "higher", "nginx"),
        Measure("p50 added over direct", dock.p50_ms - direct.p50_ms, "ms", "lower", "direct"),
        Measure("SSE first byte (median)", found.sse_ms, "ms", "lower"),
        Measure("peak RSS growth while streaming", found.growth / MB, "MB", "lower"),
        Measure("streaming", found.stream_bytes / found.stream_seconds / MB, "MB/s", "higher"),
    ]


def render(found: Found, seconds: int, rounds: int) -> str:
    rows, sse_ms, growth = found.rows, found.sse_ms, found.growth
    by = {row.name: row for row in rows}
    dock, nginx, direct = by["dockyard"], by["nginx"], by["direct"]
    naive = by.get("naive")
    size = f"{found.stream_bytes / MB:,.0f} MB" if found.stream_bytes != 1024 * MB else "1 GB"
    when = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    machine = f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"
    added = dock.p50_ms - direct.p50_ms
    vs_nginx = dock.rps / nginx.rps
    naive_check: list[str] = []
    if naive is not None:
        vs_naive = dock.rps / naive.rps
        ok = vs_naive >= 10
        naive_check = [_check("dockyard / naive throughput", vs_naive, "≥ 10×", ok, "×")]
    lines = [
        f"Run {when} on {machine} with `python -m bench.proxy --seconds {seconds} "
        f"--rounds {rounds}`: wrk, {seconds} s at 32 connections (req/s) and at 1 connection "
        f"(p50), best of {rounds} alternating rounds; every target forwards to the same nginx "
        "upstream returning a 6-byte body. Load average at the start: "
        f"{os.getloadavg()[0]:.1f}.",
        "",
        "| target | req/s (32 conns) | p50 (1 conn) |",
        "|---|---:|---:|",
        *(f"| {row.name} | {row.rps:,.0f} | {row.p50_ms:.3f} ms |" for row in rows),
        "",
        "| check | value | target | |",
        "|---|---:|---:|---|",
        *naive_check,
        _check("dockyard / nginx throughput", vs_nginx, "≥ 0.10×", vs_nginx >= 0.10, "×"),
        _check("p50 added over direct", added, "≤ 0.5 ms", added <= 0.5, " ms"),
        _check("SSE first byte (median)", sse_ms, "≤ 10 ms", sse_ms <= 10, " ms"),
        _check(f"peak RSS growth over {size}", growth / MB, "< 50 MB", growth < 50 * MB, " MB"),
        "",
        f"{size} streamed through the invoke path in {found.stream_seconds:.1f} s "
        f"({found.stream_bytes / found.stream_seconds / MB:,.0f} MB/s).",
    ]  # fmt: skip
    return "\n".join(lines)


def _check(name: str, value: float, target: str, ok: bool, unit: str) -> str:
    shown = f"{value:.2f}{unit}" if unit != "×" else f"{value:.2f}×"
    return f"| {name} | {shown} | {target} | {'ok' if ok else 'MISSED'} |"


def write_docs(table: str, path: Path = DOCS) -> None:
    """Replace this benchmark's section only (other benchmarks write their own)."""
    replace_section(path, START, END, "## Proxy", table)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=10, help="length of each wrk run")
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds per target")
    parser.add_argument("--stream-mb", type=int, default=1024, help="size of the streamed body")
    parser.add_argument("--no-naive", action="store_true", help="leave out the naive proxy")
    parser.add_argument("--no-docs", action="store_true", help="print only")
    parser.add_argument("--json", type=Path, help="also write the measures to this file")
    args = parser.parse_args()
    found = run(args.seconds, args.rounds, args.stream_mb, naive=not args.no_naive)
    table = render(found, args.seconds, args.rounds)
    print()
    print(table)
    if args.json:
        write_measures(args.json, "proxy", measures(found))
    if not args.no_docs:
        write_docs(table)
        print(f"\nwritten to {DOCS}")


if __name__ == "__main__":
    main()

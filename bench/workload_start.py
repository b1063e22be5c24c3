"""How fast workloads start and heal, and what the control plane costs while they run.

    python -m bench.workload_start            # full run, rewrites the Workloads results
    python -m bench.workload_start --quick    # fewer rounds, 50 idle workloads, prints only
    python -m bench.workload_start --rounds 1 --idle 30 --window 10 --no-docs --json out.json
                                              # the short run bench.compare makes

(a) start: `POST /workloads` → `running` (readiness probe every 1 s) against the same container
    started directly through the Docker API until its first 200; target ≤ 1.25 × direct + one
    probe period.
(b) heal: a liveness failure (the probed file removed inside the container) → the replacement
    answering again, against periodSeconds × failureThreshold; target within 1 s of it.
(c) idle cost: CPU of the `dockyard serve` process while N workloads sit running on the process
    runtime; target ≤ 5 % of one core at N = 200.

(a) and (b) use a private Podman service: DOCKER_HOST when set, else one started with
scripts/test-podman.sh in a temporary directory (root and podman needed).
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from bench.report import Measure, replace_section, write_measures

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs" / "benchmarks.md"
START = "<!-- bench:workloads:start -->"
END = "<!-- bench:workloads:end -->"
IMAGE = "localhost/dockyard-test-bb:1"
PERIOD = 1.0  # probe period of (a) and (b)
THRESHOLD = 3  # liveness failureThreshold of (b)
WEB = (
    "mkdir -p /tmp/www && echo ok > /tmp/www/healthz && echo ok > /tmp/www/alive && "
    "exec httpd -f -p 8080 -h /tmp/www"
)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def idle_ports(count: int, first: int = 20000) -> list[int]:
    """Distinct free ports below Linux's ephemeral range (32768 up by default).

    `free_port()` draws from that range: 200 draws repeat a port about half the time, and a
    port drawn now may be some connection's source port by the time its workload starts. Either
    way the second workload's command cannot bind and crash-loops, and (c) never settles."""
    ports: list[int] = []
    port = first
    while len(ports) < count:
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
                ports.append(port)
            except OSError:
                pass
        port += 1
    return ports


def poll(what: str, check: Callable[[], Any], timeout: float = 60, every: float = 0.01) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            found = check()
        except (httpx.HTTPError, OSError):
            found = None
        if found:
            return found
        time.sleep(every)
    raise RuntimeError(f"timed out waiting for {what}")


def answers(url: str) -> bool:
    return httpx.get(url, timeout=1).status_code == 200


class Server:
    """`dockyard serve` on a free port with its own data dir."""

    def __init__(self, home: Path, env: dict[str, str]) -> None:
        self.port = free_port()
        self.token = "dy_bench_" + secrets.token_hex(16)
        self.env = {
            **os.environ,
            "DOCKYARD_HOME": str(home),
            "DOCKYARD_ADMIN_TOKEN": self.token,
            **env,
        }
        self.home = home
        home.mkdir(parents=True, exist_ok=True)
        self.process: subprocess.Popen[bytes] | None = None
        self.api = httpx.Client(
            base_url=f"http://127.0.0.1:{self.port}/api/v2",
            headers={"Authorization": f"Bearer {self.token}"},
            timeout=30,
        )

    def __enter__(self) -> Server:
        dockyard = Path(sys.executable).with_name("dockyard")
        with (self.home / "serve.log").open("ab") as log:
            self.process = subprocess.Popen(
                [str(dockyard), "serve", "--port", str(self.port), "--log-level", "warning"],
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        poll("the server", lambda: answers(f"http://127.0.0.1:{self.port}/readyz"), 90, 0.1)
        return self

    def __exit__(self, *_: object) -> None:
        try:
            # Until the engine holds nothing of this server's: its data dir goes with the
            # run, and containers left behind would belong to no installation.
            self.delete_all(self._engine_holds_nothing())
        finally:
            if self.process is not None:
                self.process.send_signal(signal.SIGINT)
                try:
                    self.process.wait(30)
                except subprocess.TimeoutExpired:
                    self.process.kill()

    def delete_all(self, gone: Callable[[], bool] | None = None) -> None:
        """Delete every workload, then wait until the runtime holds nothing of them."""
        while True:
            listed = self.api.get("/workloads", params={"limit": 100}).json()["data"]
            if not listed:
                break
            for workload in listed:
                self.delete(workload["id"])
        if gone is not None:
            poll("the runtime to remove every workload", gone, 300, 0.5)

    def _engine_holds_nothing(self) -> Callable[[], bool] | None:
        url = self.env.get("DOCKER_HOST")
        if self.env.get("DOCKYARD_RUNTIME") != "docker" or not url:
            return None
        import docker

        label = f"dockyard.instance={self.instance}"

        def nothing() -> bool:
            engine = docker.DockerClient(base_url=url)
            try:
                return not engine.containers.list(all=True, filters={"label": label})
            finally:
                engine.close()

        return nothing

    @property
    def instance(self) -> str:
        return (self.home / "instance_id").read_text().strip()

    def create(self, spec: dict[str, Any]) -> dict[str, Any]:
        body = {"artifact": {"name": "bench-" + secrets.token_hex(3), "spec": spec}}
        response = self.api.post("/workloads", json=body)
        response.raise_for_status()
        return response.json()

    def status(self, workload_id: str) -> str:
        return self.api.get(f"/workloads/{workload_id}").json()["status"]

    def address(self, workload: dict[str, Any]) -> str:
        path = f"/workloads/{workload['id']}/protons/{workload['protonId']}/statusDetails"
        return self.api.get(path).json()["replicas"][0]["address"]

    def delete(self, workload_id: str) -> None:
        self.api.delete(f"/workloads/{workload_id}")


def container_spec(**probes: Any) -> dict[str, Any]:
    fast = {"initialDelaySeconds": 0, "periodSeconds": PERIOD, "timeoutSeconds": 1}
    container = {
        "name": "web",
        "primary": True,
        "imageUri": IMAGE,
        "port": 8080,
        "entrypoint": ["sh", "-c", WEB],
        "readinessProbe": {"path": "/healthz", **fast},
    }
    for key, value in probes.items():
        container[key] = {**fast, **value}
    return {"containerGroups": [{"name": "default", "containers": [container]}]}


@contextmanager
def podman() -> Iterator[str]:
    if os.environ.get("DOCKER_HOST"):
        yield os.environ["DOCKER_HOST"]
        return
    if shutil.which("podman") is None or os.geteuid() != 0:
        raise SystemExit("set DOCKER_HOST, or run as root with podman installed")
    directory = tempfile.mkdtemp(prefix="dockyard-bench-podman-", dir="/tmp")
    script = ROOT / "scripts" / "test-podman.sh"
    try:
        out = subprocess.run(
            [script, "start", directory], check=True, capture_output=True, text=True
        )
        yield re.search(r"DOCKER_HOST=(\S+)", out.stdout).group(1)  # type: ignore[union-attr]
    finally:
        subprocess.run([script, "stop", directory], capture_output=True)


# --- (a) start ---------------------------------------------------------------------------------


def direct_start(client: Any) -> float:
    """The same container through the Docker API: create + start to the first 200."""
    port = free_port()
    began = time.perf_counter()
    container = client.containers.run(
        IMAGE, ["sh", "-c", WEB], detach=True, init=True, ports={"8080/tcp": ("127.0.0.1", port)}
    )
    try:
        poll("the direct container", lambda: answers(f"http://127.0.0.1:{port}/healthz"))
        return time.perf_counter() - began
    finally:
        container.remove(force=True)


def dockyard_start(server: Server) -> float:
    began = time.perf_counter()
    workload = server.create(container_spec())
    poll("running", lambda: server.status(workload["id"]) == "running", 120)
    elapsed = time.perf_counter() - began
    server.delete(workload["id"])
    return elapsed


# --- (b) heal ----------------------------------------------------------------------------------


def heal(server: Server, client: Any) -> float:
    """Seconds from the liveness file's removal to the restarted container answering it."""
    workload = server.create(
        container_spec(livenessProbe={"path": "/alive", "failureThreshold": THRESHOLD})
    )
    poll("running", lambda: server.status(workload["id"]) == "running", 120)
    url = f"http://{server.address(workload)}/alive"
    containers = client.containers.list(
        filters={"label": [f"dockyard.workload={workload['id']}", "dockyard.container=web"]}
    )
    began = time.perf_counter()
    containers[0].exec_run(["rm", "/tmp/www/alive"])
    poll("the liveness failure", lambda: not answers(url), 10)
    poll("the replacement answering", lambda: answers(url), 60)
    elapsed = time.perf_counter() - began
    server.delete(workload["id"])
    return elapsed


# --- (c) idle cost -----------------------------------------------------------------------------


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def idle_cost(count: int, window: float, home: Path) -> tuple[float, float]:
    """% of one core used by `dockyard serve` (and by all the shims) with `count` workloads."""
    busybox = shutil.which("busybox") or "/usr/bin/busybox"
    www = home / "www"
    www.mkdir(parents=True, exist_ok=True)
    (www / "index.html").write_text("ok\n")
    env = {"DOCKYARD_RUNTIME": "process"}
    with Server(home / "serve", env) as server:
        for port in idle_ports(count):
            command = [busybox, "httpd", "-f", "-p", str(port), "-h", str(www)]
            spec = {
                "containerGroups": [
                    {
                        "name": "default",
                        "containers": [
                            {
                                "name": "web",
                                "primary": True,
                                "imageUri": IMAGE,
                                "port": port,
                                "entrypoint": command,
                                # A first probe at once can beat httpd to its port and
                                # leave the workload `launching` for a few periods; the
                                # idle cost counted later is the same either way.
                                "readinessProbe": {
                                    "path": "/",
                                    "periodSeconds": 10,
                                    "initialDelaySeconds": 1,
                                },
                            }
                        ],
                    }
                ]
            }
            server.create(spec)

        def all_running() -> bool:
            listed = server.api.get("/workloads", params={"status": "running", "limit": 1})
            return listed.json()["totalCount"] == count

        poll(f"{count} workloads running", all_running, 600, 1.0)
        print(f"idle: {count} workloads running", file=sys.stderr, flush=True)
        assert server.process is not None
        shims = [p for p in _children_named(server.process.pid, "process_shim")]
        began, server_cpu = time.monotonic(), cpu_seconds(server.process.pid)
        shim_cpu = sum(cpu_seconds(p) for p in shims)
        time.sleep(window)
        elapsed = time.monotonic() - began
        server_used = cpu_seconds(server.process.pid) - server_cpu
        shim_used = sum(cpu_seconds(p) for p in shims if Path(f"/proc/{p}").exists()) - shim_cpu
        print("idle: counted", file=sys.stderr, flush=True)
        server.delete_all(lambda: not _children_named(0, str(www)))
        return 100 * server_used / elapsed, 100 * shim_used / elapsed


def _children_named(parent: int, needle: str) -> list[int]:
    del parent  # shims run in their own sessions: found by command line, not by parentage
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if needle in (entry / "cmdline").read_bytes().decode(errors="replace"):
                    found.append(int(entry.name))
            except OSError:
                continue
    return found


# --- report ------------------------------------------------------------------------------------


def render(results: dict[str, Any], plan: dict[str, Any]) -> str:
    when = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    load = os.getloadavg()[0]
    direct, dockyard = results["direct"], results["dockyard"]
    start_target = 1.25 * direct + PERIOD
    heal_expected = PERIOD * THRESHOLD
    rows = [
        f"Run {when} on {platform.machine()} ({os.cpu_count()} cores, load average "
        f"{load:.1f} at the end); medians of {plan['rounds']} rounds.",
        "",
        "| measure | value | target | |",
        "|---|---:|---:|---|",
        f"| (a) direct Docker API start → first 200 | {direct:.2f} s | | |",
        f"| (a) `POST /workloads` → `running` | {dockyard:.2f} s | ≤ {start_target:.2f} s "
        f"(1.25 × direct + {PERIOD:.0f} s) | {_ok(dockyard <= start_target)} |",
        f"| (a) ratio | {dockyard / direct:.2f}× | | |",
        f"| (b) liveness failure → replacement answering | {results['heal']:.2f} s "
        f"| {heal_expected:.0f} s ± 1 s | {_ok(abs(results['heal'] - heal_expected) <= 1)} |",
        f"| (c) `dockyard serve` CPU, {plan['idle']} workloads running | "
        f"{results['server_cpu']:.2f} % of a core | ≤ 5 % | {_ok(results['server_cpu'] <= 5)} |",
        f"| (c) all process shims together | {results['shim_cpu']:.2f} % of a core | | |",
    ]
    return "\n".join(rows)


def _ok(passed: bool) -> str:
    return "ok" if passed else "MISSED"


def measures(results: dict[str, Any]) -> list[Measure]:
    direct, dockyard = results["direct"], results["dockyard"]
    return [
        Measure("(a) POST /workloads → running", dockyard, "s", "lower"),
        Measure("(a) ratio to the direct start", dockyard / direct, "×", "lower", "direct start"),
        Measure("(b) liveness failure → replacement answering", results["heal"], "s", "lower"),
        Measure("(c) dockyard serve CPU, idle workloads", results["server_cpu"], "%", "lower"),
        Measure("(c) process shims CPU", results["shim_cpu"], "%", "lower"),
    ]


def write_docs(table: str) -> None:
    replace_section(DOCS, START, END, "## Workloads", table)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer rounds; print only")
    parser.add_argument("--idle", type=int, help="workloads for (c) (default 200, quick 50)")
    parser.add_argument("--rounds", type=int, help="rounds of (a) and (b) (default 7, quick 3)")
    parser.add_argument("--window", type=float, help="seconds (c) counts (default 60, quick 20)")
    parser.add_argument("--no-docs", action="store_true", help="print only")
    parser.add_argument("--json", type=Path, help="also write the measures to this file")
    args = parser.parse_args()
    plan = {
        "rounds": args.rounds or (3 if args.quick else 7),
        "idle": args.idle or (50 if args.quick else 200),
        "window": args.window or (20.0 if args.quick else 60.0),
    }
    import docker

    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="dockyard-bench-") as tmp, podman() as url:
        client = docker.DockerClient(base_url=url, timeout=60)
        sys.path.insert(0, str(ROOT))
        from tests.support.images import ensure_busybox_image

        ensure_busybox_image(client, IMAGE)
        direct_start(client)  # warm the engine's caches before timing
        results["direct"] = statistics.median(direct_start(client) for _ in range(plan["rounds"]))
        print(f"direct start: {results['direct']:.2f} s", file=sys.stderr)
        home = Path(tmp) / "containers"
        home.mkdir()
        with Server(home, {"DOCKYARD_RUNTIME": "docker", "DOCKER_HOST": url}) as server:
            dockyard_start(server)
            results["dockyard"] = statistics.median(
                dockyard_start(server) for _ in range(plan["rounds"])
            )
            print(f"dockyard start: {results['dockyard']:.2f} s", file=sys.stderr)
            results["heal"] = statistics.median(heal(server, client) for _ in range(plan["rounds"]))
            print(f"heal: {results['heal']:.2f} s", file=sys.stderr)
            label = f"dockyard.instance={server.instance}"
            server.delete_all(
                lambda: not client.containers.list(all=True, filters={"label": label})
            )
            print("containers removed", file=sys.stderr, flush=True)
        results["server_cpu"], results["shim_cpu"] = idle_cost(
            plan["idle"], plan["window"], Path(tmp) / "idle"
        )
    table = render(results, plan)
    print(table)
    if args.json:
        write_measures(args.json, "workload_start", measures(results))
    if not (args.quick or args.no_docs):
        write_docs(table)


if __name__ == "__main__":
    main()

"""What the kubernetes runtime costs the API server and Dockyard, with many workloads running.

    python -m bench.kubernetes                  # 1,000 workloads, rewrites the Kubernetes results
    python -m bench.kubernetes --quick          # 100 workloads, a shorter window, prints only
    python -m bench.kubernetes --workloads 200 --window 20 --no-docs --json out.json

Against the test API server of tests/server/runtimes/kubernetes (resourceVersions, watches; the
benchmark plays the kubelet, marking each pod ready), with `dockyard serve` in a process of its
own on SQLite:

(a) POST /workloads → the Deployment written on the API server, for workloads created one at
    a time once the others run: p50 and p90 of 20 (target: p50 ≤ 100 ms).
(b) API requests per minute at steady state, once every workload is running, over a window,
    by kind: target watches only, no request per workload per pass.
(c) memory of the runtime's watch caches (Deployments, Services, Pods), measured as the deep
    size of the cached objects, per 1,000 workloads.
"""

from __future__ import annotations

import argparse
import os
import platform
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

from bench.report import Measure, replace_section, write_measures
from bench.workload_start import answers, free_port, poll

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs" / "benchmarks.md"
START = "<!-- bench:kubernetes:start -->"
END = "<!-- bench:kubernetes:end -->"
TOKEN = "bench-admin-token-kubernetes-0123456789"
SAMPLES = 20


def deep_size(obj: Any, seen: set[int] | None = None) -> int:
    """Bytes held by a tree of dicts, lists and scalars (each object counted once)."""
    seen = set() if seen is None else seen
    if id(obj) in seen:
        return 0
    seen.add(id(obj))
    size = sys.getsizeof(obj)
    if isinstance(obj, dict):
        size += sum(deep_size(k, seen) + deep_size(v, seen) for k, v in obj.items())
    elif isinstance(obj, list | tuple | set):
        size += sum(deep_size(item, seen) for item in obj)
    return size


@contextmanager
def dockyard(home: Path, kubeconfig: Path) -> Iterator[str]:
    """`dockyard serve` in a process of its own, so the test API server and the kubelet this
    benchmark plays do not share its interpreter."""
    home.mkdir(parents=True)
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("DOCKYARD_")}
    env.update(
        DOCKYARD_HOME=str(home),
        DOCKYARD_ADMIN_TOKEN=TOKEN,
        DOCKYARD_RUNTIME="kubernetes",
        KUBECONFIG=str(kubeconfig),
    )
    env.pop("KUBERNETES_SERVICE_HOST", None)
    command = [str(Path(sys.executable).with_name("dockyard")), "serve", "--port", str(port)]
    with (home / "serve.log").open("ab") as log:
        process = subprocess.Popen(
            [*command, "--log-level", "warning"],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        poll("the server", lambda: answers(f"http://127.0.0.1:{port}/readyz"), 90, 0.1)
        yield f"http://127.0.0.1:{port}"
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(60)
        except subprocess.TimeoutExpired:
            process.kill()


def spec(index: int) -> dict[str, Any]:
    return {
        "containerGroups": [
            {
                "name": "default",
                "containers": [
                    {
                        "name": "web",
                        "primary": True,
                        "imageUri": "registry.example/web:1",
                        "port": 8080,
                        "environmentVars": [{"name": "N", "value": str(index)}],
                        "readinessProbe": {"path": "/healthz", "periodSeconds": 10},
                    }
                ],
            }
        ]
    }


def run(count: int, window: float) -> dict[str, Any]:
    sys.path.insert(0, str(ROOT))
    from tests.server.runtimes.kubernetes.conftest import NAMESPACE, write_kubeconfig
    from tests.server.runtimes.kubernetes.emulator import Emulator
    from tests.server.runtimes.kubernetes.kubelet import Kubelet, PodScript

    from dockyard.server.runtimes.kubernetes.runtime import KubernetesRuntime
    from dockyard.server.settings import Settings

    written: dict[str, float] = {}
    lock = threading.Lock()

    def on_change(kind: str, plural: str, obj: dict[str, Any]) -> None:
        if plural == "deployments" and kind == "ADDED":
            workload = obj["metadata"]["labels"].get("dockyard.io/workload", "")
            with lock:
                written.setdefault(workload, time.perf_counter())

    results: dict[str, Any] = {"workloads": count, "window": window}
    with (
        tempfile.TemporaryDirectory(prefix="dockyard-bench-k8s-") as tmp,
        Emulator(namespaces=(NAMESPACE,)) as emulator,
    ):
        kubelet = Kubelet(emulator)
        kubelet.default = PodScript(serve=False)  # ready without a server: nothing invokes
        emulator.on_change.insert(0, on_change)
        kubeconfig = write_kubeconfig(emulator.url, Path(tmp) / "kubeconfig")
        with dockyard(Path(tmp) / "home", kubeconfig) as url:
            api = httpx.Client(
                base_url=url + "/api/v2", headers={"Authorization": f"Bearer {TOKEN}"}, timeout=60
            )
            artifact = api.post(
                "/artifacts", json={"name": "bench", "spec": spec(0), "status": "locked"}
            ).json()
            started = time.perf_counter()
            for _ in range(count):
                created = api.post("/workloads", json={"artifactId": artifact["id"]})
                assert created.status_code == 201, created.text
            results["create_seconds"] = time.perf_counter() - started
            deadline = time.monotonic() + 600
            while time.monotonic() < deadline:
                running = api.get("/workloads", params={"status": "running", "limit": 1})
                if running.json()["totalCount"] == count:
                    break
                time.sleep(1)
            else:
                raise SystemExit("not every workload got running within 10 minutes")
            results["all_running_seconds"] = time.perf_counter() - started
            time.sleep(2)  # let the last passes settle
            # (a) one at a time on top of the running ones: the latency of a write, not the
            # queue a burst of creations makes.
            delays = []
            for _ in range(SAMPLES):
                before = time.perf_counter()
                created = api.post("/workloads", json={"artifactId": artifact["id"]})
                workload_id = created.json()["id"]
                while workload_id not in written and time.perf_counter() - before < 30:
                    time.sleep(0.001)
                with lock:
                    delays.append(written[workload_id] - before)
                api.delete(f"/workloads/{workload_id}")
            delays.sort()
            results["written_p50_ms"] = statistics.median(delays) * 1000
            results["written_p90_ms"] = delays[int(len(delays) * 0.9) - 1] * 1000
            time.sleep(2)
            emulator.requests.clear()
            time.sleep(window)
            counted = Counter(emulator.requests)
            minutes = window / 60
            results["requests_per_minute"] = sum(counted.values()) / minutes
            results["by_kind"] = {
                f"{method} {what}": n / minutes for (method, what), n in sorted(counted.items())
            }
            # (c) the same caches as the server's, filled by a runtime in this process.
            settings = Settings(home=Path(tmp) / "probe", runtime="kubernetes")
            os.environ["KUBECONFIG"] = str(kubeconfig)
            runtime = KubernetesRuntime.connect(settings)
            try:
                runtime.observe("none")  # waits for the first lists
                cached = [*runtime.deployments.values(), *runtime.services.values()]
                cached += runtime.pods.values()
                results["cache_bytes"] = deep_size(cached)
            finally:
                runtime.close()
            results["cache_mb_per_1000"] = results["cache_bytes"] / count * 1000 / 2**20
            api.close()
        emulator.run(kubelet.close())
    return results


def render(results: dict[str, Any]) -> str:
    kinds = ", ".join(f"{k}: {v:.1f}" for k, v in results["by_kind"].items()) or "none"
    return "\n".join(
        [
            f"Run {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())} on "
            f"{platform.machine()} {platform.system()}, Python {platform.python_version()}, "
            f"{os.cpu_count()} cores shared with other work; {results['workloads']:,} workloads "
            f"on one locked artifact, SQLite, a {results['window']:g} s steady-state window.",
            "",
            "| measure | value | target |",
            "|---|---:|---|",
            f"| (a) POST → Deployment written, p50 | {results['written_p50_ms']:.1f} ms "
            "| ≤ 100 ms |",
            f"| (a) POST → Deployment written, p90 | {results['written_p90_ms']:.1f} ms | |",
            f"| (b) API requests per minute at steady state | {results['requests_per_minute']:.1f}"
            " | watches only |",
            f"| (c) watch caches per 1,000 workloads | {results['cache_mb_per_1000']:.1f} MiB | |",
            f"| creating them all (sequential POSTs) | {results['create_seconds']:.1f} s | |",
            f"| until every one is running | {results['all_running_seconds']:.1f} s | |",
            "",
            f"Requests in the window, per minute by kind: {kinds}.",
        ]
    )


def measures(results: dict[str, Any]) -> list[Measure]:
    return [
        Measure("(a) POST → Deployment written p50", results["written_p50_ms"], "ms", "lower"),
        Measure("(b) API requests per minute", results["requests_per_minute"], "/min", "lower"),
        Measure("(c) watch caches per 1,000", results["cache_mb_per_1000"], "MiB", "lower"),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="100 workloads; print only")
    parser.add_argument("--workloads", type=int, help="workloads (default 1000, quick 100)")
    parser.add_argument("--window", type=float, help="steady-state seconds (default 60, quick 20)")
    parser.add_argument("--no-docs", action="store_true", help="print only")
    parser.add_argument("--json", type=Path, help="also write the measures to this file")
    args = parser.parse_args()
    count = args.workloads or (100 if args.quick else 1000)
    window = args.window or (20.0 if args.quick else 60.0)
    results = run(count, window)
    table = render(results)
    print(table)
    if args.json:
        write_measures(args.json, "kubernetes", measures(results))
    if not (args.quick or args.no_docs):
        replace_section(DOCS, START, END, "## Kubernetes runtime", table)


if __name__ == "__main__":
    main()

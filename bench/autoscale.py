"""How fast autoscaling reacts, and whether a request fails while it does.

    python -m bench.autoscale            # full run, rewrites the Autoscaling results
    python -m bench.autoscale --quick    # fewer rounds, prints only

Every ratio is taken against the same container started bare in the same run (`podman run`
through the engine's API, published port, until its first 200), so a busy machine moves both.

(a) wake: a workload scaled to zero (readiness probe with `initialDelaySeconds: 0`), one
    request: its first response ÷ the bare start. Target ≤ 1.5 (goal 1.1).
(b) scale-up: a load step (four clients against a target of one request in flight per
    replica) until the added replica serves (`currentReplicaCount` 2), minus one probe period,
    ÷ the bare start. Target ≤ 2.
(c) failed requests: non-200 answers to a steady load during a scale-up and the scale-down
    after it. Target 0.

It uses a private Podman service: DOCKER_HOST when set, else one started with
scripts/test-podman.sh in a temporary directory (root and podman needed).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from bench.report import Measure, replace_section, write_measures
from bench.workload_start import IMAGE, PERIOD, Server, direct_start, podman, poll

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs" / "benchmarks.md"
START = "<!-- bench:autoscale:start -->"
END = "<!-- bench:autoscale:end -->"
SLOW_SECONDS = 0.5  # what the slow handler sleeps per request
CLIENTS = 4
# busybox httpd with a CGI handler that sleeps before it answers (CRLF header lines).
_CGI = (
    f"#!/bin/sh\nsleep {SLOW_SECONDS:g}\n"
    "printf 'Content-Type: text/plain\\r\\nContent-Length: 3\\r\\n\\r\\nok\\n'\n"
)
WEB = (
    "mkdir -p /tmp/www/cgi-bin && echo ok > /tmp/www/healthz && "
    f"cat > /tmp/www/cgi-bin/slow <<'EOF'\n{_CGI}EOF\n"
    "chmod +x /tmp/www/cgi-bin/slow && exec httpd -f -p 8080 -h /tmp/www"
)
SETTINGS = {
    "DOCKYARD_SCALE_DOWN_STABILIZATION_SECONDS": "3",
    "DOCKYARD_SCALE_TO_ZERO_IDLE_SECONDS": "3",
    "DOCKYARD_DRAIN_SECONDS": "10",
    "DOCKYARD_LOAD_REPORT_SECONDS": "0.25",
    "DOCKYARD_SCALE_INTERVAL_SECONDS": "0.5",
    "DOCKYARD_RECONCILE_SWEEP_SECONDS": "1",
}


def scaled_spec() -> dict[str, Any]:
    probe = {"path": "/healthz", "initialDelaySeconds": 0, "periodSeconds": PERIOD}
    container = {
        "name": "web",
        "primary": True,
        "imageUri": IMAGE,
        "port": 8080,
        "entrypoint": ["sh", "-c", WEB],
        "readinessProbe": {**probe, "timeoutSeconds": 1},
    }
    return {"containerGroups": [{"name": "default", "containers": [container]}]}


def create_scaled(server: Server, low: int) -> dict[str, Any]:
    scaling = {
        "minReplicaCount": low,
        "maxReplicaCount": 3,
        "policies": [{"scalingMetric": "httpRequestsConcurrency", "target": 1}],
    }
    body = {
        "artifact": {"name": "bench-scaled", "spec": scaled_spec()},
        "runtime": {"containerGroups": [{"name": "default", "autoscaling": scaling}]},
    }
    response = server.api.post("/workloads", json=body)
    response.raise_for_status()
    return response.json()


def group(server: Server, workload_id: str) -> dict[str, Any]:
    found: dict[str, Any] = server.api.get(f"/workloads/{workload_id}").json()
    return found["runtime"]["containerGroups"][0]


def wait_for_zero(server: Server, engine: Any, workload_id: str) -> None:
    """Until the workload is at zero and none of its own containers runs (a replica still
    draining would answer at once, which is no cold start; a parked one must start). A parked
    replica's infra container, which only holds its network namespace, runs on."""

    def at_zero() -> bool:
        g = group(server, workload_id)
        if g["desiredReplicaCount"] != 0 or g["currentReplicaCount"] != 0:
            return False
        labels = f"dockyard.workload={workload_id}"
        running = engine.containers.list(filters={"label": labels})
        return all(c.labels.get("dockyard.role") == "infra" for c in running)

    poll("the workload at zero", at_zero, 120, 0.1)


# --- (a) wake ----------------------------------------------------------------------------------


def wake(server: Server, engine: Any, workload: dict[str, Any]) -> float:
    wait_for_zero(server, engine, workload["id"])
    began = time.perf_counter()
    answer = httpx.get(
        workload["endpoint"] + "healthz",
        headers={"Authorization": f"Bearer {server.token}"},
        timeout=120,
    )
    elapsed = time.perf_counter() - began
    if answer.status_code != 200:
        raise RuntimeError(f"the wake answered {answer.status_code}: {answer.text}")
    return elapsed


# --- (b) and (c) scale-up, scale-down ------------------------------------------------------------


class Load:
    """`clients` threads sending one slow request after another; every status kept."""

    def __init__(self, server: Server, url: str, clients: int) -> None:
        self.url = url
        self.token = server.token
        self.statuses: list[int] = []
        self.failures: list[str] = []  # what each failed request answered
        self._stop = threading.Event()
        self._pool = ThreadPoolExecutor(clients)
        for _ in range(clients):
            self._pool.submit(self._run)

    def _run(self) -> None:
        with httpx.Client(headers={"Authorization": f"Bearer {self.token}"}, timeout=60) as c:
            while not self._stop.is_set():
                try:
                    answer = c.get(self.url)
                except httpx.HTTPError as exc:
                    self.statuses.append(0)
                    self.failures.append(repr(exc))
                    continue
                self.statuses.append(answer.status_code)
                if answer.status_code != 200:
                    self.failures.append(f"{answer.status_code} {answer.text[:200]}")

    def stop(self) -> None:
        self._stop.set()
        self._pool.shutdown(wait=True)

    @property
    def failed(self) -> int:
        return sum(1 for status in self.statuses if status != 200)


def scale_up_and_down(server: Server, workload: dict[str, Any]) -> tuple[float, int, int, int]:
    """Seconds from the load step to the second replica serving; failures up and down, and
    how many requests were sent in all."""
    workload_id = workload["id"]
    poll("one replica serving", lambda: group(server, workload_id)["currentReplicaCount"] == 1)
    url = workload["endpoint"] + "cgi-bin/slow"
    began = time.perf_counter()
    load = Load(server, url, CLIENTS)
    try:
        poll("a second replica", lambda: group(server, workload_id)["currentReplicaCount"] >= 2,
             120, 0.05)  # fmt: skip
        step = time.perf_counter() - began
        time.sleep(2.0)
    finally:
        load.stop()
    up_failed = load.failed
    for failure in load.failures:
        print(f"  failed during the scale-up: {failure}", file=sys.stderr)
    # A steady trickle while the extra replicas drain away.
    trickle = Load(server, url, 1)
    try:
        poll("back to one replica", lambda: group(server, workload_id)["desiredReplicaCount"] == 1
             and group(server, workload_id)["currentReplicaCount"] == 1, 120, 0.2)  # fmt: skip
        time.sleep(2.0)
    finally:
        trickle.stop()
    for failure in trickle.failures:
        print(f"  failed during the scale-down: {failure}", file=sys.stderr)
    return step, up_failed, trickle.failed, len(load.statuses) + len(trickle.statuses)


# --- the run -----------------------------------------------------------------------------------


def render(results: dict[str, Any], plan: dict[str, Any]) -> str:
    when = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    bare = results["bare"]
    wake_ratio = results["wake"] / bare
    step_ratio = max(results["step"] - PERIOD, 0.0) / bare
    failed = results["failed_up"] + results["failed_down"]
    lines = [
        f"Run {when}, {plan['rounds']} rounds (medians), on a shared, busy machine.",
        "",
        "| measure | value | ratio to the bare start | target |",
        "|---|---:|---:|---|",
        f"| bare `podman run` start to first 200 | {bare:.2f} s | 1 | |",
        f"| (a) first response from zero | {results['wake']:.2f} s | {wake_ratio:.2f} | "
        f"≤ 1.5 (goal 1.1): {'ok' if wake_ratio <= 1.5 else 'MISSED'} |",
        f"| (b) load step to the added replica serving, less one probe period | "
        f"{results['step']:.2f} s − {PERIOD:g} s | {step_ratio:.2f} | "
        f"≤ 2: {'ok' if step_ratio <= 2 else 'MISSED'} |",
        f"| (c) failed requests during scale-up / scale-down | {results['failed_up']} / "
        f"{results['failed_down']} of {results['requests']} | | 0: "
        f"{'ok' if failed == 0 else 'MISSED'} |",
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer rounds; print only")
    parser.add_argument("--rounds", type=int, help="rounds (default 5, quick 2)")
    parser.add_argument("--no-docs", action="store_true", help="print only")
    parser.add_argument("--json", type=Path, help="also write the measures to this file")
    args = parser.parse_args()
    plan = {"rounds": args.rounds or (2 if args.quick else 5)}
    import docker

    bare, wakes, steps, failed_up, failed_down, requests = [], [], [], 0, 0, 0
    with tempfile.TemporaryDirectory(prefix="dockyard-bench-") as tmp, podman() as url:
        client = docker.DockerClient(base_url=url, timeout=60)
        sys.path.insert(0, str(ROOT))
        from tests.support.images import ensure_busybox_image

        ensure_busybox_image(client, IMAGE)
        direct_start(client)  # warm the engine's caches before timing
        home = Path(tmp) / "home"
        env = {"DOCKYARD_RUNTIME": "docker", "DOCKER_HOST": url, **SETTINGS}
        with Server(home, env) as server:
            for round_ in range(plan["rounds"]):
                bare.append(direct_start(client))
                workload = create_scaled(server, low=0)
                wakes.append(wake(server, client, workload))
                step, up, down, sent = scale_up_and_down(server, workload)
                steps.append(step)
                failed_up += up
                failed_down += down
                requests += sent
                server.delete(workload["id"])
                print(
                    f"round {round_ + 1}: bare {bare[-1]:.2f} s, wake {wakes[-1]:.2f} s, "
                    f"step {step:.2f} s, failed {up}/{down}",
                    file=sys.stderr,
                )
    results = {
        "bare": statistics.median(bare),
        "wake": statistics.median(wakes),
        "step": statistics.median(steps),
        "failed_up": failed_up,
        "failed_down": failed_down,
        "requests": requests,
    }
    text = render(results, plan)
    print(text)
    if args.json:
        write_measures(
            args.json,
            "autoscale",
            [
                Measure("wake ÷ bare start", results["wake"] / results["bare"], "ratio", "lower",
                        "bare start"),
                Measure("scale-up ÷ bare start",
                        max(results["step"] - PERIOD, 0) / results["bare"], "ratio", "lower",
                        "bare start"),
                Measure("failed requests", failed_up + failed_down, "requests", "lower"),
            ],
        )  # fmt: skip
    if not args.quick and not args.no_docs:
        replace_section(DOCS, START, END, "## Autoscaling", text)


if __name__ == "__main__":
    main()

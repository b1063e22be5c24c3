"""How fast a task runs to its end, and what a hostile task costs its neighbours.

    python -m bench.task                 # full run, rewrites the Tasks results
    python -m bench.task --quick         # fewer rounds, prints only
    python -m bench.task --runs 10 --no-docs --json out.json

(a) round trip of a trivial task: `POST /workloads` → `succeeded` seen by a poller every
    50 ms → its logs read → deleted, against `podman run --rm` of the same image and command
    on the same engine (the Docker API's run with remove); p50 and p95. Target ≤ 1.5×.
(b) burst: 20 tasks submitted at once until all have succeeded, against the same 20 runs in
    parallel on the engine. Target ≤ 1.5×.
(c) neighbours: invoke p50 of a small web service while a fork bomb task, then an endless
    loop task, runs beside it (pids limit, one CPU), against its idle p50. Target ≤ 2×.

Runs on a private Podman service: DOCKER_HOST when set, else one started with
scripts/test-podman.sh in a temporary directory (root and podman needed).
"""

from __future__ import annotations

import argparse
import platform
import statistics
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.report import Measure, replace_section, write_measures
from bench.workload_start import IMAGE, Server, container_spec, podman, poll

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs" / "benchmarks.md"
START = "<!-- bench:tasks:start -->"
END = "<!-- bench:tasks:end -->"
COMMAND = ["sh", "-c", "echo result=42"]
# `exec`: once the pids limit is reached, the shell could not fork a `sleep`.
FORK_BOMB = "f(){ f & f & }; f 2>/dev/null; exec sleep 3600"
ENDLESS = "while :; do :; done"
ROUND_TRIP_TARGET = 1.5
BURST_TARGET = 1.5
NEIGHBOUR_TARGET = 2.0
POLL_SECONDS = 0.05


def task_spec(command: list[str]) -> dict[str, Any]:
    container = {"name": "main", "primary": True, "imageUri": IMAGE, "entrypoint": command}
    return {"containerGroups": [{"name": "default", "containers": [container]}]}


def task_body(command: list[str], cpu: float | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"artifact": {"name": "bench-task", "spec": task_spec(command)}}
    if cpu is not None:
        sized = {"name": "main", "resourceAllocation": {"cpu": cpu, "memory": "256MB"}}
        body["runtime"] = {"containerGroups": [{"name": "default", "containers": [sized]}]}
    return body


def submit(server: Server, command: list[str], cpu: float | None = None) -> str:
    response = server.api.post("/workloads", json=task_body(command, cpu))
    response.raise_for_status()
    return response.json()["id"]


def finished(server: Server, workload_id: str) -> bool:
    status = server.api.get(f"/workloads/{workload_id}").json()["status"]
    if status in ("failed", "errored", "stopped", "terminated"):
        raise RuntimeError(f"task {workload_id} ended {status}")
    return status == "succeeded"


# --- (a) round trip ----------------------------------------------------------------------------


def dockyard_round_trip(server: Server) -> float:
    began = time.perf_counter()
    workload_id = submit(server, COMMAND)
    poll("the task to succeed", lambda: finished(server, workload_id), 120, POLL_SECONDS)
    logs = server.api.get(f"/workloads/{workload_id}/logs").json()["data"]
    assert [entry["message"] for entry in logs] == ["result=42"], logs
    server.api.delete(f"/workloads/{workload_id}").raise_for_status()
    return time.perf_counter() - began


def direct_run(client: Any) -> bytes:
    """What `podman run --rm` does through the API: create, start, wait for the end, read the
    output, remove. The output is read once the program ended: Podman 4's attached log stream
    (what the SDK's `containers.run` follows) can hang forever when a container ends while
    it attaches, which would stall the baseline, not measure it."""
    container = client.containers.create(IMAGE, COMMAND, init=True)
    try:
        container.start()
        container.wait()
        output: bytes = container.logs()
    finally:
        container.remove(force=True)
    return output


def direct_round_trip(client: Any) -> float:
    began = time.perf_counter()
    output = direct_run(client)
    assert output.strip() == b"result=42", output
    return time.perf_counter() - began


# --- (b) burst ---------------------------------------------------------------------------------


def dockyard_burst(server: Server, count: int) -> float:
    began = time.perf_counter()
    with ThreadPoolExecutor(max_workers=count) as pool:
        ids = list(pool.map(lambda _: submit(server, COMMAND), range(count)))
    for workload_id in ids:
        poll("the burst to succeed", lambda w=workload_id: finished(server, w), 300, POLL_SECONDS)
    elapsed = time.perf_counter() - began
    for workload_id in ids:
        server.api.delete(f"/workloads/{workload_id}")
    return elapsed


def direct_burst(client: Any, count: int) -> float:
    began = time.perf_counter()
    with ThreadPoolExecutor(max_workers=count) as pool:
        list(pool.map(lambda _: direct_run(client), range(count)))
    return time.perf_counter() - began


# --- (c) neighbours ----------------------------------------------------------------------------


def running(server: Server, workload_id: str) -> bool:
    status = server.status(workload_id)
    if status in ("succeeded", "failed", "errored", "stopped", "terminated"):
        raise RuntimeError(f"the hostile task {workload_id} ended {status} before it was measured")
    return status == "running"


def invoke_p50(server: Server, workload_id: str, requests: int) -> float:
    url = f"/endpoints/workloads/{workload_id}/healthz"
    times = []
    for _ in range(requests):
        began = time.perf_counter()
        server.api.get(url).raise_for_status()
        times.append(time.perf_counter() - began)
    return statistics.median(times)


def neighbours(server: Server, requests: int) -> dict[str, float]:
    web = server.create(container_spec())
    poll("the neighbour to run", lambda: server.status(web["id"]) == "running", 120, 0.1)
    invoke_p50(server, web["id"], 20)  # warm the connection pool
    found = {"idle": invoke_p50(server, web["id"], requests)}
    for name, script in (("fork bomb", FORK_BOMB), ("endless loop", ENDLESS)):
        hostile = submit(server, ["sh", "-c", script], cpu=1.0)
        poll("the hostile task to run", lambda h=hostile: running(server, h), 120)
        time.sleep(2)  # let it spread
        found[name] = invoke_p50(server, web["id"], requests)
        server.api.delete(f"/workloads/{hostile}")
    server.delete(web["id"])
    return found


# --- the report --------------------------------------------------------------------------------


def quantiles(values: list[float]) -> tuple[float, float]:
    ordered = sorted(values)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return statistics.median(ordered), p95


def render(results: dict[str, Any], plan: dict[str, Any]) -> str:
    d50, d95 = results["dockyard_p50"], results["dockyard_p95"]
    p50, p95 = results["direct_p50"], results["direct_p95"]
    burst, direct_burst_s = results["burst"], results["direct_burst"]
    idle = results["neighbours"]["idle"]
    rows = [
        "| Measure | Dockyard | Engine alone | Ratio | Target |",
        "|---|---|---|---|---|",
        f"| (a) trivial task round trip, p50 | {d50 * 1000:.0f} ms | {p50 * 1000:.0f} ms | "
        f"{d50 / p50:.2f}× | ≤ {ROUND_TRIP_TARGET}× {_ok(d50 / p50 <= ROUND_TRIP_TARGET)} |",
        f"| (a) trivial task round trip, p95 | {d95 * 1000:.0f} ms | {p95 * 1000:.0f} ms | "
        f"{d95 / p95:.2f}× | ≤ {ROUND_TRIP_TARGET}× {_ok(d95 / p95 <= ROUND_TRIP_TARGET)} |",
        f"| (b) {plan['burst']} tasks at once, all done | {burst:.2f} s | {direct_burst_s:.2f} s | "
        f"{burst / direct_burst_s:.2f}× | ≤ {BURST_TARGET}× "
        f"{_ok(burst / direct_burst_s <= BURST_TARGET)} |",
    ]
    for name in ("fork bomb", "endless loop"):
        value = results["neighbours"][name]
        article = "an" if name[0] in "aeiou" else "a"
        rows.append(
            f"| (c) neighbour invoke p50 during {article} {name} | {value * 1000:.1f} ms | idle "
            f"{idle * 1000:.1f} ms | {value / idle:.2f}× | ≤ {NEIGHBOUR_TARGET}× "
            f"{_ok(value / idle <= NEIGHBOUR_TARGET)} |"
        )
    when = datetime.now(UTC).strftime("%Y-%m-%d")
    head = (
        f"Run {when} on {platform.machine()} ({plan['runs']} round trips a side, a burst of "
        f"{plan['burst']}, {plan['requests']} invokes per neighbour measure), Podman "
        "through its Docker API, on a machine shared with other work: the numbers move "
        "between runs.\n\n"
    )
    return head + "\n".join(rows) + "\n"


def _ok(passed: bool) -> str:
    return "ok" if passed else "MISSED"


def measures(results: dict[str, Any]) -> list[Measure]:
    idle = results["neighbours"]["idle"]
    ratios = [
        ("task round trip p50 / podman run", results["dockyard_p50"] / results["direct_p50"]),
        ("task round trip p95 / podman run", results["dockyard_p95"] / results["direct_p95"]),
        ("task burst / podman runs", results["burst"] / results["direct_burst"]),
        ("neighbour p50 fork bomb / idle", results["neighbours"]["fork bomb"] / idle),
        ("neighbour p50 endless loop / idle", results["neighbours"]["endless loop"] / idle),
    ]
    return [Measure(name, value, "×", "lower", "same run") for name, value in ratios]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer rounds; prints only")
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--burst", type=int, default=20)
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--no-docs", action="store_true", help="do not rewrite benchmarks.md")
    parser.add_argument("--json", type=Path, help="write the measures here (bench.compare)")
    args = parser.parse_args()
    plan = {
        "runs": 8 if args.quick else args.runs,
        "burst": 10 if args.quick else args.burst,
        "requests": 50 if args.quick else args.requests,
    }
    import docker

    with podman() as url, tempfile.TemporaryDirectory(prefix="dockyard-bench-task-") as home:
        client = docker.DockerClient(base_url=url, timeout=120)
        from tests.support.images import ensure_busybox_image

        ensure_busybox_image(client, IMAGE)
        env = {"DOCKYARD_RUNTIME": "docker", "DOCKER_HOST": url}
        with Server(Path(home), env) as server:
            direct_round_trip(client)  # warm the engine's image cache
            dockyard_round_trip(server)
            mine, theirs = [], []
            for _ in range(plan["runs"]):
                theirs.append(direct_round_trip(client))
                mine.append(dockyard_round_trip(server))
            results: dict[str, Any] = {}
            results["dockyard_p50"], results["dockyard_p95"] = quantiles(mine)
            results["direct_p50"], results["direct_p95"] = quantiles(theirs)
            results["direct_burst"] = direct_burst(client, plan["burst"])
            results["burst"] = dockyard_burst(server, plan["burst"])
            results["neighbours"] = neighbours(server, plan["requests"])
    table = render(results, plan)
    print(table)
    if args.json:
        write_measures(args.json, "task", measures(results))
    if not args.quick and not args.no_docs:
        replace_section(DOCS, START, END, "## Tasks", table)


if __name__ == "__main__":
    main()

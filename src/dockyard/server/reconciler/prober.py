"""Runs probes against replicas: HTTP GET (2xx/3xx passes) or a TCP connect."""

from __future__ import annotations

import socket
import ssl
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from http.client import HTTPSConnection

from dockyard.server.reconciler.probes import ProbeSpec
from dockyard.server.runtimes.base import RuntimeAnswersProbes

_BREAKS = ("\r", "\n", "\x00")


def run_probe(spec: ProbeSpec, host: str) -> tuple[bool, str | None]:
    """One probe attempt; returns (passed, why it failed)."""
    try:
        if spec.path is None:
            with socket.create_connection((host, spec.port), timeout=spec.timeout):
                return True, None
        return _http(spec, host)
    except (OSError, ValueError) as exc:
        why = str(exc) or type(exc).__name__
        return False, f"{spec.kind} probe on port {spec.port} failed: {why}"


def _http(spec: ProbeSpec, host: str) -> tuple[bool, str | None]:
    status = _plain_status(spec, host) if spec.scheme != "HTTPS" else _https_status(spec, host)
    if 200 <= status < 400:
        return True, None
    return False, f"{spec.kind} probe GET {spec.path} on port {spec.port} answered {status}"


def _plain_status(spec: ProbeSpec, host: str) -> int:
    """The status code of one GET over plain HTTP, read from the status line alone.

    A server with hundreds of replicas probes many times a second, and only the code counts:
    writing the request and reading the first line by hand costs a fraction of http.client,
    which parses every header of the answer."""
    headers = dict(spec.headers)
    # The API refuses these; a spec stored before it did must not smuggle a second request.
    texts = [spec.path or "", *(part for pair in spec.headers for part in pair)]
    if any(bad in text for text in texts for bad in _BREAKS):
        raise ValueError("its path or headers hold a line break or NUL; nothing was sent")
    lines = [f"GET {spec.path or '/'} HTTP/1.1"]
    if not any(name.lower() == "host" for name in headers):
        lines.append(f"Host: {host}:{spec.port}")
    lines += [f"{name}: {value}" for name, value in headers.items()]
    lines += ["Accept: */*", "Connection: close", "", ""]
    with socket.create_connection((host, spec.port), timeout=spec.timeout) as connection:
        connection.sendall("\r\n".join(lines).encode("latin-1"))
        answer = b""
        while b"\r\n" not in answer and len(answer) < 8192:
            chunk = connection.recv(4096)
            if not chunk:
                break
            answer += chunk
    version, _, rest = answer.partition(b"\r\n")[0].partition(b" ")
    code = rest[:3]
    if not version.startswith(b"HTTP/") or not code.isdigit():
        raise ValueError(f"not an HTTP answer: {answer[:40]!r}")
    return int(code)


def _https_status(spec: ProbeSpec, host: str) -> int:
    # Probes check liveness, not identity: self-signed certificates are normal here.
    context = ssl._create_unverified_context()  # noqa: S323
    connection = HTTPSConnection(host, spec.port, timeout=spec.timeout, context=context)
    try:
        connection.request("GET", spec.path or "/", headers=dict(spec.headers))
        return connection.getresponse().status
    finally:
        connection.close()


@dataclass(frozen=True)
class ProbeJob:
    spec: ProbeSpec
    host: str
    proton_id: str
    group: str
    index: int


class Prober:
    """Runs a batch of probes in parallel so one slow replica does not delay the others."""

    def __init__(self, workers: int = 16) -> None:
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="dockyard-probe")

    def run(self, jobs: list[ProbeJob]) -> list[tuple[bool, str | None]]:
        if not jobs:
            return []
        if len(jobs) == 1:
            return [run_probe(jobs[0].spec, jobs[0].host)]
        return list(self._pool.map(lambda job: run_probe(job.spec, job.host), jobs))

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)


class RuntimeProber(Prober):
    """For runtimes that answer probes themselves (the in-memory test runtime)."""

    def __init__(self, runtime: RuntimeAnswersProbes) -> None:
        self._runtime = runtime

    def run(self, jobs: list[ProbeJob]) -> list[tuple[bool, str | None]]:
        results: list[tuple[bool, str | None]] = []
        for job in jobs:
            ok = self._runtime.answer_probe(job.proton_id, job.group, job.index, job.spec.kind)
            results.append((ok, None if ok else f"{job.spec.kind} probe failed"))
        return results

    def close(self) -> None:
        return None

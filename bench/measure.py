"""A `dockyard serve` subprocess and a latency sampler for it."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx


@dataclass(frozen=True)
class Measurement:
    p50_ms: float
    p99_ms: float
    requests: int


def _quantile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    index = min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))
    return ordered[index]


def measure(
    client: httpx.Client,
    n: int,
    warmup: int,
    call: Callable[[int], httpx.Response],
    expect: int = 200,
) -> Measurement:
    """Time `n` sequential calls after `warmup` untimed ones; every answer must be `expect`."""
    for i in range(warmup):
        _check(call(-1 - i), expect)
    samples: list[float] = []
    for i in range(n):
        start = time.perf_counter()
        response = call(i)
        samples.append((time.perf_counter() - start) * 1000)
        _check(response, expect)
    return Measurement(_quantile(samples, 0.50), _quantile(samples, 0.99), n)


def measure_side_by_side(
    n: int,
    warmup: int,
    calls: dict[str, tuple[Callable[[int], httpx.Response], int]],
    rounds: int = 6,
) -> dict[str, Measurement]:
    """Time `n` calls of each in alternating rounds: name → (call, expected status).

    On a shared machine the speed drifts within seconds; rounds that take turns let a
    measurement and the floor it is compared with see the same machine."""
    for call, expect in calls.values():
        for i in range(warmup):
            _check(call(-1 - i), expect)
    samples: dict[str, list[float]] = {name: [] for name in calls}
    done = 0
    for round_index in range(rounds):
        size = (n * (round_index + 1)) // rounds - done
        for name, (call, expect) in calls.items():
            for i in range(done, done + size):
                start = time.perf_counter()
                response = call(i)
                samples[name].append((time.perf_counter() - start) * 1000)
                _check(response, expect)
        done += size
    return {
        name: Measurement(_quantile(times, 0.50), _quantile(times, 0.99), len(times))
        for name, times in samples.items()
    }


def _check(response: httpx.Response, expect: int) -> None:
    if response.status_code != expect:
        raise RuntimeError(
            f"{response.request.method} {response.request.url} answered "
            f"{response.status_code}: {response.text[:500]}"
        )


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _serve_command() -> list[str]:
    script = Path(sys.executable).parent / "dockyard"
    if script.exists():
        return [str(script), "serve"]
    return [sys.executable, "-c", "from dockyard.cli.main import app; app()", "serve"]


class Server:
    """`dockyard serve` on a free 127.0.0.1 port, for one database."""

    def __init__(
        self,
        database_url: str,
        home: Path,
        *,
        runtime: str = "process",
        env: dict[str, str] | None = None,
    ) -> None:
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._env = {
            **os.environ,
            "DOCKYARD_HOME": str(home),
            "DOCKYARD_DATABASE_URL": database_url,
            "DOCKYARD_HOST": "127.0.0.1",
            "DOCKYARD_PORT": str(self.port),
            # The benchmark measures the API; no container engine is looked for or touched.
            "DOCKYARD_RUNTIME": runtime,
            **(env or {}),
        }
        self._log = home / "serve.log"
        self._process: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> Server:
        self._log.parent.mkdir(parents=True, exist_ok=True)
        with self._log.open("wb") as log:
            self._process = subprocess.Popen(
                [*_serve_command(), "--log-level", "warning"],
                env=self._env,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise RuntimeError(f"dockyard serve exited:\n{self._log.read_text()[-3000:]}")
            try:
                if httpx.get(f"{self.url}/readyz", timeout=1).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        self.__exit__(None, None, None)
        raise RuntimeError(f"dockyard serve did not become ready:\n{self._log.read_text()[-3000:]}")

    def __exit__(self, *_: object) -> None:
        if self._process is None or self._process.poll() is not None:
            return
        self._process.send_signal(signal.SIGINT)
        try:
            self._process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()

    @contextmanager
    def client(self, token: str) -> Iterator[httpx.Client]:
        headers = {"Authorization": f"Bearer {token}"}
        with httpx.Client(base_url=self.url, headers=headers, timeout=30) as client:
            yield client

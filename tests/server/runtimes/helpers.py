"""Spec factories and polling for runtime tests (real processes and containers need waiting)."""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from typing import TypeVar

import httpx

from dockyard.server.runtimes.base import ContainerSpec, GroupSpec, ProtonSpec

T = TypeVar("T")


def new_instance() -> str:
    return "test-" + secrets.token_hex(6)


def proton(
    instance: str, *containers: ContainerSpec, replicas: int = 1, proton_id: str | None = None
) -> ProtonSpec:
    return ProtonSpec(
        instance_id=instance,
        workload_id="w" + secrets.token_hex(11),
        proton_id=proton_id or "p" + secrets.token_hex(11),
        groups=(GroupSpec("default", tuple(containers), replica_count=replicas),),
    )


def wait_for(check: Callable[[], T | None], timeout: float = 30.0, what: str = "it") -> T:
    """Poll until `check` returns something truthy; fail with `what` after `timeout` s."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.05)


def get(port: int, path: str = "/", timeout: float = 30.0) -> httpx.Response:
    """GET 127.0.0.1:port once it accepts connections."""

    def attempt() -> httpx.Response | None:
        try:
            return httpx.get(f"http://127.0.0.1:{port}{path}", timeout=2)
        except httpx.TransportError:
            return None

    return wait_for(attempt, timeout, f"http://127.0.0.1:{port}{path}")

"""The engine's event stream, read for the moments a container of a workload exits.

A pass that looks at a running task finds its end only when it looks; the engine says so the
moment it happens (`die`, which Podman's filters call `died`). A reconnect asks for what was
missed since the last event read, so an exit during an interruption is still reported.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

import docker

from dockyard.server.runtimes.base import LABEL_WORKLOAD

log = logging.getLogger(__name__)

RECONNECT_SECONDS = 1.0


class ExitWatcher:
    """Calls `notify(workload_id)` from a thread of its own whenever one of the workload's
    containers exits (but the network containers, whose stop follows a member's)."""

    def __init__(
        self,
        client: docker.DockerClient,
        notify: Callable[[str], None],
        *,
        ignore: Callable[[dict[str, str]], bool] = lambda _: False,
    ) -> None:
        self._client = client
        self._notify = notify
        self._ignore = ignore  # a container's labels → whether its exit is of no interest
        self._stream: Any = None
        self._closed = threading.Event()
        self._connected = threading.Event()
        self._since: int | None = None  # unix seconds of the last event read
        self._thread = threading.Thread(
            target=self._run, name="dockyard-engine-events", daemon=True
        )
        self._thread.start()

    @property
    def connected(self) -> bool:
        """Whether exits are being reported now (the stream is open)."""
        return self._connected.is_set()

    def wait_connected(self, timeout: float) -> bool:
        return self._connected.wait(timeout)

    def close(self) -> None:
        self._closed.set()
        stream = self._stream
        if stream is not None:
            try:
                stream.close()
            except Exception:  # noqa: BLE001 - closing a stream that broke already
                log.debug("closing the engine's event stream failed", exc_info=True)
        self._thread.join(5)

    def _run(self) -> None:
        while not self._closed.is_set():
            try:
                self._follow()
            except Exception as error:  # noqa: BLE001 - any break: reconnect, as before
                if not self._closed.is_set():
                    log.warning("engine event stream interrupted (%s); reconnecting", error)
            self._connected.clear()
            self._closed.wait(RECONNECT_SECONDS)

    def _follow(self) -> None:
        # Docker names the event `die`, Podman's filter `died`; either engine ignores the other.
        filters = {"type": ["container"], "event": ["die", "died"]}
        options: dict[str, Any] = {"decode": True, "filters": filters}
        if self._since is not None:
            options["since"] = self._since  # replay what an interruption hid
        self._stream = self._client.api.events(**options)
        self._connected.set()
        if self._closed.is_set():
            return
        for event in self._stream:
            if event.get("Action") not in ("die", "died"):
                continue
            self._since = int(event.get("time") or time.time())
            labels = (event.get("Actor") or {}).get("Attributes") or {}
            workload_id = labels.get(LABEL_WORKLOAD)
            if workload_id and not self._ignore(labels):
                self._notify(workload_id)

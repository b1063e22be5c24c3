"""The output of pods Dockyard deletes while a user still wants it, kept in this server's memory.

The pod log API has nothing once a pod is gone. Two of Dockyard's own stops delete pods whose
output is the point: a service that ended as a task (its program exited before it was ever
ready: its Deployment is scaled to 0, or the kubelet would run the program again and again),
and a task killed while it runs (`stop`, or the run cap: its Job is deleted). Just before,
the runtime reads those pods' logs and keeps them here, until the workload is deleted.

They live in the memory of the Dockyard server that stopped the pods: after that server
restarts, or when another Dockyard replica answers the logs request, they are gone, as every
stopped replica's output is on this runtime (docs/kubernetes.md says so).
"""

from __future__ import annotations

import threading
from collections import OrderedDict

from dockyard.server.runtimes.base import LogLine
from dockyard.server.runtimes.kubernetes.jobs import is_task_pod
from dockyard.server.runtimes.kubernetes.pod_status import replica_of
from dockyard.server.runtimes.kubernetes.watch_cache import Obj

MAX_CHARACTERS_PER_PROTON = 1 << 20  # the newest output of a proton's pods, together
MAX_CHARACTERS = 64 << 20  # over every proton; the protons kept longest go first


def worth_keeping(pod: Obj) -> bool:
    """Whether a pod that a stop is about to delete has output a user still wants: a running
    task's, or one whose primary ended before it was ever ready."""
    if (pod.get("status") or {}).get("phase") in ("Succeeded", "Failed"):
        return False  # an ended Job's pod stays, and an ended Deployment pod is replaced
    if is_task_pod(pod):
        return True
    return replica_of(pod, "", 0, host=None, port=None, tail_lines=0).primary_exited


class KeptOutput:
    """Lines of deleted pods by proton (label value) and pod uid, oldest proton first."""

    def __init__(
        self,
        *,
        per_proton: int = MAX_CHARACTERS_PER_PROTON,
        total: int = MAX_CHARACTERS,
    ) -> None:
        self._per_proton = per_proton
        self._total = total
        self._kept: OrderedDict[str, dict[str, list[LogLine]]] = OrderedDict()
        self._size: dict[str, int] = {}
        self._lock = threading.Lock()

    def keep(self, proton: str, pod_uid: str, lines: list[LogLine]) -> None:
        """Keep a pod's lines (oldest first); the oldest go past the proton's share."""
        with self._lock:
            pods = self._kept.setdefault(proton, {})
            pods[pod_uid] = list(lines)
            size = sum(_size(line) for found in pods.values() for line in found)
            while size > self._per_proton:
                oldest = min(
                    (found for found in pods.values() if found), key=lambda f: f[0].timestamp
                )
                size -= _size(oldest.pop(0))
            self._size[proton] = size
            while sum(self._size.values()) > self._total and len(self._kept) > 1:
                gone, _ = self._kept.popitem(last=False)
                self._size.pop(gone, None)

    def of(self, proton: str) -> dict[str, list[LogLine]]:
        """The kept lines of the proton's pods, by pod uid."""
        with self._lock:
            return {uid: list(lines) for uid, lines in self._kept.get(proton, {}).items()}

    def forget(self, proton: str) -> None:
        with self._lock:
            self._kept.pop(proton, None)
            self._size.pop(proton, None)


def _size(line: LogLine) -> int:
    return len(line.message) + 1

"""The Kubernetes versions Dockyard supports: its objects are checked against each one's schemas.

One list for the runtime, the tests and the docs (docs/kubernetes.md names the same versions).
The oldest is 1.33, where sidecar containers (init containers that keep running) became
generally available: a task's sidecars are such containers, so its Job ends with its primary.
"""

from __future__ import annotations

SUPPORTED_VERSIONS: tuple[str, ...] = ("1.33", "1.34", "1.35", "1.36", "1.37")
OLDEST_SUPPORTED = SUPPORTED_VERSIONS[0]

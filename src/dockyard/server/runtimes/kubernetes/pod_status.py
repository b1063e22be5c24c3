"""What a pod's status says about its replica: phase, readiness, restarts and why it waits.

Pure functions of the pod as the API returns it. The kubelet runs the probes and restarts
containers; Dockyard reads the outcome: the pod's `Ready` condition, the containers' restart
counts, and the reason a container waits (`ErrImagePull`, `CrashLoopBackOff`, …), which the
reconciler turns into `errored` with a reason once it has waited long enough.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from dockyard.server.runtimes.base import ObservedReplica, ReplicaPhase, Waiting
from dockyard.server.runtimes.kubernetes.labels import ANNOTATION_CONTAINERS, ANNOTATION_PRIMARY

Obj = dict[str, Any]

IMAGE_PULL_REASONS = frozenset(
    {"ErrImagePull", "ImagePullBackOff", "InvalidImageName", "ErrImageNeverPull"}
)
# A container that started and keeps failing: the kubelet restarts it after a back-off.
CRASH_REASONS = frozenset({"CrashLoopBackOff", "RunContainerError"})
_MESSAGE_CHARS = 200  # of a termination message's last line, in a workload's message


def moment(text: str | None) -> datetime | None:
    if not text:
        return None
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        return None


def is_terminating(pod: Obj) -> bool:
    return bool(pod["metadata"].get("deletionTimestamp"))


def replica_of(
    pod: Obj, group: str, index: int, *, host: str | None, port: int | None, tail_lines: int
) -> ObservedReplica:
    """The replica a pod is, addressed by (group, index) and reached at (host, port)."""
    status = pod.get("status") or {}
    containers = status.get("containerStatuses") or []
    phase_text = status.get("phase") or "Pending"
    started_at = moment(status.get("startTime")) or moment(pod["metadata"].get("creationTimestamp"))
    replica = ObservedReplica(
        group=group,
        index=index,
        phase=ReplicaPhase.PENDING,
        host=host or "",
        port=port if host else None,
        started_at=started_at,
        restart_count=sum(int(c.get("restartCount") or 0) for c in containers),
        ready=_condition(status, "Ready") is True,
    )
    waiting = _waiting(containers)
    last = _last_exit(containers)
    if last is not None:
        replica.exit_code = last.get("exitCode")
        replica.last_output = (last.get("message") or "").splitlines()[-tail_lines:]
    annotations = pod["metadata"].get("annotations") or {}
    primary = annotations.get(ANNOTATION_PRIMARY)
    ended = primary_end(containers, primary)
    if ended is not None and not replica.ready:
        # The primary ran and exited, and the pod does not serve: what ends a task, and a
        # service without probes that was never ready (the reconciler tells the two apart).
        # The kubelet restarts a Deployment's container, so its latest end may be the last
        # state of a container that runs again.
        replica.primary_exited = True
        replica.exit_code = ended.get("exitCode")
        replica.message = termination_words(shown_name(pod, primary or ""), ended)
        replica.last_output = (ended.get("message") or "").splitlines()[-tail_lines:]
    if phase_text in ("Succeeded", "Failed"):
        # A Deployment's pod ends only when evicted or its node went away; a new one replaces it.
        replica.phase = ReplicaPhase.FAILED
        pod_words = status.get("message") or status.get("reason") or f"pod {phase_text}"
        replica.message = replica.message or pod_words
    elif ended is not None and not replica.ready:
        replica.phase = ReplicaPhase.FAILED
        if waiting is not None and waiting[1] in CRASH_REASONS:
            replica.waiting_reason = Waiting.RESTART_BACKOFF
            replica.message = f"{replica.message}; {waiting[1]}: {waiting[2]}".rstrip(": ")
    elif waiting is not None and waiting[1] in CRASH_REASONS:
        name, reason, message = waiting
        replica.phase = ReplicaPhase.FAILED
        replica.waiting_reason = Waiting.RESTART_BACKOFF
        code = f" (exit code {replica.exit_code})" if replica.exit_code is not None else ""
        replica.message = f"container {name}: {reason}{code}: {message}".rstrip(": ")
    elif phase_text == "Pending" or waiting is not None:
        replica.phase = ReplicaPhase.PENDING
        replica.waiting_reason, replica.message = _why_pending(status, waiting)
    else:
        replica.phase = ReplicaPhase.RUNNING
    replica.ready = replica.phase == ReplicaPhase.RUNNING and bool(replica.ready)
    return replica


def primary_end(containers: list[Obj], primary: str | None) -> Obj | None:
    """How the primary container last ended (`state.terminated`, or `lastState.terminated`
    of one the kubelet restarts), or None while it has never ended."""
    for container in containers:
        if primary is None or container.get("name") != primary:
            continue
        ended = (container.get("state") or {}).get("terminated")
        if ended is None and int(container.get("restartCount") or 0) > 0:
            ended = (container.get("lastState") or {}).get("terminated")
        return dict(ended) if ended else None
    return None


def shown_name(pod: Obj, container: str) -> str:
    """A container's name as the spec spells it (pods carry a DNS-1123 form)."""
    names = json.loads(
        (pod["metadata"].get("annotations") or {}).get(ANNOTATION_CONTAINERS) or "{}"
    )
    return str(names.get(container, container))


def termination_words(container: str, ended: Obj) -> str:
    """One sentence on how a container ended: its exit code, the kubelet's reason when it
    says more than "it exited" (`OOMKilled`, `DeadlineExceeded`, ...), and the last line of
    its termination message (with `FallbackToLogsOnError`, the end of its log)."""
    code = ended.get("exitCode")
    words = f"container {container} exited with code {code}"
    if code is None:
        words = f"container {container} ended"
    reason = ended.get("reason")
    if reason and reason not in ("Completed", "Error"):
        words += f" ({reason})"
    lines = [line.strip() for line in (ended.get("message") or "").splitlines() if line.strip()]
    if lines:
        last = lines[-1]
        words += ": " + (last if len(last) <= _MESSAGE_CHARS else last[:_MESSAGE_CHARS] + "…")
    return words


def placeholder(
    group: str, index: int, phase: ReplicaPhase, since: datetime | None, message: str
) -> ObservedReplica:
    """A replica the Deployment counts that has no pod (yet, or any more when stopped)."""
    return ObservedReplica(
        group=group,
        index=index,
        phase=phase,
        host="",
        started_at=since,
        ready=False,
        message=message,
        waiting_reason=Waiting.CREATING if phase == ReplicaPhase.PENDING else None,
    )


def _why_pending(status: Obj, waiting: tuple[str, str, str] | None) -> tuple[str, str]:
    if waiting is not None:
        name, reason, message = waiting
        words = f"container {name}: {reason}" + (f": {message}" if message else "")
        if reason in IMAGE_PULL_REASONS:
            return Waiting.IMAGE_PULL, words
        return Waiting.CREATING, words
    scheduled = next(
        (c for c in status.get("conditions") or [] if c.get("type") == "PodScheduled"), None
    )
    if scheduled is not None and scheduled.get("status") == "False":
        why = scheduled.get("message") or scheduled.get("reason") or "not scheduled"
        return Waiting.SCHEDULING, f"not scheduled: {why}"
    return Waiting.CREATING, "pod is being created"


def _condition(status: Obj, kind: str) -> bool | None:
    for condition in status.get("conditions") or []:
        if condition.get("type") == kind:
            return bool(condition.get("status") == "True")
    return None


def _waiting(containers: list[Obj]) -> tuple[str, str, str] | None:
    """(container, reason, message) of the first container that waits with a reason."""
    for container in containers:
        waiting = (container.get("state") or {}).get("waiting")
        if waiting and waiting.get("reason") not in (None, "ContainerCreating", "PodInitializing"):
            return container["name"], waiting["reason"], waiting.get("message") or ""
    for container in containers:
        waiting = (container.get("state") or {}).get("waiting")
        if waiting:
            return container["name"], waiting.get("reason") or "Waiting", ""
    return None


def _last_exit(containers: list[Obj]) -> Obj | None:
    """How the last failed container ended (exit code, and its termination message, which
    the kubelet fills with the log's end when the container gives none)."""
    for container in containers:
        state = container.get("state") or {}
        ended = state.get("terminated") or (container.get("lastState") or {}).get("terminated")
        if ended and ended.get("exitCode"):
            return dict(ended)
    return None

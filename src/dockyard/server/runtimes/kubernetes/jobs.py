"""Task protons as `batch/v1` Jobs: run once, followed to their end, never restarted.

A task proton is one Job (`objects.job`: `backoffLimit: 0`, `restartPolicy: Never`) plus the
proton's Secret when it has credentials. Its one replica is the Job's pod: pending until the
pod runs, running while the primary runs, and ended once the primary has terminated
(`primary_exited`, with the primary's exit code) or the Job failed without it (its deadline
passed, the pod was evicted). Sidecars are sidecar containers, which the kubelet stops when
the primary ends.

- A finished Job is kept with its pod, so the task's output stays readable from the pod log
  API until the workload is deleted.
- Stopping a running task deletes its Job with foreground propagation: the pod is killed and
  its output goes with it. A finished task is left as it is.
- Asking for a finished (or stopped) task again runs it again: the old Job is deleted and a new
  one created under the same name, once the old one is gone.

Everything is read from the runtime's watch caches (Jobs and pods); only writes and the one
read of a finished pod's log tail go to the API server.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, cast

import httpx2
from lightkube import ApiError, Client
from lightkube.resources.batch_v1 import Job

from dockyard.server.runtimes.base import (
    ObservedReplica,
    ProtonSpec,
    ReplicaPhase,
    RuntimeFailure,
    RuntimeTemporaryError,
)
from dockyard.server.runtimes.kubernetes import objects
from dockyard.server.runtimes.kubernetes.deletion import delete_with_dependents
from dockyard.server.runtimes.kubernetes.errors import api_failure, unreachable
from dockyard.server.runtimes.kubernetes.labels import (
    ANNOTATION_GROUP,
    ANNOTATION_PRIMARY,
    LABEL_GROUP,
    LABEL_PROTON,
)
from dockyard.server.runtimes.kubernetes.pod_status import (
    is_terminating,
    moment,
    placeholder,
    primary_end,
    replica_of,
    shown_name,
    termination_words,
)
from dockyard.server.runtimes.kubernetes.watch_cache import Obj, WatchCache, plain

# Kubernetes enforces the run cap too (`activeDeadlineSeconds`), this much later than
# Dockyard's own kill, so a task stops even while no Dockyard server runs; the margin lets
# Dockyard's kill, with its own reason, come first.
DEADLINE_MARGIN_SECONDS = 30
_TAILS_KEPT = 1000  # finished pods whose log tail is remembered (it no longer changes)
_ENDED = ("Complete", "Failed")  # a Job's terminal conditions
# How long a Job failed by its pod's failure waits for the pod's own word (its exit code) to
# reach this server's pod watch, which may run behind its Job watch.
POD_WORD_SECONDS = 30


def job_end(job: Obj) -> Obj | None:
    """The Job's terminal condition (`Complete` or `Failed`), or None while it may run."""
    for condition in (job.get("status") or {}).get("conditions") or []:
        if condition.get("type") in _ENDED and condition.get("status") == "True":
            return dict(condition)
    return None


def owned_by(pod: Obj, job: Obj) -> bool:
    uid = job["metadata"].get("uid")
    return any(ref.get("uid") == uid for ref in pod["metadata"].get("ownerReferences") or [])


def is_task_pod(pod: Obj) -> bool:
    """Whether the pod is a Job's: a task's (its replica is index 0 of its group)."""
    return any(ref.get("kind") == "Job" for ref in pod["metadata"].get("ownerReferences") or [])


def task_replica(job: Obj, pod: Obj | None, *, tail_lines: int) -> ObservedReplica:
    """The task's replica as its Job and (newest) pod say: index 0 of the Job's group."""
    meta = job["metadata"]
    annotations = meta.get("annotations") or {}
    group = annotations.get(ANNOTATION_GROUP) or (meta.get("labels") or {}).get(LABEL_GROUP, "")
    if meta.get("deletionTimestamp"):
        return placeholder(group, 0, ReplicaPhase.STOPPED, None, "stopped: its Job is deleted")
    failed = job_end(job)
    failed = failed if failed is not None and failed.get("type") == "Failed" else None
    if pod is None:
        return _without_pod(job, group, failed)
    replica = replica_of(pod, group, 0, host=None, port=None, tail_lines=tail_lines)
    status = pod.get("status") or {}
    primary = (pod["metadata"].get("annotations") or {}).get(ANNOTATION_PRIMARY)
    ended = primary_end(status.get("containerStatuses") or [], primary)
    if ended is not None:
        # A Job's pod never restarts: the primary's end is the task's, ready or not.
        replica.phase = ReplicaPhase.FAILED
        replica.primary_exited = True
        replica.exit_code = ended.get("exitCode")
        replica.message = termination_words(shown_name(pod, primary or ""), ended)
        replica.waiting_reason = None
    elif replica.phase != ReplicaPhase.FAILED and _pod_word_due(failed):
        # The Job controller saw the pod fail before this server's pod watch did: the exit
        # code comes with the pod's next event, so the task has not ended yet here.
        pass
    elif replica.phase == ReplicaPhase.FAILED or failed is not None:
        # The pod ended, or the Job gave up on it, before the primary did: no exit code.
        replica.phase = ReplicaPhase.FAILED
        replica.primary_exited = True
        replica.exit_code = 0 if status.get("phase") == "Succeeded" else None
        replica.waiting_reason = None
    if failed is not None and failed.get("reason") != "BackoffLimitExceeded":
        # The Job's own reason (its deadline, above all) says more than a killed container.
        replica.message = f"{replica.message or 'the task ended'}; {_job_words(failed)}"
    elif replica.primary_exited and not replica.message:
        replica.message = status.get("message") or status.get("reason") or "the pod ended"
    replica.ready = replica.phase == ReplicaPhase.RUNNING  # a task has no probes: it runs
    return replica


def _pod_word_due(failed: Obj | None) -> bool:
    """Whether the Job failed because its pod did (backoffLimit 0: the first failure), so
    recently that the pod's own failure may not have been seen yet."""
    if failed is None or failed.get("reason") != "BackoffLimitExceeded":
        return False
    since = moment(failed.get("lastTransitionTime"))
    return since is not None and (datetime.now(UTC) - since).total_seconds() < POD_WORD_SECONDS


def _without_pod(job: Obj, group: str, failed: Obj | None) -> ObservedReplica:
    ended = job_end(job)
    if ended is None:
        since = moment(job["metadata"].get("creationTimestamp"))
        return placeholder(
            group, 0, ReplicaPhase.PENDING, since, "waiting for the cluster to create the pod"
        )
    replica = placeholder(group, 0, ReplicaPhase.FAILED, None, "")
    replica.primary_exited = True
    replica.exit_code = 0 if failed is None else None
    replica.message = _job_words(failed) if failed is not None else "the task's pod is gone"
    return replica


def _job_words(condition: Obj) -> str:
    reason, message = condition.get("reason") or "Failed", condition.get("message") or ""
    return f"the Job failed ({reason}" + (f": {message})" if message else ")")


class TaskJobs:
    """The Jobs of task protons in one namespace: what the runtime's verbs do for a task."""

    def __init__(
        self,
        client: Client,
        namespace: str,
        server: str,
        *,
        jobs: WatchCache,
        pods: WatchCache,
        max_seconds: float | None,
        read_tail: Callable[[Obj, str, int], list[str]],
    ) -> None:
        self._client = client
        self._namespace = namespace
        self._server = server
        self.jobs = jobs
        self._pods = pods
        self._deadline = (
            int(max_seconds) + DEADLINE_MARGIN_SECONDS if max_seconds is not None else None
        )
        self._read_tail = read_tail  # (pod, container in the pod, lines) → lines of output
        self._tails: OrderedDict[str, list[str]] = OrderedDict()  # pod uid → its log's end

    # --- the verbs ---------------------------------------------------------------------------

    def ensure(self, spec: ProtonSpec, *, tail_lines: int) -> None:
        """Create the task's Job; one that ended (or was stopped) runs again as a new Job."""
        manifest = objects.job(
            spec, namespace=self._namespace, active_deadline_seconds=self._deadline
        )
        name = manifest["metadata"]["name"]
        known = self.jobs.get(name)
        if known is not None:
            if known["metadata"].get("deletionTimestamp"):
                raise self._still_going(name)
            if not self._replica(known, tail_lines=tail_lines).primary_exited:
                return  # it runs, or waits for its pod: nothing to do
            self._delete(name)  # another run: the new Job takes the same name
        try:
            answer = self._client.create(cast(Any, Job).from_dict(manifest))
        except ApiError as exc:
            if exc.status.code != 409:
                raise api_failure(exc, f"creating Job {name}") from None
            # Made by an earlier pass (or another Dockyard server) that did not see the answer,
            # or the old run's Job still being deleted: read which.
            answer = self._read(name)
            if answer is None or plain(answer)["metadata"].get("deletionTimestamp"):
                raise self._still_going(name) from None
        except httpx2.HTTPError as exc:
            raise unreachable(self._server, exc) from None
        self.jobs.remember(plain(answer))

    def observe(self, proton: str, *, tail_lines: int) -> list[ObservedReplica]:
        return [self._replica(job, tail_lines=tail_lines) for job in self.jobs.indexed(proton)]

    def stop(self, proton: str, *, tail_lines: int) -> None:
        """Kill the proton's running task (its Job goes); a finished one stays as it is."""
        for job in self.jobs.indexed(proton):
            if job["metadata"].get("deletionTimestamp"):
                continue
            if not self._replica(job, tail_lines=tail_lines).primary_exited:
                self._delete(job["metadata"]["name"])

    def names(self, proton: str) -> list[str]:
        return [job["metadata"]["name"] for job in self.jobs.indexed(proton)]

    # --- parts -------------------------------------------------------------------------------

    def _replica(self, job: Obj, *, tail_lines: int) -> ObservedReplica:
        pod = self._pod_of(job)
        replica = task_replica(job, pod, tail_lines=tail_lines)
        if replica.primary_exited and pod is not None:
            tail = self._tail(pod, tail_lines)
            if tail:
                replica.last_output = tail
        return replica

    def _pod_of(self, job: Obj) -> Obj | None:
        labels = job["metadata"].get("labels") or {}
        proton = labels.get(LABEL_PROTON, "")
        mine = [
            pod
            for pod in self._pods.indexed(proton)
            if owned_by(pod, job) and not is_terminating(pod)
        ]
        mine.sort(key=lambda pod: pod["metadata"].get("creationTimestamp") or "")
        return mine[-1] if mine else None

    def _tail(self, pod: Obj, lines: int) -> list[str]:
        """The end of a finished pod's primary output, read once (as the docker runtime reads
        an exited container's), so a task's `logTail` has it whatever its exit code."""
        uid = pod["metadata"]["uid"]
        if uid in self._tails:
            return self._tails[uid]
        primary = (pod["metadata"].get("annotations") or {}).get(ANNOTATION_PRIMARY)
        if primary is None:
            return []
        try:
            found = self._read_tail(pod, primary, lines)
        except RuntimeFailure:
            return []  # the termination message stands in; try again at the next look
        self._tails[uid] = found
        while len(self._tails) > _TAILS_KEPT:
            self._tails.popitem(last=False)
        return found

    def _read(self, name: str) -> Job | None:
        try:
            return self._client.get(Job, name, namespace=self._namespace)
        except ApiError as exc:
            if exc.status.code == 404:
                return None
            raise api_failure(exc, f"reading Job {name}") from None
        except httpx2.HTTPError as exc:
            raise unreachable(self._server, exc) from None

    def _delete(self, name: str) -> None:
        delete_with_dependents(
            self._client, Job, name, namespace=self._namespace, server=self._server
        )
        self.jobs.forget(name)

    def _still_going(self, name: str) -> RuntimeTemporaryError:
        return RuntimeTemporaryError(
            f"the previous run's Job {name} is still being deleted", delay=1.0
        )

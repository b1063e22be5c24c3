"""The `kubernetes` runtime: protons as Deployments, Services and Secrets in one namespace
(and a HorizontalPodAutoscaler for a group scaled on CPU: `autoscaler.py`).

Dockyard stays the control plane and the cluster runs the containers: the kubelet probes and
restarts them, and this runtime reports what pod status says (`RuntimeManagesHealth`). What
runs is read from watch caches (`watch_cache.py`), so a reconcile pass costs the API server
nothing; only changes are written: create-or-patch by name, skipped when the object already
carries what Dockyard would write (a digest of it, in an annotation), and re-read and retried
on a conflict.

A replica is a pod. Pods of a Deployment have generated names, so each gets the lowest free
index of its group when first seen, and keeps it while it lives; a pod the Deployment replaces
hands its index to the new one. A replica the Deployment counts that has no pod yet is
reported as pending, and a stopped proton (its Deployments scaled to 0) as stopped replicas.
A task proton is a Job instead (`jobs.py`), whose one pod is its one replica.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import re
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable, Collection, Iterable
from datetime import UTC, datetime, timedelta
from typing import Any, cast

import httpx2
from lightkube import ApiError
from lightkube.core.resource import NamespacedResource
from lightkube.resources.apps_v1 import Deployment
from lightkube.resources.autoscaling_v2 import HorizontalPodAutoscaler
from lightkube.resources.batch_v1 import Job
from lightkube.resources.core_v1 import Event, Pod, Secret, Service
from lightkube.types import PatchType

from dockyard.server.runtimes.base import (
    LogLine,
    ObservedReplica,
    ProtonSpec,
    ReplicaKey,
    ReplicaPhase,
    RuntimeManagesHealth,
    RuntimeNotice,
    RuntimeScale,
    RuntimeScalesGroups,
    RuntimeTemporaryError,
)
from dockyard.server.runtimes.kubernetes import autoscaler, objects
from dockyard.server.runtimes.kubernetes.connection import Connection, check, connect
from dockyard.server.runtimes.kubernetes.deletion import delete_with_dependents
from dockyard.server.runtimes.kubernetes.errors import api_failure as _failure
from dockyard.server.runtimes.kubernetes.errors import unreachable
from dockyard.server.runtimes.kubernetes.jobs import TaskJobs, is_task_pod
from dockyard.server.runtimes.kubernetes.kept_output import KeptOutput, worth_keeping
from dockyard.server.runtimes.kubernetes.labels import (
    ANNOTATION_CONTAINERS,
    ANNOTATION_GROUP,
    ANNOTATION_PORT,
    LABEL_GROUP,
    LABEL_INSTANCE,
    LABEL_PROTON,
    LABEL_WORKLOAD,
    MANAGED_BY,
    MANAGER,
    label_value,
)
from dockyard.server.runtimes.kubernetes.names import PREFIX, secret_name
from dockyard.server.runtimes.kubernetes.pod_status import (
    is_terminating,
    moment,
    placeholder,
    replica_of,
)
from dockyard.server.runtimes.kubernetes.service_proxy import ServiceProxyRelay
from dockyard.server.runtimes.kubernetes.watch_cache import Obj, WatchCache, plain
from dockyard.server.settings import KubernetesRoute, Settings

log = logging.getLogger(__name__)

# What Dockyard last wrote to an object: a digest of its manifest, so an unchanged one is
# not written again.
ANNOTATION_APPLIED = "dockyard.io/applied"
# On a stopped (scaled to 0) Deployment: the count to report as stopped replicas.
ANNOTATION_STOPPED_REPLICAS = "dockyard.io/stopped-replicas"
SYNC_WAIT_SECONDS = 10.0  # the first pass after start waits this long for the first lists
CONFLICT_RETRIES = 3
_KINDS: dict[str, type[NamespacedResource]] = {
    "Deployment": Deployment,
    "Service": Service,
    "Secret": Secret,
    "HorizontalPodAutoscaler": HorizontalPodAutoscaler,
}
_NANOS = re.compile(r"(\.\d{6})\d+")
_SEEN_EVENTS = 10_000  # Event uids remembered, so a relist does not report them again
_NOTICES_KEPT = 50  # per proton, between two passes
_UNPLACED_KEPT = 1000
_UNPLACED_SECONDS = 30.0  # an Event whose object never shows up is dropped after this


class KubernetesRuntime(RuntimeManagesHealth, RuntimeScalesGroups):
    name = "kubernetes"

    def __init__(
        self,
        connection: Connection,
        *,
        route: KubernetesRoute = KubernetesRoute.PODS,
        task_max_seconds: float | None = None,
        scale_down_stabilization_seconds: float = 300.0,
    ) -> None:
        self.connection = connection
        self.namespace = connection.namespace
        self.route = route
        api = connection.client
        self._api = api
        ours = {MANAGED_BY: MANAGER}
        self._notify: Callable[[str], None] | None = None
        self.deployments = WatchCache(
            api,
            Deployment,
            self.namespace,
            labels=ours,
            index_label=LABEL_PROTON,
            on_event=self._on_object_event,
        )
        self.services = WatchCache(
            api, Service, self.namespace, labels=ours, index_label=LABEL_PROTON
        )
        self.pods = WatchCache(
            api,
            Pod,
            self.namespace,
            labels=ours,
            index_label=LABEL_PROTON,
            on_event=self._on_object_event,
        )
        self.jobs = WatchCache(
            api,
            Job,
            self.namespace,
            labels=ours,
            index_label=LABEL_PROTON,
            on_event=self._on_object_event,
        )
        self.tasks = TaskJobs(
            api,
            self.namespace,
            connection.server,
            jobs=self.jobs,
            pods=self.pods,
            max_seconds=task_max_seconds,
            read_tail=self._primary_tail,
        )
        # Events carry no labels of their own: each is matched to Dockyard's objects on arrival.
        self.events = WatchCache(
            api, Event, self.namespace, keep=False, on_event=self._on_cluster_event
        )
        # CPU autoscaling is the cluster's HPA (`autoscaler.py`).
        self.scaling = autoscaler.ClusterScaling(
            api, self.namespace, stabilization_seconds=scale_down_stabilization_seconds
        )
        self.autoscalers = self.scaling.cache
        self._caches = (
            self.deployments,
            self.services,
            self.pods,
            self.jobs,
            self.events,
            self.autoscalers,
        )
        self._cache_of_kind = {
            "Deployment": self.deployments,
            "Service": self.services,
            "Job": self.jobs,
            "HorizontalPodAutoscaler": self.autoscalers,
        }
        self._lock = threading.Lock()
        self._kept = KeptOutput()
        self._slots: dict[tuple[str, str], dict[str, int]] = {}  # (proton, group) → uid → index
        self._notices: dict[str, deque[RuntimeNotice]] = {}
        self._seen_events: OrderedDict[str, None] = OrderedDict()
        # Events whose object is not in the caches yet: (when it arrived, the Event).
        self._unplaced: deque[tuple[float, Obj]] = deque(maxlen=_UNPLACED_KEPT)
        self._since = datetime.now(UTC) - timedelta(seconds=5)  # older Events are old news
        self._relay = (
            ServiceProxyRelay(connection.config, self.namespace)
            if route == KubernetesRoute.APISERVER
            else None
        )
        for cache in self._caches:
            cache.start()

    @classmethod
    def connect(cls, settings: Settings) -> KubernetesRuntime:
        """Connect as the settings say, check the namespace and the Role, start the watches."""
        connection = connect(settings)
        check(connection, settings.kubernetes_route)
        return cls(
            connection,
            route=settings.kubernetes_route,
            task_max_seconds=settings.task_max_seconds,
            scale_down_stabilization_seconds=settings.scale_down_stabilization_seconds,
        )

    # --- the seam's verbs ------------------------------------------------------------------

    def validate(self, spec: ProtonSpec) -> list[str]:
        autoscaler.refuse(spec)
        return objects.warnings(spec)

    def ensure_proton(
        self, spec: ProtonSpec, replicas: Collection[ReplicaKey] | None = None
    ) -> list[ObservedReplica]:
        self._in_touch()
        wanted = set(spec.replica_keys() if replicas is None else replicas)
        if spec.is_task and wanted:
            # Only when its replica is asked for: ensuring a finished task runs it again.
            credentials = objects.secret(spec, namespace=self.namespace)
            if credentials is not None:
                self._apply(credentials)
            self.tasks.ensure(spec, tail_lines=self.tail_lines)
        elif not spec.is_task:
            manifests = autoscaler.leave_count_to_cluster(
                spec, objects.service_objects(spec, namespace=self.namespace), self.deployments.get
            )
            for manifest in manifests:
                if manifest["kind"] == "Deployment":
                    self._first_to_go(manifest)
                self._apply(manifest)
            self.scaling.sync(spec, self._apply, self._delete)
        return [seen for seen in self.observe(spec.proton_id) if seen.key in wanted]

    def observe(self, proton_id: str) -> list[ObservedReplica]:
        self._in_touch()
        proton = label_value(proton_id)
        pods = [pod for pod in self.pods.indexed(proton) if not is_terminating(pod)]
        found: list[ObservedReplica] = []
        for deployment in self.deployments.indexed(proton):
            meta = deployment["metadata"]
            if ANNOTATION_PORT in (meta.get("annotations") or {}) and not self.services.get(
                meta["name"]
            ):
                # Half made (a pass that created the Deployment died before its Service): its
                # replicas count as missing, so the next pass ensures the proton again.
                continue
            found.extend(self._replicas_of(proton, deployment, pods))
        found.extend(self.tasks.observe(proton, tail_lines=self.tail_lines))
        return sorted(found, key=lambda seen: seen.key)

    def stop_proton(self, proton_id: str) -> None:
        self._in_touch()
        self._keep_output(proton_id)
        self.tasks.stop(label_value(proton_id), tail_lines=self.tail_lines)
        for deployment in self.deployments.indexed(label_value(proton_id)):
            count = int(deployment["spec"].get("replicas") or 0)
            if count == 0:
                continue
            patch = {
                "metadata": {"annotations": {ANNOTATION_STOPPED_REPLICAS: str(count)}},
                "spec": {"replicas": 0},
            }
            self._patch(Deployment, deployment["metadata"]["name"], patch, self.deployments)

    def remove_proton(self, proton_id: str) -> None:
        self._in_touch()
        proton = label_value(proton_id)
        # The HPAs first, so none acts on a Deployment being deleted.
        doomed: list[tuple[type[NamespacedResource], str, WatchCache | None]] = [
            (HorizontalPodAutoscaler, name, self.autoscalers)
            for name in self.scaling.doomed(proton_id)
        ]
        doomed += [
            (Deployment, d["metadata"]["name"], self.deployments)
            for d in self.deployments.indexed(proton)
        ]
        doomed += [
            (Service, s["metadata"]["name"], self.services) for s in self.services.indexed(proton)
        ]
        doomed += [(Job, name, self.jobs) for name in self.tasks.names(proton)]
        doomed.append((Secret, secret_name(proton_id), None))
        for resource, name, cache in doomed:
            self._delete(resource, name, cache)
        with self._lock:
            for slot in [slot for slot in self._slots if slot[0] == proton]:
                del self._slots[slot]
            self._notices.pop(proton, None)
        self._kept.forget(proton)
        if self._relay is not None:
            self._relay.release({name for resource, name, _ in doomed if resource is Service})

    def logs(self, proton_id: str, since: datetime | None = None) -> list[LogLine]:
        found: list[LogLine] = []
        kept = self._kept.of(label_value(proton_id))
        for pod, replica_id, containers in self._pods_for_logs(proton_id):
            if pod["metadata"]["uid"] in kept:
                continue  # read when Dockyard stopped it; it is going or gone
            for container, shown in containers:
                found.extend(self._read_log(pod, container, shown, replica_id, since=since))
        after = _aware(since) if since is not None else None
        found += [
            line
            for lines in kept.values()
            for line in lines
            if after is None or line.timestamp >= after
        ]
        return sorted(found, key=lambda line: line.timestamp)

    def tail(self, proton_id: str, container: str, lines: int) -> list[LogLine]:
        if lines <= 0:
            return []
        found: list[LogLine] = []
        kept = self._kept.of(label_value(proton_id))
        for pod, replica_id, containers in self._pods_for_logs(proton_id):
            if pod["metadata"]["uid"] in kept:
                continue
            for name, shown in containers:
                if shown == container:
                    found.extend(self._read_log(pod, name, shown, replica_id, tail=lines))
        found += [line for got in kept.values() for line in got if line.container == container]
        return sorted(found, key=lambda line: line.timestamp)[-lines:]

    def adopt(self, instance_id: str) -> list[str]:
        self._in_touch()
        installation = label_value(instance_id)
        protons = set()
        for obj in [
            *self.deployments.values(),
            *self.services.values(),
            *self.jobs.values(),
            *self.autoscalers.values(),
        ]:
            labels = obj["metadata"].get("labels") or {}
            if labels.get(LABEL_INSTANCE) == installation and labels.get(LABEL_PROTON):
                protons.add(labels[LABEL_PROTON])
        return sorted(protons)

    def own_scale(self, proton_id: str) -> dict[str, RuntimeScale]:
        self._in_touch()
        return self.scaling.own_scale(self.deployments.indexed(label_value(proton_id)))

    def notices(self, proton_id: str) -> list[RuntimeNotice]:
        with self._lock:
            found = self._notices.pop(label_value(proton_id), None)
        return list(found or ())

    def watch_changes(self, notify: Callable[[str], None]) -> None:
        self._notify = notify

    def describe(self) -> dict[str, str]:
        how = "ready pod IPs" if self.route == KubernetesRoute.PODS else "the API server's proxy"
        return {
            "runtime": "kubernetes",
            "cluster": self.connection.server,
            "namespace": self.namespace,
            "invoke traffic": how,
        }

    def close(self) -> None:
        for cache in self._caches:
            cache.stop()
        if self._relay is not None:
            self._relay.close()
        self._api.close()  # ends the watches' open requests

    # --- reading the caches ----------------------------------------------------------------

    def _in_touch(self) -> None:
        """Answer only from caches that are current: wait for the first lists, and say the
        API server is away while a cache cannot list or watch."""
        deadline = time.monotonic() + SYNC_WAIT_SECONDS
        for cache in self._caches:
            if not cache.synced.wait(max(0.0, deadline - time.monotonic())):
                raise RuntimeTemporaryError(
                    f"the Kubernetes API server at {self.connection.server} has not answered "
                    f"Dockyard's {cache.kind} list yet ({cache.trouble or 'no answer'})",
                    delay=2.0,
                )
        for cache in self._caches:
            if cache.trouble is not None:
                raise RuntimeTemporaryError(
                    f"the Kubernetes API server at {self.connection.server} does not answer: "
                    f"{cache.trouble}",
                    delay=2.0,
                )

    def _replicas_of(self, proton: str, deployment: Obj, pods: list[Obj]) -> list[ObservedReplica]:
        meta = deployment["metadata"]
        annotations = meta.get("annotations") or {}
        group_label = (meta.get("labels") or {}).get(LABEL_GROUP, "")
        group = annotations.get(ANNOTATION_GROUP) or group_label
        port = int(annotations[ANNOTATION_PORT]) if ANNOTATION_PORT in annotations else None
        count = int(deployment["spec"].get("replicas") or 0)
        mine = [
            p for p in pods if (p["metadata"].get("labels") or {}).get(LABEL_GROUP) == group_label
        ]
        if count == 0:
            stopped = int(annotations.get(ANNOTATION_STOPPED_REPLICAS) or 0)
            with self._lock:
                self._slots.pop((proton, group_label), None)
            return [
                placeholder(group, i, ReplicaPhase.STOPPED, None, "stopped (scaled to 0)")
                for i in range(stopped)
            ]
        slots = self._assign(proton, group_label, mine, count)
        address = self._relayed(meta["name"], port)
        found = [
            replica_of(
                pod,
                group,
                slots[pod["metadata"]["uid"]],
                host=address[0] if address else _pod_ip(pod),
                port=address[1] if address else port,
                tail_lines=self.tail_lines,
            )
            for pod in mine
        ]
        have = {seen.index for seen in found}
        since = moment(meta.get("creationTimestamp"))
        found += [
            placeholder(
                group, i, ReplicaPhase.PENDING, since, "waiting for the cluster to create the pod"
            )
            for i in range(count)
            if i not in have
        ]
        return found

    def _relayed(self, service: str, port: int | None) -> tuple[str, int] | None:
        """With the apiserver route: the local listener relaying to the group's Service
        (named as its Deployment) through the API server; else None (pod IPs)."""
        if self._relay is None or port is None or self.services.get(service) is None:
            return None
        return self._relay.address(service, port)

    def _assign(
        self, proton: str, group: str, pods: list[Obj], count: int | None = None
    ) -> dict[str, int]:
        """Each live pod's replica index: kept while it lives, the lowest free one when new.
        With the Deployment's `count`, a pod whose index is not below it takes a free lower
        one: the ReplicaSet chose to delete another pod (an HPA lowered the count), and the
        reconciler counts a group's replicas from 0."""
        with self._lock:
            slots = self._slots.setdefault((proton, group), {})
            live = {pod["metadata"]["uid"] for pod in pods}
            for uid in [uid for uid in slots if uid not in live]:
                del slots[uid]
            used = set(slots.values())
            ordered = sorted(
                pods,
                key=lambda p: (p["metadata"].get("creationTimestamp") or "", p["metadata"]["name"]),
            )
            for pod in ordered:
                uid = pod["metadata"]["uid"]
                if uid not in slots:
                    index = next(i for i in range(len(used) + 1) if i not in used)
                    slots[uid] = index
                    used.add(index)
            if count is not None:
                free = sorted(i for i in range(count) if i not in used)
                for pod in ordered:
                    uid = pod["metadata"]["uid"]
                    if free and slots[uid] >= count:
                        slots[uid] = free.pop(0)
            return dict(slots)

    # --- writing ---------------------------------------------------------------------------

    def _apply(self, manifest: Obj) -> None:
        """Create the object, or patch it to the manifest; nothing when it already is."""
        kind = manifest["kind"]
        resource = _KINDS[kind]
        cache = self._cache_of_kind.get(kind)
        digest = _digest(manifest)
        manifest["metadata"].setdefault("annotations", {})[ANNOTATION_APPLIED] = digest
        name = manifest["metadata"]["name"]
        known = cache.get(name) if cache is not None else None
        for _ in range(CONFLICT_RETRIES):
            if known is not None and _carries(known, manifest, digest):
                return
            try:
                if known is None:
                    answer = self._api.create(_model(resource, manifest), namespace=self.namespace)
                else:
                    patch = json.loads(json.dumps(manifest))
                    patch["metadata"]["resourceVersion"] = known["metadata"]["resourceVersion"]
                    answer = self._api.patch(
                        resource,
                        name,
                        patch,
                        namespace=self.namespace,
                        patch_type=PatchType.MERGE,
                    )
            except ApiError as exc:
                if exc.status.code != 409:
                    raise _failure(exc, f"writing {kind} {name}") from None
                # It exists already (created by an earlier pass that did not see the answer),
                # or changed since it was read: read it again and decide again.
                known = self._read(resource, name)
                continue
            except httpx2.HTTPError as exc:
                raise self._unreachable(exc) from None
            if cache is not None:
                cache.remember(plain(answer))
            return
        raise RuntimeTemporaryError(
            f"{kind} {name} kept changing while Dockyard wrote it", delay=1.0
        )

    def _read(self, resource: type[NamespacedResource], name: str) -> Obj | None:
        try:
            return dict(plain(self._api.get(resource, name, namespace=self.namespace)))
        except ApiError as exc:
            if exc.status.code == 404:
                return None
            raise _failure(exc, f"reading {resource.__name__} {name}") from None
        except httpx2.HTTPError as exc:
            raise self._unreachable(exc) from None

    def _patch(
        self, resource: type[NamespacedResource], name: str, patch: Obj, cache: WatchCache
    ) -> None:
        try:
            answer = self._api.patch(
                resource, name, patch, namespace=self.namespace, patch_type=PatchType.MERGE
            )
        except ApiError as exc:
            if exc.status.code == 404:
                return  # gone already
            raise _failure(exc, f"patching {resource.__name__} {name}") from None
        except httpx2.HTTPError as exc:
            raise self._unreachable(exc) from None
        cache.remember(plain(answer))

    def _delete(
        self, resource: type[NamespacedResource], name: str, cache: WatchCache | None
    ) -> None:
        """Delete the object and what it owns; gone already is fine."""
        delete_with_dependents(
            self._api, resource, name, namespace=self.namespace, server=self.connection.server
        )
        if cache is not None:
            cache.forget(name)

    def _first_to_go(self, manifest: Obj) -> None:
        """Before a Deployment's count is lowered: mark the pods of the replicas above the new
        count (drained by the reconciler) as the ones its ReplicaSet should delete."""
        count = manifest["spec"].get("replicas")
        known = self.deployments.get(manifest["metadata"]["name"])
        if count is None or count == 0 or known is None:
            return  # the HPA's count, a stop, or nothing running yet
        if int(known["spec"].get("replicas") or 0) <= count:
            return
        labels = manifest["metadata"]["labels"]
        proton, group_label = labels[LABEL_PROTON], labels[LABEL_GROUP]
        with self._lock:
            slots = dict(self._slots.get((proton, group_label), {}))
        mine = [
            pod
            for pod in self.pods.indexed(proton)
            if _labels(pod).get(LABEL_GROUP) == group_label and not is_terminating(pod)
        ]
        for pod in autoscaler.leaving(mine, slots, count):
            mark = {"metadata": {"annotations": {autoscaler.DELETION_COST: autoscaler.FIRST_TO_GO}}}
            self._patch(Pod, pod["metadata"]["name"], mark, self.pods)

    def _unreachable(self, exc: Exception) -> RuntimeTemporaryError:
        return unreachable(self.connection.server, exc)

    # --- logs ------------------------------------------------------------------------------

    def _pods_for_logs(self, proton_id: str) -> list[tuple[Obj, str, list[tuple[str, str]]]]:
        """Each pod of the proton with its replica id and its (pod, spec) container names."""
        self._in_touch()
        proton = label_value(proton_id)
        found = []
        for pod in self.pods.indexed(proton):
            meta = pod["metadata"]
            group_label = (meta.get("labels") or {}).get(LABEL_GROUP, "")
            annotations = meta.get("annotations") or {}
            group = annotations.get(ANNOTATION_GROUP) or group_label
            with self._lock:
                index = self._slots.get((proton, group_label), {}).get(meta["uid"])
            if index is None and is_task_pod(pod):
                index = 0  # a task's one replica
            replica_id = f"{group}-{index if index is not None else '?'}"
            names = json.loads(annotations.get(ANNOTATION_CONTAINERS) or "{}")
            containers = [
                (c["name"], names.get(c["name"], c["name"])) for c in pod["spec"]["containers"]
            ]
            found.append((pod, replica_id, containers))
        return found

    def _read_log(
        self,
        pod: Obj,
        container: str,
        shown: str,
        replica_id: str,
        *,
        since: datetime | None = None,
        tail: int | None = None,
    ) -> Iterable[LogLine]:
        seconds = None
        if since is not None:
            aware = since if since.tzinfo else since.replace(tzinfo=UTC)
            seconds = max(1, math.ceil((datetime.now(UTC) - aware).total_seconds()) + 1)
        try:
            raw = list(
                self._api.log(
                    pod["metadata"]["name"],
                    namespace=self.namespace,
                    container=container,
                    timestamps=True,
                    since=seconds,
                    tail_lines=tail,
                    newlines=False,
                )
            )
        except ApiError as exc:
            if exc.status.code in (400, 404):
                return []  # not started yet, or gone
            raise _failure(exc, f"reading the log of pod {pod['metadata']['name']}") from None
        except httpx2.HTTPError as exc:
            raise self._unreachable(exc) from None
        found = []
        for text in raw:
            stamp, _, message = text.partition(" ")
            when = moment(_NANOS.sub(r"\1", stamp))
            if when is None:
                continue
            if since is not None and when < (since if since.tzinfo else since.replace(tzinfo=UTC)):
                continue
            # The pod log API interleaves stdout and stderr and does not say which is which.
            found.append(LogLine(when, replica_id, shown, "stdout", message))
        return found

    def _keep_output(self, proton_id: str) -> None:
        """Read the output of the pods this stop deletes while a user still wants it: a
        running task's (its Job goes) and a primary's that ended before it was ever ready
        (its Deployment goes to 0). See `kept_output.py`."""
        proton = label_value(proton_id)
        kept = self._kept.of(proton)
        for pod, replica_id, containers in self._pods_for_logs(proton_id):
            uid = pod["metadata"]["uid"]
            if uid in kept or is_terminating(pod) or not worth_keeping(pod):
                continue
            lines: list[LogLine] = []
            for container, shown in containers:
                lines.extend(self._read_log(pod, container, shown, replica_id))
            self._kept.keep(proton, uid, sorted(lines, key=lambda line: line.timestamp))

    def _primary_tail(self, pod: Obj, container: str, lines: int) -> list[str]:
        """The last `lines` lines a pod's container wrote (a finished task's `logTail`)."""
        found = self._read_log(pod, container, container, "", tail=lines)
        return [line.message for line in found]

    # --- what changes on its own ------------------------------------------------------------

    def _on_object_event(self, kind: str, obj: Obj) -> None:
        workload = _labels(obj).get(LABEL_WORKLOAD)
        if workload is not None and self._notify is not None:
            self._notify(workload)
        if self._unplaced:
            self._place_events()  # an Event about this object may have come first

    def _on_cluster_event(self, kind: str, event: Obj) -> None:
        if kind == "DELETED":
            return
        uid = event["metadata"].get("uid") or event["metadata"]["name"]
        with self._lock:
            if uid in self._seen_events:
                return
            self._seen_events[uid] = None
            while len(self._seen_events) > _SEEN_EVENTS:
                self._seen_events.popitem(last=False)
        when = moment(
            event.get("lastTimestamp")
            or event.get("eventTime")
            or event.get("firstTimestamp")
            or event["metadata"].get("creationTimestamp")
        )
        if when is not None and when < self._since:
            return  # from before this server started: told already, or long past
        if not ((event.get("involvedObject") or {}).get("name") or "").startswith(PREFIX + "-"):
            return  # not about an object of Dockyard's
        with self._lock:
            self._unplaced.append((time.monotonic(), event))
        self._place_events()

    def _place_events(self) -> None:
        """Turn the Events waiting for their object into notices of its proton. Watches of
        different kinds are not ordered: an Event may arrive before the pod it is about."""
        with self._lock:
            waiting, self._unplaced = list(self._unplaced), deque(maxlen=_UNPLACED_KEPT)
        later = []
        for arrived, event in waiting:
            about = event.get("involvedObject") or {}
            proton, replica = self._whose(about.get("kind") or "", about.get("name") or "")
            if proton is None:
                if time.monotonic() - arrived < _UNPLACED_SECONDS:
                    later.append((arrived, event))
                continue
            notice = RuntimeNotice(
                reason=event.get("reason") or "Event",
                message=event.get("message") or "",
                warning=event.get("type") == "Warning",
                replica=replica,
                count=int(event.get("count") or 1),
            )
            with self._lock:
                self._notices.setdefault(proton, deque(maxlen=_NOTICES_KEPT)).append(notice)
            owner = self._workload_of(proton)
            if owner is not None and self._notify is not None:
                self._notify(owner)
        with self._lock:
            self._unplaced.extendleft(reversed(later))

    def _workload_of(self, proton: str) -> str | None:
        for obj in [*self.deployments.indexed(proton), *self.jobs.indexed(proton)]:
            return _labels(obj).get(LABEL_WORKLOAD)
        return None

    def _whose(self, kind: str, name: str) -> tuple[str | None, str | None]:
        """The proton (label value) and replica an Event's object belongs to."""
        if kind == "Pod":
            pod = self.pods.get(name)
            if pod is None:
                return None, None
            meta = pod["metadata"]
            labels = meta.get("labels") or {}
            proton, group_label = labels.get(LABEL_PROTON, ""), labels.get(LABEL_GROUP, "")
            group = (meta.get("annotations") or {}).get(ANNOTATION_GROUP) or group_label
            siblings = [
                p
                for p in self.pods.indexed(proton)
                if not is_terminating(p) and _labels(p).get(LABEL_GROUP) == group_label
            ]
            index = self._assign(proton, group_label, siblings).get(meta["uid"])
            return proton, f"{group}-{index}" if index is not None else None
        if kind == "ReplicaSet":
            name = name.rsplit("-", 1)[0]  # a Deployment's ReplicaSet: <deployment>-<hash>
            kind = "Deployment"
        cache = self._cache_of_kind.get(kind)
        found = cache.get(name) if cache is not None else None
        if found is None:
            return None, None
        return (found["metadata"].get("labels") or {}).get(LABEL_PROTON), None


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _pod_ip(pod: Obj) -> str | None:
    return (pod.get("status") or {}).get("podIP") or None


def _model(resource: type[NamespacedResource], manifest: Obj) -> Any:
    # Every model class has from_dict; the base class the client's types name does not.
    return cast(Any, resource).from_dict(manifest)


def _labels(obj: Obj) -> dict[str, str]:
    return obj["metadata"].get("labels") or {}


def _digest(manifest: Obj) -> str:
    text = json.dumps(manifest, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _carries(known: Obj, manifest: Obj, digest: str) -> bool:
    """Whether the object as the cluster has it is what Dockyard would write now."""
    if (known["metadata"].get("annotations") or {}).get(ANNOTATION_APPLIED) != digest:
        return False
    if manifest["kind"] == "Deployment" and "replicas" in manifest["spec"]:
        return bool(known["spec"].get("replicas") == manifest["spec"].get("replicas"))
    return True

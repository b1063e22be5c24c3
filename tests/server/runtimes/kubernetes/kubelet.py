"""The test plays the cluster's controllers and kubelet for the emulator.

For each Deployment it keeps `spec.replicas` pods (created from the template, named and
labelled as a ReplicaSet would, owned by the Deployment), deletes the extra ones (the lowest
`controller.kubernetes.io/pod-deletion-cost` first, as a ReplicaSet does), and gives
each pod the state its image is scripted to have: ready (a small HTTP server answers on the
pod's address and the primary's port), never ready, an image that cannot be pulled, a crash
loop, a primary that exits before it was ever ready, or no node to run it. Pod addresses are
in 127.0.0.0/8 so the servers are reachable here. A request to a pod with `?sleep=S` is
answered after S seconds (load a test can count). It writes Events as the kubelet and the
scheduler would, and pod logs; and it can play a HorizontalPodAutoscaler's controller
(`autoscale`).

For each Job it makes one pod (owned by the Job, as the Job controller does), runs it as
scripted: the primary prints its output, exits with the script's code after `run_seconds`
(or when the test calls `finish`), and the Job is marked `Complete` or `Failed`. A deleted
Job's pods go with it (the garbage collector's foreground deletion).
"""

from __future__ import annotations

import asyncio
import itertools
import random
import secrets
import threading
from collections import Counter
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from dockyard.server.runtimes.kubernetes.labels import ANNOTATION_PORT
from tests.server.runtimes.kubernetes.emulator import Emulator, Obj, now_text

READY, UNREADY, IMAGE_PULL, CRASH, UNSCHEDULABLE, EXITS = (
    "ready",
    "unready",
    "image_pull",
    "crash",
    "unschedulable",
    "exits",  # the primary runs, never ready, and exits (`exit_code`) after `run_seconds`
)


@dataclass(frozen=True)
class PodScript:
    state: str = READY
    output: tuple[str, ...] = ()  # log lines each container prints at start
    serve: bool = True  # a ready pod answers HTTP (a benchmark of many pods may not need it)
    # A Job's pod, or EXITS: how the primary ends, and when (None: when the test says).
    exit_code: int = 0
    run_seconds: float | None = 0.1
    exit_reason: str | None = None  # the kubelet's word; by default Completed or Error


class Kubelet:
    def __init__(self, emulator: Emulator) -> None:
        self.emulator = emulator
        self.scripts: dict[str, PodScript] = {}  # by the first container's image
        self.default = PodScript()
        self.served: Counter[str] = Counter()  # requests answered, by pod name
        # While cleared, a new pod that would be ready waits, created but not ready (a slow
        # start a test controls); set by default.
        self.readiness = threading.Event()
        self.readiness.set()
        self._servers: dict[str, web.AppRunner] = {}
        self._owned: dict[tuple[str, str], set[str]] = {}  # (namespace, Deployment) → pods
        self._job_pods: dict[tuple[str, str], str] = {}  # (namespace, Job) → its pod
        # A /16 of its own, so parallel test processes do not collide on an address.
        self._net = f"127.{random.randint(64, 250)}.{random.randint(0, 255)}"
        self._hosts = itertools.count(2)
        self._events = itertools.count(1)
        emulator.on_change.append(self._changed)
        emulator.service_proxy = self._endpoint

    def script(self, image: str, script: PodScript) -> None:
        self.scripts[image] = script

    # --- reacting to the store -------------------------------------------------------------

    def _changed(self, kind: str, plural: str, obj: Obj) -> None:
        loop = self.emulator._loop
        assert loop is not None
        meta = obj["metadata"]
        if plural == "deployments":
            loop.call_soon_threadsafe(self._sync, meta["namespace"], meta["name"])
        elif plural == "jobs" and kind == "ADDED":
            loop.call_soon_threadsafe(self._create_job_pod, obj)
        elif plural == "jobs" and kind == "DELETED":
            loop.call_soon_threadsafe(self._collect_job, meta["namespace"], meta["name"])

    def _sync(self, namespace: str, name: str) -> None:
        emulator = self.emulator
        deployment = emulator.get("deployments", namespace, name)
        pods = self.pods_of(namespace, name)
        wanted = int(deployment["spec"].get("replicas") or 0) if deployment else 0
        for pod in sorted(pods, key=_deletion_order)[: max(0, len(pods) - wanted)]:
            self.delete_pod(pod)
        for _ in range(wanted - len(pods)):
            assert deployment is not None
            self._create_pod(deployment)
        if deployment is not None:
            self._report(deployment)

    def pods_of(self, namespace: str, deployment: str) -> list[Obj]:
        found = []
        for name in sorted(self._owned.get((namespace, deployment), ())):
            pod = self.emulator.get("pods", namespace, name)
            if pod is not None:
                found.append(pod)
        return found

    def _report(self, deployment: Obj) -> None:
        meta = deployment["metadata"]
        pods = self.pods_of(meta["namespace"], meta["name"])
        ready = sum(1 for pod in pods if _ready(pod))
        status = {
            "observedGeneration": meta.get("generation", 1),
            "replicas": len(pods),
            "readyReplicas": ready,
            "availableReplicas": ready,
        }
        # The status alone, onto the Deployment as it is now (a controller writes the status
        # subresource): `deployment` was read earlier, and writing it back whole would undo a
        # change a test made to it meanwhile from its own thread.
        self.emulator.update(
            "deployments",
            meta["namespace"],
            meta["name"],
            lambda current: current.__setitem__("status", status),
        )

    # --- pods ------------------------------------------------------------------------------

    def _create_pod(self, deployment: Obj) -> None:
        meta = deployment["metadata"]
        template = deployment["spec"]["template"]
        suffix = secrets.token_hex(3)[:5]
        pod: Obj = {
            "metadata": {
                "name": f"{meta['name']}-7d9f8c6b5-{suffix}",
                "namespace": meta["namespace"],
                "labels": {
                    **template["metadata"].get("labels", {}),
                    "pod-template-hash": "7d9f8c6b5",
                },
                "annotations": dict(template["metadata"].get("annotations") or {}),
                "ownerReferences": [
                    {
                        "apiVersion": "apps/v1",
                        "kind": "ReplicaSet",
                        "name": meta["name"],
                        "uid": meta["uid"],
                    }
                ],
            },
            "spec": template["spec"],
            "status": {
                "phase": "Pending",
                "conditions": [{"type": "PodScheduled", "status": "True"}],
            },
        }
        self._owned.setdefault((meta["namespace"], meta["name"]), set()).add(
            pod["metadata"]["name"]
        )
        created = self.emulator.put("pods", pod)
        image = template["spec"]["containers"][0]["image"]
        script = self.scripts.get(image, self.default)
        asyncio.get_running_loop().create_task(self._start(created, script))

    # --- Jobs --------------------------------------------------------------------------------

    def _create_job_pod(self, job: Obj) -> None:
        meta = job["metadata"]
        template = job["spec"]["template"]
        pod: Obj = {
            "metadata": {
                "name": f"{meta['name']}-{secrets.token_hex(3)[:5]}",
                "namespace": meta["namespace"],
                "labels": {
                    **template["metadata"].get("labels", {}),
                    "batch.kubernetes.io/job-name": meta["name"],
                    "batch.kubernetes.io/controller-uid": meta["uid"],
                },
                "annotations": dict(template["metadata"].get("annotations") or {}),
                "ownerReferences": [
                    {
                        "apiVersion": "batch/v1",
                        "kind": "Job",
                        "name": meta["name"],
                        "uid": meta["uid"],
                        "controller": True,
                    }
                ],
            },
            "spec": template["spec"],
            "status": {
                "phase": "Pending",
                "conditions": [{"type": "PodScheduled", "status": "True"}],
            },
        }
        self._job_pods[(meta["namespace"], meta["name"])] = pod["metadata"]["name"]
        created = self.emulator.put("pods", pod)
        job["status"] = {"active": 1, "startTime": now_text()}
        self._put_job(job)
        image = template["spec"]["containers"][0]["image"]
        script = self.scripts.get(image, self.default)
        asyncio.get_running_loop().create_task(self._run_job_pod(created, script))

    async def _run_job_pod(self, pod: Obj, script: PodScript) -> None:
        if script.state == IMAGE_PULL:
            await self._start(pod, script)
            return
        meta = pod["metadata"]
        containers = [c["name"] for c in pod["spec"]["containers"]]
        pod["status"]["podIP"] = f"{self._net}.{next(self._hosts)}"
        pod["status"]["startTime"] = now_text()
        for container in containers:
            for line in script.output:
                self.emulator.add_log(meta["namespace"], meta["name"], container, line)
        pod["status"]["phase"] = "Running"
        pod["status"]["containerStatuses"] = [
            _container(c, running=True, ready=True) for c in containers
        ]
        pod["status"]["conditions"] = [
            {"type": "PodScheduled", "status": "True"},
            {"type": "Ready", "status": "True"},
        ]
        self._event(pod, "Started", f"Started container {containers[0]}")
        self._update(pod)
        if script.run_seconds is not None:
            await asyncio.sleep(script.run_seconds)
            self._end_job_pod(meta["namespace"], meta["name"], script)

    def finish(self, job: str, exit_code: int, namespace: str = "dockyard-workloads") -> None:
        """The primary of the Job's pod exits now with `exit_code` (a script that runs until
        told)."""
        pod = self._job_pods[(namespace, job)]
        loop = self.emulator._loop
        assert loop is not None
        loop.call_soon_threadsafe(self._end_job_pod, namespace, pod, PodScript(exit_code=exit_code))

    def _end_job_pod(self, namespace: str, name: str, script: PodScript) -> None:
        pod = self.emulator.get("pods", namespace, name)
        if pod is None:
            return  # killed meanwhile
        code = script.exit_code
        reason = script.exit_reason or ("Completed" if code == 0 else "Error")
        containers = [c["name"] for c in pod["spec"]["containers"]]
        # FallbackToLogsOnError: a failed container's message is the end of its log.
        logs = self.emulator.logs.get((namespace, name, containers[0]), [])
        message = "\n".join(text for _, text in logs[-80:]) if code != 0 else ""
        pod["status"]["phase"] = "Succeeded" if code == 0 else "Failed"
        pod["status"]["containerStatuses"] = [
            _container(c, terminated=(code, reason, message)) for c in containers
        ]
        pod["status"]["conditions"] = [
            {"type": "PodScheduled", "status": "True"},
            {"type": "Ready", "status": "False", "reason": "PodCompleted"},
        ]
        self._update(pod)
        owner = pod["metadata"]["ownerReferences"][0]["name"]
        job = self.emulator.get("jobs", namespace, owner)
        if job is None:
            return
        if code == 0:
            job["status"] = {"succeeded": 1, "conditions": [_true("Complete")]}
        else:
            failed = _true("Failed", "BackoffLimitExceeded", "Job has reached the backoff limit")
            job["status"] = {"failed": 1, "conditions": [failed]}
        self._put_job(job)

    def _put_job(self, job: Obj) -> None:
        current = self.emulator.get("jobs", job["metadata"]["namespace"], job["metadata"]["name"])
        if current is not None and current["metadata"]["uid"] == job["metadata"]["uid"]:
            current["status"] = job["status"]
            self.emulator.put("jobs", current)

    def _collect_job(self, namespace: str, job: str) -> None:
        name = self._job_pods.pop((namespace, job), None)
        pod = self.emulator.get("pods", namespace, name) if name else None
        if pod is not None:
            self.delete_pod(pod)

    # --- a pod's life --------------------------------------------------------------------------

    async def _start(self, pod: Obj, script: PodScript) -> None:
        meta = pod["metadata"]
        name, namespace = meta["name"], meta["namespace"]
        containers = [c["name"] for c in pod["spec"]["containers"]]
        if script.state == UNSCHEDULABLE:
            why = "0/3 nodes are available: 3 Insufficient cpu."
            pod["status"]["conditions"] = [
                {
                    "type": "PodScheduled",
                    "status": "False",
                    "reason": "Unschedulable",
                    "message": why,
                }
            ]
            self._event(pod, "FailedScheduling", why, warning=True)
            self._update(pod)
            return
        pod["status"]["podIP"] = f"{self._net}.{next(self._hosts)}"
        pod["status"]["startTime"] = now_text()
        if script.state == IMAGE_PULL:
            image = pod["spec"]["containers"][0]["image"]
            why = f'failed to pull image "{image}": pull access denied, repository does not exist'
            pod["status"]["containerStatuses"] = [
                _container(c, waiting=("ErrImagePull", why)) for c in containers
            ]
            self._event(pod, "Failed", f"Failed to pull image {image!r}: {why}", warning=True)
            self._update(pod)
            await asyncio.sleep(0.05)
            backoff = f'Back-off pulling image "{image}"'
            pod["status"]["containerStatuses"] = [
                _container(c, waiting=("ImagePullBackOff", backoff)) for c in containers
            ]
            self._event(pod, "BackOff", backoff, warning=True)
            self._update(pod)
            return
        for container in containers:
            for line in script.output:
                self.emulator.add_log(namespace, name, container, line)
        if script.state == CRASH:
            pod["status"]["phase"] = "Running"
            pod["status"]["containerStatuses"] = [
                _container(
                    c,
                    waiting=("CrashLoopBackOff", f"back-off 10s restarting failed container={c}"),
                    restarts=1,
                    last_exit=(1, "\n".join(script.output) or "exited"),
                )
                for c in containers
            ]
            self._event(pod, "BackOff", "Back-off restarting failed container", warning=True)
            self._update(pod)
            return
        if script.state == EXITS:
            await self._exit_early(pod, script, containers)
            return
        while script.state == READY and not self.readiness.is_set():
            await asyncio.sleep(0.02)
        if script.state == READY and script.serve:
            await self._serve(pod)
        pod["status"]["phase"] = "Running"
        pod["status"]["containerStatuses"] = [
            _container(c, running=True, ready=script.state == READY) for c in containers
        ]
        pod["status"]["conditions"] = [
            {"type": "PodScheduled", "status": "True"},
            {"type": "Ready", "status": "True" if script.state == READY else "False"},
        ]
        self._event(pod, "Started", f"Started container {containers[0]}")
        self._update(pod)

    async def _exit_early(self, pod: Obj, script: PodScript, containers: list[str]) -> None:
        """A primary that runs, never listens (so never ready), and exits: the kubelet shows
        it terminated; its restart is for the test to play (`restart_exited`)."""
        pod["status"]["phase"] = "Running"
        pod["status"]["containerStatuses"] = [_container(c, running=True) for c in containers]
        pod["status"]["conditions"] = [
            {"type": "PodScheduled", "status": "True"},
            {"type": "Ready", "status": "False"},
        ]
        self._update(pod)
        await asyncio.sleep(script.run_seconds or 0)
        code = script.exit_code
        reason = script.exit_reason or ("Completed" if code == 0 else "Error")
        message = "\n".join(script.output) if code != 0 else ""
        pod["status"]["containerStatuses"] = [
            _container(c, terminated=(code, reason, message)) for c in containers
        ]
        self._update(pod)

    def restart_exited(self) -> int:
        """The kubelet restarts every Deployment container that exited (restartPolicy
        Always): it waits in CrashLoopBackOff with its end as its last state."""
        count = 0
        for pod in self.emulator.list("pods"):
            if (pod["metadata"]["ownerReferences"][0].get("kind")) == "Job":
                continue
            for status in pod.get("status", {}).get("containerStatuses") or []:
                ended = status["state"].get("terminated")
                if ended is None:
                    continue
                status["lastState"] = {"terminated": ended}
                status["restartCount"] += 1
                back_off = f"back-off 10s restarting failed container={status['name']}"
                status["state"] = {"waiting": {"reason": "CrashLoopBackOff", "message": back_off}}
                count += 1
                self._update(pod)
        return count

    def crash_again(self) -> int:
        """Every crash-looping container restarts once more (time passing, for the kubelet)."""
        count = 0
        for pod in self.emulator.list("pods"):
            statuses = pod.get("status", {}).get("containerStatuses") or []
            crashing = [
                s
                for s in statuses
                if (s["state"].get("waiting") or {}).get("reason") == "CrashLoopBackOff"
            ]
            for status in crashing:
                status["restartCount"] += 1
                count += 1
            if crashing:
                self._event(pod, "BackOff", "Back-off restarting failed container", warning=True)
                self._update(pod)
        return count

    def set_ready(self, pod: Obj, ready: bool) -> None:
        """The pod's readiness probe starts failing (or passing again)."""
        pod = (
            self.emulator.get("pods", pod["metadata"]["namespace"], pod["metadata"]["name"]) or pod
        )
        for condition in pod["status"].get("conditions") or []:
            if condition["type"] == "Ready":
                condition["status"] = "True" if ready else "False"
        for status in pod["status"].get("containerStatuses") or []:
            status["ready"] = ready
        self._update(pod)

    def delete_pod(self, pod: Obj) -> None:
        meta = pod["metadata"]
        self._event(pod, "Killing", f"Stopping container {pod['spec']['containers'][0]['name']}")
        self.emulator.remove("pods", meta["namespace"], meta["name"])
        owner = (meta["namespace"], meta["ownerReferences"][0]["name"])
        self._owned.get(owner, set()).discard(meta["name"])
        runner = self._servers.pop(meta["name"], None)
        if runner is not None:
            asyncio.get_running_loop().create_task(runner.cleanup())

    def _update(self, pod: Obj) -> None:
        meta = pod["metadata"]
        current = self.emulator.get("pods", meta["namespace"], meta["name"])
        if current is None:
            return  # deleted meanwhile
        current["status"] = pod["status"]
        self.emulator.put("pods", current)
        owner = meta["ownerReferences"][0]["name"]
        deployment = self.emulator.get("deployments", meta["namespace"], owner)
        if deployment is not None:
            self._report(deployment)

    def _event(self, pod: Obj, reason: str, message: str, *, warning: bool = False) -> None:
        meta = pod["metadata"]
        self.emulator.put(
            "events",
            {
                "metadata": {
                    "name": f"{meta['name']}.{next(self._events)}",
                    "namespace": meta["namespace"],
                },
                "involvedObject": {
                    "kind": "Pod",
                    "name": meta["name"],
                    "namespace": meta["namespace"],
                },
                "reason": reason,
                "message": message,
                "type": "Warning" if warning else "Normal",
                "count": 1,
                "lastTimestamp": now_text(),
            },
        )

    # --- the pods' servers ---------------------------------------------------------------------

    async def _serve(self, pod: Obj) -> None:
        name = pod["metadata"]["name"]
        port = int(pod["metadata"].get("annotations", {}).get(ANNOTATION_PORT) or 8080)

        env = {e["name"]: e.get("value") for e in pod["spec"]["containers"][0].get("env") or []}

        async def answer(request: web.Request) -> web.Response:
            await asyncio.sleep(float(request.query.get("sleep") or 0))
            self.served[name] += 1
            greeting = env.get("GREETING")
            return web.json_response({"greeting": greeting, "pod": name, "path": request.path})

        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", answer)
        runner = web.AppRunner(app, handle_signals=False, shutdown_timeout=0.5)
        await runner.setup()
        await web.TCPSite(runner, pod["status"]["podIP"], port).start()
        self._servers[name] = runner

    def _endpoint(
        self, namespace: str, service: str, port: int, path: str
    ) -> tuple[str, int] | None:
        """Where the API server's service proxy sends a request: a ready pod of the Service."""
        found = self.emulator.get("services", namespace, service)
        if found is None:
            return None
        selector = found["spec"].get("selector") or {}
        target = port
        for entry in found["spec"].get("ports") or []:
            if entry.get("port") == port:
                target = int(entry.get("targetPort") or port)
        for pod in self.emulator.list("pods", namespace):
            labels = pod["metadata"].get("labels") or {}
            if all(labels.get(k) == v for k, v in selector.items()) and _ready(pod):
                return pod["status"]["podIP"], target
        return None

    def autoscale(self, namespace: str, name: str, replicas: int, cores: str) -> None:
        """What an HPA's controller does: report the pods' average CPU (`cores`, a quantity)
        in the HPA's status and set its Deployment's count."""
        status = {
            "currentReplicas": replicas,
            "desiredReplicas": replicas,
            "currentMetrics": [
                {
                    "type": "Resource",
                    "resource": {"name": "cpu", "current": {"averageValue": cores}},
                }
            ],
        }
        hpa = self.emulator.update(
            "horizontalpodautoscalers",
            namespace,
            name,
            lambda current: current.__setitem__("status", status),
        )
        assert hpa is not None, f"no HorizontalPodAutoscaler {name}"
        target = hpa["spec"]["scaleTargetRef"]["name"]
        # The count alone (the HPA writes the scale subresource), in one step with the read:
        # the pods' status reports write the same Deployment from the emulator's thread.
        deployment = self.emulator.update(
            "deployments",
            namespace,
            target,
            lambda current: current["spec"].__setitem__("replicas", replicas),
        )
        assert deployment is not None

    async def close(self) -> None:
        for runner in self._servers.values():
            await runner.cleanup()
        self._servers.clear()


def _deletion_order(pod: Obj) -> tuple[int, int, str]:
    """Which pods a ReplicaSet deletes first when its count drops: not ready before ready,
    then the lowest `pod-deletion-cost`. A real ReplicaSet then prefers the newest pods, which
    need not be the replicas Dockyard numbers highest; here the tie goes to the first name,
    usually Dockyard's lowest replica, so only the deletion cost saves it."""
    cost = (pod["metadata"].get("annotations") or {}).get(
        "controller.kubernetes.io/pod-deletion-cost", "0"
    )
    return (1 if _ready(pod) else 0, int(cost), pod["metadata"]["name"])


def _ready(pod: Obj) -> bool:
    return any(
        c.get("type") == "Ready" and c.get("status") == "True"
        for c in pod.get("status", {}).get("conditions") or []
    )


def _container(
    name: str,
    *,
    running: bool = False,
    ready: bool = False,
    waiting: tuple[str, str] | None = None,
    restarts: int = 0,
    last_exit: tuple[int, str] | None = None,
    terminated: tuple[int, str, str] | None = None,  # exit code, reason, message
) -> dict[str, Any]:
    state: dict[str, Any] = {}
    if running:
        state["running"] = {"startedAt": now_text()}
    if terminated is not None:
        code, reason, message = terminated
        state["terminated"] = {"exitCode": code, "reason": reason, "finishedAt": now_text()}
        if message:
            state["terminated"]["message"] = message
    if waiting is not None:
        state["waiting"] = {"reason": waiting[0], "message": waiting[1]}
    found: dict[str, Any] = {
        "name": name,
        "ready": ready,
        "restartCount": restarts,
        "state": state,
        "image": "",
        "imageID": "",
    }
    if last_exit is not None:
        found["lastState"] = {
            "terminated": {"exitCode": last_exit[0], "message": last_exit[1], "reason": "Error"}
        }
    return found


def _true(kind: str, reason: str | None = None, message: str | None = None) -> Obj:
    found: Obj = {"type": kind, "status": "True", "lastTransitionTime": now_text()}
    if reason:
        found["reason"] = reason
    if message:
        found["message"] = message
    return found

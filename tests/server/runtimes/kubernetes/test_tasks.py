"""Task protons on the kubernetes runtime: a Job per task, against the test API server with the
test playing the Job controller and the kubelet."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import kubernetes_validate
import pytest

from dockyard.core.spec import stored_spec
from dockyard.core.workloads import WorkloadRuntime
from dockyard.server.kit.ids import new_id
from dockyard.server.reconciler.tasks import ended_with
from dockyard.server.runtimes.base import ObservedReplica, ProtonSpec, ReplicaPhase, Waiting
from dockyard.server.runtimes.kubernetes import objects
from dockyard.server.runtimes.kubernetes.jobs import DEADLINE_MARGIN_SECONDS
from dockyard.server.runtimes.kubernetes.names import object_name, secret_name
from dockyard.server.runtimes.kubernetes.runtime import KubernetesRuntime
from dockyard.server.runtimes.kubernetes.versions import SUPPORTED_VERSIONS
from dockyard.server.runtimes.proton_spec import build_proton_spec
from dockyard.server.workloads.statuses import ErrorReason, Status
from tests.server.runtimes.kubernetes.conftest import NAMESPACE, eventually
from tests.server.runtimes.kubernetes.emulator import Emulator, now_text
from tests.server.runtimes.kubernetes.kubelet import EXITS, IMAGE_PULL, Kubelet, PodScript

INSTANCE = "inst0000000000000000000a"


def task_spec(
    image: str,
    *,
    credential: str | None = None,
    sidecar: bool = False,
    proton_id: str | None = None,
    instance_id: str = INSTANCE,
    port: int | None = None,
) -> ProtonSpec:
    """A declared task: its primary has no port and no probes (with `port`: a service
    without probes, which may end as a task)."""
    primary: dict[str, Any] = {"name": "main", "primary": True, "imageUri": image}
    if credential is not None:
        primary["environmentVars"] = [
            {"name": "TOKEN", "source": "dr-credential", "drCredentialId": "c1", "key": "k"}
        ]
    if port is not None:
        primary["port"] = port
    containers = [primary]
    if sidecar:
        containers.append({"name": "helper", "imageUri": "registry.example/helper:1"})
    spec = {"containerGroups": [{"name": "default", "containers": containers}]}
    return build_proton_spec(
        instance_id=instance_id,
        workload_id=new_id(),
        proton_id=proton_id or new_id(),
        spec=stored_spec(spec),
        runtime=WorkloadRuntime.model_validate({}),
        platform_env={},
        secrets=lambda _credential, _key: credential,
    )


def ended(runtime: KubernetesRuntime, proton_id: str) -> ObservedReplica:
    def check() -> ObservedReplica | None:
        seen = runtime.observe(proton_id)
        return seen[0] if len(seen) == 1 and seen[0].primary_exited else None

    found: ObservedReplica = eventually(check, what="the task's end")
    return found


def fail_job(emulator: Emulator, name: str, reason: str, message: str) -> None:
    """Mark the Job failed now, as the Job controller does."""
    job = emulator.get("jobs", NAMESPACE, name)
    condition = {"type": "Failed", "status": "True", "reason": reason, "message": message}
    job["status"] = {"failed": 1, "conditions": [{**condition, "lastTransitionTime": now_text()}]}
    emulator.put("jobs", job)


def phase(runtime: KubernetesRuntime, proton_id: str, wanted: ReplicaPhase) -> Callable[[], bool]:
    return lambda: [r.phase for r in runtime.observe(proton_id)] == [wanted]


def test_a_task_runs_as_a_job_that_is_never_retried_and_succeeds_with_exit_0(
    runtime: KubernetesRuntime, emulator: Emulator, kubelet: Kubelet
) -> None:
    kubelet.script("registry.example/ok:1", PodScript(output=("working", "result=42")))
    spec = task_spec("registry.example/ok:1")
    runtime.ensure_proton(spec)
    name = object_name(spec.proton_id, "default")
    job = emulator.get("jobs", NAMESPACE, name)
    assert job is not None and job["spec"]["backoffLimit"] == 0
    assert job["spec"]["template"]["spec"]["restartPolicy"] == "Never"
    # The run cap holds on the cluster too, a little after Dockyard's own kill.
    assert job["spec"]["activeDeadlineSeconds"] == 3600 + DEADLINE_MARGIN_SECONDS
    assert emulator.list("deployments", NAMESPACE) == []  # a task has no Deployment...
    assert emulator.list("services", NAMESPACE) == []  # ...and nothing to invoke
    seen = ended(runtime, spec.proton_id)
    assert (seen.key, seen.phase, seen.exit_code) == (("default", 0), ReplicaPhase.FAILED, 0)
    assert ended_with(seen.exit_code, seen.message).status == Status.SUCCEEDED
    # The end of its output is read once for the task's logTail, as on the docker runtime.
    assert seen.last_output == ["working", "result=42"]
    assert [line.message for line in runtime.logs(spec.proton_id)] == ["working", "result=42"]
    assert {line.replica for line in runtime.logs(spec.proton_id)} == {"default-0"}
    # A finished task stays as it is (its pod holds the output); stop does not touch it.
    runtime.stop_proton(spec.proton_id)
    assert emulator.get("jobs", NAMESPACE, name) is not None
    assert ended(runtime, spec.proton_id).exit_code == 0
    reads = emulator.count("GET", "pods")
    for _ in range(3):
        runtime.observe(spec.proton_id)
    assert emulator.count("GET", "pods") == reads  # the log tail is not read again


def test_a_task_that_exits_1_is_failed_with_its_last_words(
    runtime: KubernetesRuntime, kubelet: Kubelet
) -> None:
    kubelet.script(
        "registry.example/bad:1",
        PodScript(output=("Traceback (most recent call last):", "ValueError: no"), exit_code=1),
    )
    spec = task_spec("registry.example/bad:1")
    runtime.ensure_proton(spec)
    seen = ended(runtime, spec.proton_id)
    assert (seen.phase, seen.exit_code) == (ReplicaPhase.FAILED, 1)
    # The termination message (FallbackToLogsOnError: the log's end) names the cause.
    assert seen.message == "container main exited with code 1: ValueError: no"
    end = ended_with(seen.exit_code, seen.message)
    assert end.status == Status.FAILED and end.exit_code == 1
    assert end.failure is not None and end.failure.reason == ErrorReason.EXIT_NONZERO


def test_a_job_failed_before_its_pods_failure_is_seen_waits_for_the_exit_code(
    runtime: KubernetesRuntime, emulator: Emulator, kubelet: Kubelet
) -> None:
    # The Job controller marks the Job failed once it saw the pod fail; this server's pod
    # watch may run behind its Job watch. Ending the task then would record no exit code.
    kubelet.script("registry.example/late:1", PodScript(run_seconds=None))
    spec = task_spec("registry.example/late:1")
    runtime.ensure_proton(spec)
    eventually(phase(runtime, spec.proton_id, ReplicaPhase.RUNNING), what="running")
    name = object_name(spec.proton_id, "default")
    fail_job(emulator, name, "BackoffLimitExceeded", "Job has reached the specified backoff limit")
    eventually(
        lambda: ((runtime.jobs.get(name) or {}).get("status") or {}).get("failed") == 1,
        what="the failed Job in the runtime's watch cache",
    )
    seen = runtime.observe(spec.proton_id)
    assert [(r.phase, r.primary_exited) for r in seen] == [(ReplicaPhase.RUNNING, False)]
    kubelet.finish(name, 7)
    assert ended(runtime, spec.proton_id).exit_code == 7


def test_an_oom_kill_says_so_in_the_message(runtime: KubernetesRuntime, kubelet: Kubelet) -> None:
    kubelet.script("registry.example/hog:1", PodScript(exit_code=137, exit_reason="OOMKilled"))
    spec = task_spec("registry.example/hog:1")
    runtime.ensure_proton(spec)
    seen = ended(runtime, spec.proton_id)
    assert (
        seen.exit_code == 137 and seen.message == "container main exited with code 137 (OOMKilled)"
    )


def test_stop_kills_a_running_task_and_start_runs_it_again_under_the_same_name(
    runtime: KubernetesRuntime, emulator: Emulator, kubelet: Kubelet
) -> None:
    kubelet.script("registry.example/long:1", PodScript(output=("tick",), run_seconds=None))
    spec = task_spec("registry.example/long:1")
    runtime.ensure_proton(spec)
    eventually(phase(runtime, spec.proton_id, ReplicaPhase.RUNNING), what="running")
    running = runtime.observe(spec.proton_id)[0]
    assert running.ready and not running.primary_exited and running.started_at is not None
    name = object_name(spec.proton_id, "default")
    first_uid = emulator.get("jobs", NAMESPACE, name)["metadata"]["uid"]

    runtime.stop_proton(spec.proton_id)
    runtime.stop_proton(spec.proton_id)  # idempotent
    assert emulator.get("jobs", NAMESPACE, name) is None
    eventually(lambda: not emulator.list("pods", NAMESPACE), what="the pod killed")
    # Nothing is left that could run again on its own; the reconciler reads that as stopped.
    eventually(lambda: runtime.observe(spec.proton_id) == [], what="nothing observed")
    # What it printed before it was killed was read just before (kept_output.py).
    assert [line.message for line in runtime.logs(spec.proton_id)] == ["tick"]

    runtime.ensure_proton(spec)  # started again: a new Job under the same name
    again = emulator.get("jobs", NAMESPACE, name)
    assert again is not None and again["metadata"]["uid"] != first_uid
    eventually(phase(runtime, spec.proton_id, ReplicaPhase.RUNNING), what="running again")
    kubelet.finish(name, 3)
    assert ended(runtime, spec.proton_id).exit_code == 3


def test_ensure_of_a_finished_task_runs_it_again_and_of_a_running_one_does_nothing(
    runtime: KubernetesRuntime, emulator: Emulator, kubelet: Kubelet
) -> None:
    kubelet.script("registry.example/long:1", PodScript(run_seconds=None))
    spec = task_spec("registry.example/long:1")
    runtime.ensure_proton(spec)
    name = object_name(spec.proton_id, "default")
    eventually(phase(runtime, spec.proton_id, ReplicaPhase.RUNNING), what="running")
    creates = emulator.count("POST", "jobs")
    runtime.ensure_proton(spec)
    assert emulator.count("POST", "jobs") == creates  # never a second run while one runs
    kubelet.finish(name, 0)
    first = ended(runtime, spec.proton_id)
    assert first.exit_code == 0
    runtime.ensure_proton(spec, [])  # asked for no replica: the finished run stays
    assert emulator.count("POST", "jobs") == creates
    runtime.ensure_proton(spec)
    assert emulator.count("POST", "jobs") == creates + 1
    eventually(phase(runtime, spec.proton_id, ReplicaPhase.RUNNING), what="the second run")


def test_remove_deletes_the_job_its_pod_and_the_secret(
    runtime: KubernetesRuntime, emulator: Emulator, kubelet: Kubelet
) -> None:
    kubelet.script("registry.example/long:1", PodScript(run_seconds=None))
    spec = task_spec("registry.example/long:1", credential="s3cret")
    runtime.ensure_proton(spec)
    secret = emulator.get("secrets", NAMESPACE, secret_name(spec.proton_id))
    assert secret is not None  # the credential is read through secretKeyRef, as for services
    env = emulator.get("jobs", NAMESPACE, object_name(spec.proton_id, "default"))["spec"][
        "template"
    ]["spec"]["containers"][0]["env"]
    assert env[0]["valueFrom"]["secretKeyRef"]["name"] == secret_name(spec.proton_id)
    eventually(phase(runtime, spec.proton_id, ReplicaPhase.RUNNING), what="running")
    runtime.remove_proton(spec.proton_id)
    assert emulator.list("jobs", NAMESPACE) == []
    assert emulator.get("secrets", NAMESPACE, secret_name(spec.proton_id)) is None
    eventually(lambda: not emulator.list("pods", NAMESPACE), what="the pod gone")
    runtime.remove_proton(spec.proton_id)  # gone already: quiet


def test_a_task_whose_image_cannot_be_pulled_waits_on_the_pull_as_a_service_does(
    runtime: KubernetesRuntime, kubelet: Kubelet
) -> None:
    kubelet.script("registry.example/ghost:1", PodScript(IMAGE_PULL))
    spec = task_spec("registry.example/ghost:1")
    runtime.ensure_proton(spec)
    seen = eventually(
        lambda: [
            r for r in runtime.observe(spec.proton_id) if r.waiting_reason == Waiting.IMAGE_PULL
        ],
        what="the pull failure",
    )[0]
    assert seen.phase == ReplicaPhase.PENDING and not seen.primary_exited
    assert "pull access denied" in (seen.message or "")


def test_a_job_that_failed_before_its_pod_ran_ends_the_task_without_an_exit_code(
    runtime: KubernetesRuntime, emulator: Emulator, kubelet: Kubelet
) -> None:
    kubelet.script("registry.example/slow:1", PodScript(IMAGE_PULL))
    spec = task_spec("registry.example/slow:1")
    runtime.ensure_proton(spec)
    name = object_name(spec.proton_id, "default")
    eventually(lambda: emulator.list("pods", NAMESPACE), what="its pod")
    # Its deadline passes while the image is still pulled: the Job controller kills the pod.
    for pod in emulator.list("pods", NAMESPACE):
        emulator.remove("pods", NAMESPACE, pod["metadata"]["name"])
    fail_job(emulator, name, "DeadlineExceeded", "Job was active longer than specified deadline")
    seen = ended(runtime, spec.proton_id)
    assert seen.phase == ReplicaPhase.FAILED and seen.exit_code is None
    assert "DeadlineExceeded" in (seen.message or "")


def test_a_tasks_sidecars_are_sidecar_containers_and_its_primary_decides(
    runtime: KubernetesRuntime, emulator: Emulator, kubelet: Kubelet
) -> None:
    kubelet.script("registry.example/ok:1", PodScript(exit_code=0))
    spec = task_spec("registry.example/ok:1", sidecar=True)
    runtime.ensure_proton(spec)
    template = emulator.get("jobs", NAMESPACE, object_name(spec.proton_id, "default"))["spec"][
        "template"
    ]["spec"]
    assert [c["name"] for c in template["containers"]] == ["main"]
    assert [(c["name"], c["restartPolicy"]) for c in template["initContainers"]] == [
        ("helper", "Always")
    ]
    assert ended(runtime, spec.proton_id).exit_code == 0


def test_a_restarted_server_adopts_its_tasks_and_collects_the_unknown_ones(
    connect: Callable[[], KubernetesRuntime], emulator: Emulator, kubelet: Kubelet
) -> None:
    kubelet.script("registry.example/long:1", PodScript(run_seconds=None))
    first = connect()
    kept, stray = task_spec("registry.example/long:1"), task_spec("registry.example/long:1")
    other = task_spec("registry.example/long:1", instance_id="inst0000000000000000000b")
    for spec in (kept, stray, other):
        first.ensure_proton(spec)
    eventually(phase(first, kept.proton_id, ReplicaPhase.RUNNING), what="running")
    first.close()

    second = connect()
    found = eventually(lambda: second.adopt(INSTANCE), what="adoption")
    assert found == sorted([kept.proton_id, stray.proton_id])  # not the other installation's
    assert second.observe(kept.proton_id)[0].phase == ReplicaPhase.RUNNING  # still the same run
    assert second.garbage_collect(INSTANCE, {kept.proton_id}) == [stray.proton_id]
    names = {job["metadata"]["name"] for job in emulator.list("jobs", NAMESPACE)}
    assert names == {
        object_name(kept.proton_id, "default"),
        object_name(other.proton_id, "default"),
    }
    kubelet.finish(object_name(kept.proton_id, "default"), 0)
    assert ended(second, kept.proton_id).exit_code == 0


def test_a_service_without_probes_whose_primary_exits_is_reported_ended(
    runtime: KubernetesRuntime, emulator: Emulator, kubelet: Kubelet
) -> None:
    """The early-exit case of a service: its Deployment's primary gets a TCP readiness probe
    on its port (it declares none), never passes it, and exits; the kubelet restarting it
    does not hide that it ended."""
    kubelet.script(
        "registry.example/script:1", PodScript(EXITS, output=("done", "oops"), exit_code=2)
    )
    spec = task_spec("registry.example/script:1", port=8080)
    assert not spec.is_task
    name = object_name(spec.proton_id, "default")
    runtime.ensure_proton(spec)
    primary = emulator.get("deployments", NAMESPACE, name)["spec"]["template"]["spec"][
        "containers"
    ][0]
    assert primary["terminationMessagePolicy"] == "FallbackToLogsOnError"
    assert primary["readinessProbe"]["tcpSocket"] == {"port": 8080}  # as docker's implicit one
    seen = ended(runtime, spec.proton_id)
    assert (seen.phase, seen.exit_code, seen.ready) == (ReplicaPhase.FAILED, 2, False)
    assert seen.message == "container main exited with code 2: oops"
    kubelet.restart_exited()
    eventually(lambda: runtime.observe(spec.proton_id)[0].restart_count == 1, what="a restart")
    again = ended(runtime, spec.proton_id)
    assert again.exit_code == 2 and again.waiting_reason == Waiting.RESTART_BACKOFF
    assert "CrashLoopBackOff" in (again.message or "")
    runtime.stop_proton(spec.proton_id)  # what the reconciler does when the task ends
    assert emulator.get("deployments", NAMESPACE, name)["spec"]["replicas"] == 0
    eventually(lambda: not emulator.list("pods", NAMESPACE), what="the pod gone")
    assert [line.message for line in runtime.logs(spec.proton_id)] == ["done", "oops"]
    assert [line.message for line in runtime.tail(spec.proton_id, "main", 1)] == ["oops"]
    runtime.remove_proton(spec.proton_id)
    assert runtime.logs(spec.proton_id) == []


@pytest.mark.parametrize("version", SUPPORTED_VERSIONS)
def test_the_job_the_runtime_writes_validates_strictly(
    runtime: KubernetesRuntime, emulator: Emulator, kubelet: Kubelet, version: str
) -> None:
    kubelet.script("registry.example/long:1", PodScript(run_seconds=None))
    spec = task_spec("registry.example/long:1", credential="s3cret", sidecar=True)
    runtime.ensure_proton(spec)
    for plural in ("jobs", "secrets"):
        for written in emulator.list(plural, NAMESPACE):
            written.pop("status", None)  # the test's Job controller writes that, not Dockyard
            kubernetes_validate.validate(written, version, strict=True)


def test_a_job_another_server_made_meanwhile_is_taken_not_made_twice(
    runtime: KubernetesRuntime, emulator: Emulator, kubelet: Kubelet
) -> None:
    spec = task_spec("registry.example/long:1")
    name = object_name(spec.proton_id, "default")
    assert runtime.observe(spec.proton_id) == []  # the caches have listed
    # Written behind the cache's back: its watch event is still on its way.
    emulator.put("jobs", objects.job(spec, namespace=NAMESPACE), quiet=True)
    reads = emulator.count("GET", "jobs")
    runtime.ensure_proton(spec)
    assert emulator.count("POST", "jobs") == 1  # refused with 409...
    assert emulator.count("GET", "jobs") == reads + 1  # ...read back, and kept
    assert [r.phase for r in runtime.observe(spec.proton_id)] == [ReplicaPhase.PENDING]
    assert len(emulator.list("jobs", NAMESPACE)) == 1 and runtime.jobs.get(name) is not None

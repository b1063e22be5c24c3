"""The kubernetes runtime's verbs against the test API server, with the test as kubelet."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from dockyard.server.runtimes.base import (
    ReplicaPhase,
    RuntimePermanentError,
    RuntimeTemporaryError,
    Waiting,
)
from dockyard.server.runtimes.kubernetes.names import object_name, secret_name
from dockyard.server.runtimes.kubernetes.runtime import KubernetesRuntime
from tests.server.runtimes.kubernetes.conftest import NAMESPACE, eventually, proton_spec
from tests.server.runtimes.kubernetes.emulator import Emulator
from tests.server.runtimes.kubernetes.kubelet import (
    CRASH,
    IMAGE_PULL,
    UNSCHEDULABLE,
    Kubelet,
    PodScript,
)


def _ready(runtime: KubernetesRuntime, proton_id: str, count: int = 1) -> list:
    def check() -> list:
        seen = runtime.observe(proton_id)
        return seen if len(seen) == count and all(r.ready for r in seen) else []

    return eventually(check, what=f"{count} ready replicas")


def test_ensure_creates_the_deployment_and_service_and_reports_ready_pods(
    runtime: KubernetesRuntime, emulator: Emulator, kubelet: Kubelet
) -> None:
    spec = proton_spec(replicas=2)
    first = runtime.ensure_proton(spec)
    # Both replicas are reported at once: pending until their pods run (the cluster's to do).
    assert [r.key for r in first] == [("default", 0), ("default", 1)]
    assert {r.phase for r in first} <= {ReplicaPhase.PENDING, ReplicaPhase.RUNNING}
    name = object_name(spec.proton_id, "default")
    assert emulator.get("deployments", NAMESPACE, name)["spec"]["replicas"] == 2
    assert emulator.get("services", NAMESPACE, name) is not None
    seen = _ready(runtime, spec.proton_id, 2)
    assert {r.index for r in seen} == {0, 1}
    for replica in seen:
        assert replica.phase == ReplicaPhase.RUNNING
        assert replica.host.startswith("127.") and replica.port == 8080
        answer = httpx.get(f"http://{replica.host}:{replica.port}/hello", timeout=5)
        assert answer.status_code == 200 and answer.json()["path"] == "/hello"
        assert answer.json()["greeting"] == "hello"  # the spec's variable reached the pod


def test_ensure_writes_nothing_when_the_cluster_has_it_already(
    runtime: KubernetesRuntime, emulator: Emulator, kubelet: Kubelet
) -> None:
    spec = proton_spec()
    runtime.ensure_proton(spec)
    _ready(runtime, spec.proton_id)
    before = emulator.count()
    for _ in range(5):
        runtime.ensure_proton(spec)
        runtime.observe(spec.proton_id)
    # Everything is read from the watch caches and nothing differs: not a single request
    # (a spec with credentials would read its Secret back, which is not cached).
    assert emulator.count() == before


def test_a_conflict_on_patch_is_read_again_and_retried(
    runtime: KubernetesRuntime, emulator: Emulator, kubelet: Kubelet
) -> None:
    spec = proton_spec(replicas=1)
    runtime.ensure_proton(spec)
    _ready(runtime, spec.proton_id)
    runtime.stop_proton(spec.proton_id)
    name = object_name(spec.proton_id, "default")
    eventually(lambda: emulator.get("deployments", NAMESPACE, name)["spec"]["replicas"] == 0)
    # Someone else changes the Deployment after Dockyard read it: the write is refused once.
    emulator.fail_next("PATCH", "deployments", 409, "Conflict")
    reads = emulator.count("GET", "deployments")
    runtime.ensure_proton(spec)
    assert emulator.get("deployments", NAMESPACE, name)["spec"]["replicas"] == 1
    assert emulator.count("GET", "deployments") == reads + 1  # the re-read
    _ready(runtime, spec.proton_id)


def test_a_stale_cache_meets_409_and_catches_up(
    runtime: KubernetesRuntime, emulator: Emulator, kubelet: Kubelet
) -> None:
    spec = proton_spec()
    runtime.ensure_proton(spec)
    runtime.stop_proton(spec.proton_id)
    name = object_name(spec.proton_id, "default")

    def settled() -> bool:
        # The kubelet is done with the stop (its pod gone and reported) and the runtime's
        # cache holds the Deployment as the server does: nothing else writes it from here on.
        held = emulator.get("deployments", NAMESPACE, name)
        known = runtime.deployments.get(name)
        return (
            held is not None
            and known is not None
            and not kubelet.pods_of(NAMESPACE, name)
            and (held.get("status") or {}).get("replicas") == 0
            and known["metadata"]["resourceVersion"] == held["metadata"]["resourceVersion"]
        )

    eventually(settled, what="the stop to settle")
    # Another writer changes the object and its watch event is still on its way: the
    # runtime's patch carries the resourceVersion it knows, which is stale now.
    emulator.update(
        "deployments",
        NAMESPACE,
        name,
        lambda changed: changed["metadata"]["labels"].__setitem__("team", "blue"),
        quiet=True,
    )
    patches = emulator.count("PATCH", "deployments")
    runtime.ensure_proton(spec)
    found = emulator.get("deployments", NAMESPACE, name)
    assert found["spec"]["replicas"] == 1
    assert found["metadata"]["labels"]["team"] == "blue"  # the other writer's change stays
    assert emulator.count("PATCH", "deployments") == patches + 2  # refused once, then done


def test_a_watch_event_older_than_a_writes_answer_does_not_undo_it(
    runtime: KubernetesRuntime, emulator: Emulator, kubelet: Kubelet
) -> None:
    spec = proton_spec()
    runtime.ensure_proton(spec)
    name = object_name(spec.proton_id, "default")
    _ready(runtime, spec.proton_id)
    running = runtime.deployments.get(name)
    assert running is not None and running["spec"]["replicas"] == 1
    runtime.stop_proton(spec.proton_id)
    # A watch behind the stop's answer brings an event from before it.
    runtime.deployments._apply("MODIFIED", running)
    assert runtime.deployments.get(name)["spec"]["replicas"] == 0
    # So starting again writes the count (from the older event it would look done already).
    runtime.ensure_proton(spec)
    assert emulator.get("deployments", NAMESPACE, name)["spec"]["replicas"] == 1


def test_stop_scales_to_zero_and_start_scales_back(
    runtime: KubernetesRuntime, emulator: Emulator, kubelet: Kubelet
) -> None:
    spec = proton_spec(replicas=2)
    runtime.ensure_proton(spec)
    _ready(runtime, spec.proton_id, 2)
    runtime.stop_proton(spec.proton_id)
    runtime.stop_proton(spec.proton_id)  # idempotent
    stopped = eventually(
        lambda: [r for r in runtime.observe(spec.proton_id) if r.phase == ReplicaPhase.STOPPED]
    )
    assert [r.key for r in stopped] == [("default", 0), ("default", 1)]
    name = object_name(spec.proton_id, "default")
    assert emulator.get("deployments", NAMESPACE, name) is not None  # kept
    eventually(lambda: not kubelet.pods_of(NAMESPACE, name), what="pods gone")
    runtime.ensure_proton(spec)
    _ready(runtime, spec.proton_id, 2)


def test_remove_deletes_everything_in_the_foreground_and_is_quiet_when_gone(
    runtime: KubernetesRuntime, emulator: Emulator, kubelet: Kubelet
) -> None:
    spec = proton_spec()
    runtime.ensure_proton(spec)
    _ready(runtime, spec.proton_id)
    runtime.remove_proton(spec.proton_id)
    name = object_name(spec.proton_id, "default")
    assert emulator.get("deployments", NAMESPACE, name) is None
    assert emulator.get("services", NAMESPACE, name) is None
    assert emulator.get("secrets", NAMESPACE, secret_name(spec.proton_id)) is None
    eventually(lambda: runtime.observe(spec.proton_id) == [], what="nothing observed")
    runtime.remove_proton(spec.proton_id)


def test_a_watch_ended_with_410_gone_lists_again(
    runtime: KubernetesRuntime, emulator: Emulator, kubelet: Kubelet
) -> None:
    spec = proton_spec()
    runtime.ensure_proton(spec)
    _ready(runtime, spec.proton_id)
    lists = emulator.count("GET", "pods")
    emulator.expire_watches()
    eventually(lambda: runtime.pods.relists >= 1, what="a relist")
    assert emulator.count("GET", "pods") == lists + 1
    # What happens after the relist still arrives through the new watch.
    runtime.stop_proton(spec.proton_id)
    eventually(
        lambda: all(r.phase == ReplicaPhase.STOPPED for r in runtime.observe(spec.proton_id))
    )


def test_the_api_server_going_away_is_temporary_and_the_caches_catch_up(
    runtime: KubernetesRuntime, emulator: Emulator, kubelet: Kubelet
) -> None:
    spec = proton_spec()
    runtime.ensure_proton(spec)
    _ready(runtime, spec.proton_id)
    emulator.stop()
    eventually(lambda: any(c.trouble for c in (runtime.pods, runtime.deployments)))
    with pytest.raises(RuntimeTemporaryError, match="does not answer"):
        runtime.observe(spec.proton_id)
    with pytest.raises(RuntimeTemporaryError):
        runtime.stop_proton(spec.proton_id)
    # Meanwhile the cluster goes on: the replica count changes behind Dockyard's back.
    name = object_name(spec.proton_id, "default")
    changed = emulator.get("deployments", NAMESPACE, name)
    changed["spec"]["replicas"] = 0
    emulator.put("deployments", changed)
    emulator.start()
    eventually(
        lambda: runtime.observe(spec.proton_id) == [], timeout=15, what="caught up after outage"
    )


def test_a_new_runtime_adopts_what_the_installation_left_and_collects_the_rest(
    connect: Callable[[], KubernetesRuntime], emulator: Emulator, kubelet: Kubelet
) -> None:
    first = connect()
    kept, dropped = proton_spec(), proton_spec()
    other = proton_spec(instance_id="other00000000000000000000")
    for spec in (kept, dropped, other):
        first.ensure_proton(spec)
    _ready(first, kept.proton_id)
    first.close()
    second = connect()  # a restarted server
    assert second.adopt(kept.instance_id) == sorted([kept.proton_id, dropped.proton_id])
    assert [r.ready for r in second.observe(kept.proton_id)] == [True]
    removed = second.garbage_collect(kept.instance_id, {kept.proton_id})
    assert removed == [dropped.proton_id]
    assert emulator.get("deployments", NAMESPACE, object_name(other.proton_id, "default"))
    assert second.adopt(other.instance_id) == [other.proton_id]


def test_an_image_that_cannot_be_pulled_waits_with_its_reason(
    runtime: KubernetesRuntime, kubelet: Kubelet
) -> None:
    kubelet.script("ghost:1", PodScript(IMAGE_PULL))
    spec = proton_spec(image="ghost:1")
    runtime.ensure_proton(spec)
    seen = eventually(
        lambda: [
            r for r in runtime.observe(spec.proton_id) if "ImagePullBackOff" in (r.message or "")
        ]
    )[0]
    assert seen.phase == ReplicaPhase.PENDING and seen.waiting_reason == Waiting.IMAGE_PULL
    assert 'Back-off pulling image "ghost:1"' in (seen.message or "")
    notices = eventually(lambda: runtime.notices(spec.proton_id))
    assert notices[0].reason == "Failed" and notices[0].warning
    assert "pull access denied" in notices[0].message
    assert notices[0].replica == "default-0"
    assert runtime.notices(spec.proton_id) == []  # each notice is given once


def test_a_crash_loop_is_failed_with_its_restarts_and_last_words(
    runtime: KubernetesRuntime, kubelet: Kubelet
) -> None:
    kubelet.script("crashy:1", PodScript(CRASH, output=("cannot open config",)))
    spec = proton_spec(image="crashy:1")
    runtime.ensure_proton(spec)
    seen = eventually(
        lambda: [r for r in runtime.observe(spec.proton_id) if r.phase == ReplicaPhase.FAILED]
    )[0]
    assert seen.waiting_reason == Waiting.RESTART_BACKOFF and seen.ready is False
    assert seen.restart_count == 1 and seen.exit_code == 1
    assert seen.last_output == ["cannot open config"]
    assert "CrashLoopBackOff" in (seen.message or "")
    kubelet.crash_again()
    eventually(lambda: runtime.observe(spec.proton_id)[0].restart_count == 2)


def test_a_pod_no_node_can_take_says_so(runtime: KubernetesRuntime, kubelet: Kubelet) -> None:
    kubelet.script("huge:1", PodScript(UNSCHEDULABLE))
    spec = proton_spec(image="huge:1")
    runtime.ensure_proton(spec)
    seen = eventually(
        lambda: [
            r for r in runtime.observe(spec.proton_id) if r.waiting_reason == Waiting.SCHEDULING
        ]
    )[0]
    assert "Insufficient cpu" in (seen.message or "")
    notice = eventually(lambda: runtime.notices(spec.proton_id))[0]
    assert notice.reason == "FailedScheduling" and notice.warning and notice.replica == "default-0"


def test_logs_come_from_the_pod_log_api(runtime: KubernetesRuntime, kubelet: Kubelet) -> None:
    kubelet.script("talky:1", PodScript(output=("starting", "listening on 8080")))
    spec = proton_spec(image="talky:1")
    runtime.ensure_proton(spec)
    _ready(runtime, spec.proton_id)
    lines = runtime.logs(spec.proton_id)
    assert [(line.replica, line.container, line.message) for line in lines] == [
        ("default-0", "primary", "starting"),
        ("default-0", "primary", "listening on 8080"),
    ]
    assert [line.message for line in runtime.tail(spec.proton_id, "primary", 1)] == [
        "listening on 8080"
    ]
    assert runtime.logs(spec.proton_id, since=lines[-1].timestamp)[-1].message == (
        "listening on 8080"
    )


def test_a_missing_namespace_is_named_at_start(
    kubeconfig: Path, tmp_path: Path, emulator: Emulator
) -> None:
    from tests.server.runtimes.kubernetes.conftest import kube_settings

    settings = kube_settings(tmp_path, kubernetes_namespace="nowhere")
    with pytest.raises(RuntimePermanentError, match="namespace 'nowhere' does not exist"):
        KubernetesRuntime.connect(settings)


def test_a_role_without_a_verb_is_named_at_start(
    kubeconfig: Path, tmp_path: Path, emulator: Emulator
) -> None:
    from tests.server.runtimes.kubernetes.conftest import kube_settings

    emulator.denied |= {("watch", "pods"), ("get", "pods/log")}
    with pytest.raises(
        RuntimePermanentError, match="may not watch pods, get pods/log in namespace"
    ) as exc:
        KubernetesRuntime.connect(kube_settings(tmp_path))
    assert exc.value.code == "runtime_forbidden"


def test_no_api_server_is_named_at_start(
    kubeconfig: Path, tmp_path: Path, emulator: Emulator
) -> None:
    from tests.server.runtimes.kubernetes.conftest import kube_settings

    emulator.stop()
    with pytest.raises(RuntimePermanentError, match="cannot reach the Kubernetes API server"):
        KubernetesRuntime.connect(kube_settings(tmp_path))


def test_a_proton_left_half_made_is_made_whole_by_the_next_ensure(
    runtime: KubernetesRuntime, emulator: Emulator, kubelet: Kubelet
) -> None:
    spec = proton_spec()
    runtime.ensure_proton(spec)
    _ready(runtime, spec.proton_id)
    name = object_name(spec.proton_id, "default")
    emulator.remove("services", NAMESPACE, name)  # as if the pass died before writing it
    # Its replicas count as missing, which makes the reconciler ensure the proton again.
    eventually(lambda: runtime.observe(spec.proton_id) == [], what="replicas missing")
    runtime.ensure_proton(spec)
    assert emulator.get("services", NAMESPACE, name) is not None
    _ready(runtime, spec.proton_id)

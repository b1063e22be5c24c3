"""What the reconciler asks a runtime for, what it observes, and the verbs in between.

The unit is a proton (one concrete run of an artifact), so a runtime that manages replicas,
restarts and probes itself (Kubernetes) fits the same interface as the ones where Dockyard does
(docker, process); the `RuntimeManagesHealth` capability tells them apart. The docker and
process runtimes work replica by replica underneath; a replica is one copy of one container
group, addressed by `(group, index)` because the Workload API sizes each group on its own
(`runtime.containerGroups[].replicaCount`).

Every verb is idempotent: asking for what already exists returns it, removing what is gone
returns quietly. Failures are either temporary (retry after `delay`) or permanent (the spec or
the machine cannot work; retrying would not help) — the reconciler's retry policy reads only
these two classes.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

LABEL_INSTANCE = "dockyard.instance"
LABEL_WORKLOAD = "dockyard.workload"
LABEL_PROTON = "dockyard.proton"
LABEL_GROUP = "dockyard.group"
LABEL_REPLICA = "dockyard.replica"
LABEL_CONTAINER = "dockyard.container"

ReplicaKey = tuple[str, int]  # (container group name, replica index)


class RuntimeFailure(Exception):
    """Root of the errors a runtime raises to the reconciler."""


class RuntimeTemporaryError(RuntimeFailure):
    """The engine is busy, unreachable or slow: try the same step again after `delay` s."""

    def __init__(self, message: str, *, delay: float = 5.0) -> None:
        super().__init__(message)
        self.message = message
        self.delay = delay


class RuntimePermanentError(RuntimeFailure):
    """The step can never succeed as asked (missing image, no entrypoint, refused spec)."""

    def __init__(self, reason: str, *, code: str = "runtime_error") -> None:
        super().__init__(reason)
        self.reason = reason
        self.code = code


class ReplicaPhase(StrEnum):
    PENDING = "pending"  # created or starting; not every container runs yet
    RUNNING = "running"  # every container of the replica runs (readiness is the probes' job)
    FAILED = "failed"  # a container exited or could not start while the replica should run
    # Stopped on purpose (stop_proton); ensure_proton starts it again, except a replica that
    # is a task's one container: that never runs twice.
    STOPPED = "stopped"


class Waiting(StrEnum):
    """Why a replica that should run waits, where a rule depends on it (`waiting_reason`)."""

    IMAGE_PULL = "image_pull"  # its image could not be pulled yet; the runtime keeps trying
    RESTART_BACKOFF = "restart_backoff"  # a container failed; the runtime restarts it later
    SCHEDULING = "scheduling"  # no machine can take it yet (quota, resources)
    CREATING = "creating"  # being created (containers, volumes, the image being pulled)


@dataclass(frozen=True)
class Probe:
    """One probe as the artifact declares it: what a runtime must publish or run itself."""

    kind: str  # startup | readiness | liveness
    path: str = "/"
    port: int = 8080  # the Workload API's default probe port
    scheme: str = "HTTP"
    headers: tuple[tuple[str, str], ...] = ()
    # Timing as the artifact declares it (the Workload API's defaults otherwise); a runtime
    # that runs probes itself (Kubernetes) passes these on.
    initial_delay_seconds: int = 30
    period_seconds: int = 30
    timeout_seconds: int = 30
    failure_threshold: int = 3
    success_threshold: int = 1
    host: str | None = None  # the host to connect to; None: the replica itself


@dataclass(frozen=True)
class SecurityContext:
    read_only_root_filesystem: bool = False
    allow_privilege_escalation: bool | None = None  # False → no-new-privileges
    capabilities_add: tuple[str, ...] = ()
    capabilities_drop: tuple[str, ...] = ()
    run_as_user: int | None = None
    run_as_group: int | None = None
    run_as_non_root: bool = False
    seccomp_profile: str | None = None  # RuntimeDefault | Unconfined | Localhost
    seccomp_localhost_profile: str | None = None  # the profile's path, for Localhost

    def is_default(self) -> bool:
        return self == SecurityContext()


@dataclass(frozen=True)
class ContainerSpec:
    name: str
    image: str
    entrypoint: tuple[str, ...] | None = None
    env: Mapping[str, str] = field(default_factory=dict)  # platform variables already merged in
    port: int | None = None  # declared on the primary only
    primary: bool = False
    probes: tuple[Probe, ...] = ()
    cpu: float | None = None  # cores
    memory: int | None = None  # bytes
    security: SecurityContext = field(default_factory=SecurityContext)
    # What the container asks to be guaranteed (`resourceRequest`): Kubernetes' requests.
    cpu_request: float | None = None  # cores
    memory_request: int | None = None  # bytes
    gpu: int | None = None  # GPUs the container may use (a GPU bundle, `resourceAllocation.gpu`)
    # The names in `env` whose values come from a `dr-credential` variable: a runtime that can
    # keep them apart from the plain ones (a Kubernetes Secret) does.
    credential_env: frozenset[str] = frozenset()

    def probe_ports(self) -> list[int]:
        return [probe.port for probe in self.probes]


@dataclass(frozen=True)
class GroupScaling:
    """An autoscaled group's bounds and targets: what a runtime whose own autoscaler sizes
    the group (`RuntimeScalesGroups`) hands to it."""

    min_replicas: int
    max_replicas: int
    targets: tuple[tuple[str, float], ...]  # (scaling metric, target per ready replica)

    def target(self, metric: str) -> float | None:
        return next((value for name, value in self.targets if name == metric), None)


@dataclass(frozen=True)
class GroupSpec:
    name: str
    containers: tuple[ContainerSpec, ...]
    replica_count: int = 1  # for an autoscaled group: the count the autoscaler asks for now
    # The metrics its autoscaling policies read (empty: not autoscaled); a runtime refuses
    # those it cannot measure (`metric_not_available`).
    scaling_metrics: tuple[str, ...] = ()
    scaling: GroupScaling | None = None  # the bounds and targets of those policies

    @property
    def cpu_limit(self) -> float | None:
        """The cores the replica may use, summed over its containers; None when any container
        has no limit (its share of the machine is then not a percentage of anything)."""
        limits = [container.cpu for container in self.containers]
        if any(not limit for limit in limits):
            return None
        return float(sum(limit for limit in limits if limit))

    @property
    def primary(self) -> ContainerSpec:
        for container in self.containers:
            if container.primary:
                return container
        return self.containers[0]

    def exposed_ports(self) -> list[int]:
        """Every port the probes or the proxy reach, each once, primary's first."""
        ports: list[int] = []
        for port in [self.primary.port, *(p for c in self.containers for p in c.probe_ports())]:
            if port is not None and port not in ports:
                ports.append(port)
        return ports


@dataclass(frozen=True)
class ProtonSpec:
    instance_id: str  # the Dockyard instance: adoption and garbage collection touch only its own
    workload_id: str
    proton_id: str
    groups: tuple[GroupSpec, ...]

    def group(self, name: str) -> GroupSpec:
        for group in self.groups:
            if group.name == name:
                return group
        raise RuntimePermanentError(f"proton {self.proton_id} has no container group {name!r}")

    @property
    def is_task(self) -> bool:
        """A declared task: its primary has no port, runs once and is never restarted."""
        return any(group.primary.port is None for group in self.groups)

    def replica_keys(self) -> list[ReplicaKey]:
        """Every replica the spec counts, in (group, index) order."""
        return sorted((g.name, i) for g in self.groups for i in range(g.replica_count))

    def labels(self) -> dict[str, str]:
        return {
            LABEL_INSTANCE: self.instance_id,
            LABEL_WORKLOAD: self.workload_id,
            LABEL_PROTON: self.proton_id,
        }


@dataclass
class ObservedReplica:
    """One replica as the runtime sees it now: what `observe()` and `ensure_proton()` return."""

    group: str
    index: int
    phase: ReplicaPhase
    host: str = "127.0.0.1"
    port: int | None = None  # where the primary answers on the host
    probe_ports: dict[int, int] = field(default_factory=dict)  # container port → host port
    started_at: datetime | None = None
    restart_count: int = 0  # restarts this runtime made or saw (see each runtime)
    exit_code: int | None = None  # of the container that exited (the primary's, if it did)
    # The primary container has run and exited (phase FAILED; STOPPED when nothing else of
    # the replica was left running): a task's end, whose code is `exit_code` (None when it
    # is unknown). Every runtime reports the primary's exit first, when a sidecar also
    # exited, since that is what decides a task.
    primary_exited: bool = False
    last_output: list[str] = field(default_factory=list)  # tail of the failed container's output
    message: str | None = None  # why it failed, in words
    # Whether it answers its readiness checks. Only a runtime that manages health knows; for
    # the others it stays None and the reconciler's own probes decide.
    ready: bool | None = None
    # Why a replica that should run does not run right now (a runtime that manages health
    # waiting out its restart back-off says so here, like Kubernetes' CrashLoopBackOff): a
    # `Waiting` where the reconciler's rules depend on it, else the runtime's own word.
    waiting_reason: str | None = None

    @property
    def key(self) -> ReplicaKey:
        return (self.group, self.index)

    @property
    def replica_id(self) -> str:
        return f"{self.group}-{self.index}"


@dataclass(frozen=True)
class LogLine:
    timestamp: datetime
    replica: str  # replica_id, e.g. "default-0"
    container: str
    stream: str  # stdout | stderr
    message: str


@dataclass(frozen=True)
class RuntimeNotice:
    """Something the runtime's own supervisor said about a proton (a Kubernetes Event)."""

    reason: str  # the supervisor's word for it: BackOff, FailedScheduling, Killing, …
    message: str
    warning: bool = False  # a warning rather than a routine report
    replica: str | None = None  # replica_id, when it is about one replica
    count: int = 1  # how many times it happened


class Runtime(ABC):
    """A place where protons run.

    The reconciler calls the proton-level verbs below and nothing else. Whether it also runs
    the replicas' probes and restarts them is said by a capability: a runtime that is a
    `RuntimeManagesHealth` does both itself; for any other, the reconciler probes each replica
    on its `probe_ports` and calls `restart_replica` when a probe gives up or a replica fails.
    """

    name: str = "abstract"
    # How many lines of a failed container's output observe() keeps in `last_output`.
    tail_lines: int = 20
    # Whether its verbs are safe to call from several threads at once, for different protons:
    # then the reconciler runs passes of different workloads side by side (reconcile_workers).
    concurrent_passes: bool = False

    def validate(self, spec: ProtonSpec) -> list[str]:
        """Refuse a spec this runtime can never run (`RuntimePermanentError` with a code);
        return warnings about what it will not honour. Asked when a workload is created,
        started or replaced, and again when a proton first starts, for its warnings."""
        return []

    @abstractmethod
    def ensure_proton(
        self, spec: ProtonSpec, replicas: Collection[ReplicaKey] | None = None
    ) -> list[ObservedReplica]:
        """Bring the proton to what `spec` counts: create, start or finish building each of
        `replicas` (default: every replica the spec counts), leave the others running as they
        are, and remove replicas beyond the spec's counts. Returns the state of `replicas`."""

    @abstractmethod
    def observe(self, proton_id: str) -> list[ObservedReplica]:
        """Every replica of the proton the runtime has, sorted by (group, index)."""

    @abstractmethod
    def restart_replica(self, proton_id: str, group: str, index: int) -> ObservedReplica:
        """Restart the replica's containers now (after a failure or a failed liveness probe).
        Asked only of a runtime that does not manage health itself."""

    @abstractmethod
    def stop_proton(self, proton_id: str) -> None:
        """Stop every replica, keeping what is needed to start again and to read logs."""

    def park_proton(self, proton_id: str) -> None:
        """Stop every replica's processes for the autoscaler, which holds the proton at zero
        and may want it back any moment: a runtime that can keep what makes a start quick
        (a replica's network namespace, its published ports) keeps it. Idempotent; observe()
        reports a parked replica `stopped`, and ensure_proton starts it again."""
        self.stop_proton(proton_id)

    @abstractmethod
    def remove_proton(self, proton_id: str) -> None:
        """Stop and delete everything of the proton; gone already → return quietly."""

    @abstractmethod
    def logs(self, proton_id: str, since: datetime | None = None) -> list[LogLine]:
        """Output of every container of the proton, oldest first."""

    def tail(self, proton_id: str, container: str, lines: int) -> list[LogLine]:
        """The last `lines` lines of one container's output over the proton's replicas,
        oldest first. A runtime that can read only the end of a log overrides this."""
        found = [line for line in self.logs(proton_id) if line.container == container]
        return found[-lines:] if lines > 0 else []

    @abstractmethod
    def adopt(self, instance_id: str) -> list[str]:
        """Ids of the protons this instance left running or stopped (found by labels)."""

    def garbage_collect(self, instance_id: str, keep_proton_ids: set[str]) -> list[str]:
        """Remove this instance's protons not in `keep_proton_ids`; return the removed ids."""
        removed = [p for p in self.adopt(instance_id) if p not in keep_proton_ids]
        for proton_id in removed:
            self.remove_proton(proton_id)
        return removed

    def notices(self, proton_id: str) -> list[RuntimeNotice]:
        """What the runtime's supervisor reported about the proton since the last call, oldest
        first; each notice is given once. Only a runtime with a supervisor of its own has any."""
        return []

    def watch_changes(self, notify: Callable[[str], None]) -> None:  # noqa: B027 - optional
        """Call `notify(workload_id)` whenever the runtime sees a workload's objects change on
        their own (a pod became ready, a pull failed), so a pass looks now rather than at the
        next sweep. A runtime that learns only when asked has nothing to call."""

    def watches_exits(self) -> bool:
        """Whether `watch_changes`' notify is being called, right now, as soon as a container
        of a replica exits: then the reconciler need not look at a running task often."""
        return False

    def describe(self) -> dict[str, str]:
        """Where workloads run, in words (`runtime`, `engine`, `image store`…) for people."""
        return {"runtime": self.name}

    def close(self) -> None:  # noqa: B027 - optional hook, most runtimes hold nothing
        """Release connections and helpers; what runs keeps running."""


class RuntimeManagesHealth(Runtime):
    """Capability: the runtime probes and restarts replicas itself (as Kubernetes does).

    Its `observe()` reports each replica's `ready`, its `restart_count` and, while it waits
    to restart one, a `waiting_reason`. The reconciler reads those instead of probing, never
    calls `restart_replica`, and still decides when a replica that keeps failing makes the
    workload errored (then it stops the proton, so nothing keeps restarting)."""

    def restart_replica(self, proton_id: str, group: str, index: int) -> ObservedReplica:
        # Not this kind of runtime's verb: the reconciler never plans a restart for it, so a
        # runtime that manages health need not write one.
        raise RuntimePermanentError(
            f"{self.name} restarts its own replicas; it is never asked to", code="runtime_error"
        )


class RuntimeReportsUsage(Runtime):
    """Capability: the runtime measures the CPU its replicas use (`cpuAverageUtilization`)."""

    @abstractmethod
    def cpu_usage(self, proton_id: str) -> dict[ReplicaKey, float]:
        """Cores each running replica used, on average, since the last call for it (all of
        its containers together). A replica seen for the first time has no entry yet."""


@dataclass(frozen=True)
class RuntimeScale:
    """A group's count as the runtime's own autoscaler sets it."""

    replicas: int
    metric: str  # the scaling metric it follows
    value: float | None = None  # its last reading per ready replica (percent for CPU)


class RuntimeScalesGroups(Runtime):
    """Capability: the runtime's own autoscaler sizes some autoscaled groups (Kubernetes'
    HorizontalPodAutoscaler does, for CPU).

    For a group `own_scale` reports, the reconciler runs no rule of its own: it takes the
    runtime's count as the group's desired count, and `ensure_proton` leaves a running
    group's count to the runtime whatever the spec says (the spec's count still creates,
    stops and wakes it). A group it does not report is sized by the reconciler as on any
    runtime."""

    @abstractmethod
    def own_scale(self, proton_id: str) -> dict[str, RuntimeScale]:
        """By group name: the count the runtime's autoscaler set for each group it sizes."""


def refuse_unmeasured_cpu(spec: ProtonSpec) -> None:
    """A group that scales on CPU utilization needs a CPU limit to take a percentage of."""
    for group in spec.groups:
        if "cpuAverageUtilization" in group.scaling_metrics and group.cpu_limit is None:
            raise RuntimePermanentError(
                f"Group '{group.name}' scales on cpuAverageUtilization, a percentage of its CPU "
                "limit, but not every container has one: set resourceAllocation.cpu (or a "
                "resourceBundle) for each.",
                code="metric_not_available",
            )


class RuntimeAnswersProbes(Runtime):
    """Capability: the runtime answers a probe itself instead of over the network.

    Only the in-memory test runtime does, so reconciler tests need no listening replica."""

    @abstractmethod
    def answer_probe(self, proton_id: str, group: str, index: int, kind: str) -> bool:
        """The answer a real probe of this kind would get now."""

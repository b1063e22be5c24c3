"""An in-memory runtime for reconciler tests on a virtual clock (tests only).

Behaviour is scripted per image: a replica started from an image takes the next scripted
`FakeBehavior` (the last one sticks), so "fails twice, then works" is two lines of a test. Time
comes from an injected clock, so "exits after 30 s" or "ready after 5 s" happen when the test
advances the clock, never on real time.

It comes in the two shapes a runtime can have: `FakeRuntime` leaves health to the reconciler
(it answers the reconciler's probes itself and restarts when asked), `SelfHealingFakeRuntime`
manages health like Kubernetes (it reports readiness and restarts failed replicas itself, with
a doubling back-off). The same reconciler tests run against both.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from dockyard.server.runtimes.base import (
    LogLine,
    ObservedReplica,
    ProtonSpec,
    ReplicaKey,
    ReplicaPhase,
    RuntimeAnswersProbes,
    RuntimeFailure,
    RuntimeManagesHealth,
    RuntimePermanentError,
    RuntimeReportsUsage,
    RuntimeTemporaryError,
    refuse_unmeasured_cpu,
)


class FakeClock:
    """A clock that moves only when told to."""

    def __init__(self, start: datetime | None = None) -> None:
        self.now = start or datetime(2026, 1, 1, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@dataclass(frozen=True)
class FakeBehavior:
    fail_to_start: bool = False  # the replica is failed from the start (exit code 127)
    exit_after: float | None = None  # seconds after a start, the primary exits with exit_code
    exit_code: int = 1
    ready: bool = True  # readiness and startup probes pass (after ready_after seconds)
    ready_after: float = 0.0
    live: bool = True  # liveness probes pass
    output: tuple[str, ...] = ()  # lines printed at each start
    error: RuntimeFailure | None = None  # raised by ensure_proton instead of starting
    # Self-healing runtime only: the replica never gets running and waits for this reason (a
    # `Waiting`), as a Kubernetes pod whose image cannot be pulled does.
    waiting: str | None = None


@dataclass
class _Replica:
    spec: ProtonSpec
    group: str
    index: int
    port: int
    behavior: FakeBehavior
    started_at: datetime
    restarts: int = 0
    stopped: bool = False
    crashed: tuple[int, str] | None = None  # (exit code, message) set by crash()
    logs: list[LogLine] = field(default_factory=list)
    # Kept by the self-healing runtime: its own restart back-off and why it last restarted.
    backoff_step: int = 0
    last_restart_at: datetime | None = None
    last_failure: str | None = None


class ScriptedRuntime(RuntimeReportsUsage):
    """What both fakes share: scripted replicas on a virtual clock, every verb recorded.

    Like a container engine, it measures CPU (what a test sets with `use_cpu`) and so needs a
    CPU limit on a group that scales on it."""

    name = "fake"

    def __init__(self, clock: Callable[[], datetime] | None = None) -> None:
        self.clock = clock or (lambda: datetime.now(UTC))
        self.calls: list[tuple[str, ...]] = []  # every verb with its arguments, for assertions
        self._scripts: dict[str, list[FakeBehavior]] = {}
        self._replicas: dict[tuple[str, str, int], _Replica] = {}
        self._next_port = 20000
        # Set to a message to make every verb fail as an unreachable engine would.
        self.unreachable: str | None = None
        self.cpu: dict[ReplicaKey, float] = {}  # cores each replica uses, set by tests

    def validate(self, spec: ProtonSpec) -> list[str]:
        refuse_unmeasured_cpu(spec)
        return []

    def use_cpu(self, group: str, index: int, cores: float) -> None:
        self.cpu[(group, index)] = cores

    def cpu_usage(self, proton_id: str) -> dict[ReplicaKey, float]:
        running = {(g, i) for (p, g, i) in self._replicas if p == proton_id}
        return {key: self.cpu.get(key, 0.0) for key in running}

    # --- scripting -----------------------------------------------------------------------

    def script(self, image: str, *behaviors: FakeBehavior) -> None:
        """Starts from `image` take these behaviours in order; the last one repeats."""
        self._scripts[image] = list(behaviors)

    def crash(
        self, proton_id: str, group: str, index: int, exit_code: int = 1, line: str = ""
    ) -> None:
        """Make a running replica exit now, as a real container might at any time."""
        replica = self._replicas[(proton_id, group, index)]
        replica.crashed = (exit_code, line)
        if line:
            self._log(replica, line, "stderr")

    def restarts(self) -> int:
        """How many restarts happened, whoever made them (the reconciler or the runtime)."""
        return sum(1 for call in self.calls if call[0] in ("restart_replica", "restarted_itself"))

    def started(self) -> int:
        """How many replicas the reconciler asked to bring up (created or started)."""
        return sum(len(call) - 2 for call in self.calls if call[0] == "ensure_proton")

    def _answer(self, replica: _Replica | None, kind: str) -> bool:
        if replica is None or self._phase(replica)[0] != ReplicaPhase.RUNNING:
            return False
        if kind == "liveness":
            return replica.behavior.live
        elapsed = (self.clock() - replica.started_at).total_seconds()
        return replica.behavior.ready and elapsed >= replica.behavior.ready_after

    def spec_of(self, proton_id: str) -> ProtonSpec | None:
        """The spec a proton's replicas were started from (what a container would get)."""
        found = [r.spec for (p, _, _), r in self._replicas.items() if p == proton_id]
        return found[0] if found else None

    # --- verbs ---------------------------------------------------------------------------

    def ensure_proton(
        self, spec: ProtonSpec, replicas: Collection[ReplicaKey] | None = None
    ) -> list[ObservedReplica]:
        wanted = spec.replica_keys() if replicas is None else sorted(replicas)
        counted = set(spec.replica_keys())
        self.calls.append(("ensure_proton", spec.proton_id, *(f"{g}-{i}" for g, i in wanted)))
        for key in [k for k in self._replicas if k[0] == spec.proton_id]:
            if key[1:] not in counted:
                del self._replicas[key]
        return [self._ensure_replica(spec, group, index) for group, index in wanted]

    def _ensure_replica(self, spec: ProtonSpec, group: str, index: int) -> ObservedReplica:
        key = (spec.proton_id, group, index)
        replica = self._replicas.get(key)
        if replica is None:
            behavior = self._next_behavior(spec.group(group).primary.image)
            if behavior.error is not None:
                raise behavior.error
            self._next_port += 1
            replica = _Replica(spec, group, index, self._next_port, behavior, self.clock())
            self._replicas[key] = replica
            self._print_start(replica)
        elif replica.stopped:
            self._start(replica)
        return self._state(replica)

    def observe(self, proton_id: str) -> list[ObservedReplica]:
        if self.unreachable:
            raise RuntimeTemporaryError(self.unreachable, delay=1.0)
        found = [r for k, r in sorted(self._replicas.items()) if k[0] == proton_id]
        return [self._state(replica) for replica in found]

    def restart_replica(self, proton_id: str, group: str, index: int) -> ObservedReplica:
        self.calls.append(("restart_replica", proton_id, group, str(index)))
        replica = self._replicas.get((proton_id, group, index))
        if replica is None:
            raise RuntimePermanentError(
                f"replica {group}-{index} of proton {proton_id} does not exist",
                code="replica_not_found",
            )
        replica.restarts += 1
        self._start(replica)
        return self._state(replica)

    def stop_proton(self, proton_id: str) -> None:
        self.calls.append(("stop_proton", proton_id))
        for key, replica in self._replicas.items():
            if key[0] == proton_id:
                replica.stopped = True

    def remove_proton(self, proton_id: str) -> None:
        self.calls.append(("remove_proton", proton_id))
        for key in [k for k in self._replicas if k[0] == proton_id]:
            del self._replicas[key]

    def logs(self, proton_id: str, since: datetime | None = None) -> list[LogLine]:
        lines = [
            line
            for key, replica in self._replicas.items()
            if key[0] == proton_id
            for line in replica.logs
            if since is None or line.timestamp >= since
        ]
        return sorted(lines, key=lambda line: line.timestamp)

    def adopt(self, instance_id: str) -> list[str]:
        return sorted(
            {r.spec.proton_id for r in self._replicas.values() if r.spec.instance_id == instance_id}
        )

    # --- internals -----------------------------------------------------------------------

    def _next_behavior(self, image: str) -> FakeBehavior:
        queue = self._scripts.get(image)
        if not queue:
            return FakeBehavior()
        return queue.pop(0) if len(queue) > 1 else queue[0]

    def _start(self, replica: _Replica) -> None:
        replica.behavior = self._next_behavior(replica.spec.group(replica.group).primary.image)
        replica.started_at = self.clock()
        replica.stopped = False
        replica.crashed = None
        self._print_start(replica)

    def _print_start(self, replica: _Replica) -> None:
        for line in replica.behavior.output:
            self._log(replica, line, "stdout")

    def _log(self, replica: _Replica, message: str, stream: str) -> None:
        primary = replica.spec.group(replica.group).primary.name
        replica_id = f"{replica.group}-{replica.index}"
        replica.logs.append(LogLine(self.clock(), replica_id, primary, stream, message))

    def _phase(self, replica: _Replica) -> tuple[ReplicaPhase, int | None, str | None]:
        behavior = replica.behavior
        if replica.stopped:
            return ReplicaPhase.STOPPED, None, None
        if behavior.fail_to_start:
            return ReplicaPhase.FAILED, 127, "container could not start"
        if replica.crashed is not None:
            return ReplicaPhase.FAILED, replica.crashed[0], f"exited with code {replica.crashed[0]}"
        if behavior.exit_after is not None:
            elapsed = (self.clock() - replica.started_at).total_seconds()
            if elapsed >= behavior.exit_after:
                code = behavior.exit_code
                return ReplicaPhase.FAILED, code, f"exited with code {code}"
        return ReplicaPhase.RUNNING, None, None

    def _state(self, replica: _Replica) -> ObservedReplica:
        phase, exit_code, message = self._phase(replica)
        group = replica.spec.group(replica.group)
        ports = {p: replica.port + 1000 * n for n, p in enumerate(group.exposed_ports())}
        return ObservedReplica(
            group=replica.group,
            index=replica.index,
            phase=phase,
            port=replica.port if group.primary.port else None,
            probe_ports=ports,
            started_at=replica.started_at,
            restart_count=replica.restarts,
            exit_code=exit_code,
            # Scripted exits and crashes are the primary's (127 when it could not start, as
            # an engine reports a command that is not there).
            primary_exited=phase == ReplicaPhase.FAILED,
            last_output=[line.message for line in replica.logs][-self.tail_lines :]
            if phase == ReplicaPhase.FAILED
            else [],
            message=message,
        )


class FakeRuntime(ScriptedRuntime, RuntimeAnswersProbes):
    """The reconciler runs health: it probes (the fake answers) and asks for restarts."""

    def answer_probe(self, proton_id: str, group: str, index: int, kind: str) -> bool:
        return self._answer(self._replicas.get((proton_id, group, index)), kind)


class SelfHealingFakeRuntime(ScriptedRuntime, RuntimeManagesHealth):
    """Manages health itself, as Kubernetes does: `observe()` reports readiness, and a failed
    replica is restarted at once, then after 10 s, 20 s, … up to 300 s (the back-off resets
    once a replica has run for 600 s)."""

    BACKOFF_SECONDS = 10.0
    BACKOFF_MAX_SECONDS = 300.0
    HEALTHY_RESET_SECONDS = 600.0

    def observe(self, proton_id: str) -> list[ObservedReplica]:
        if self.unreachable:
            raise RuntimeTemporaryError(self.unreachable, delay=1.0)
        found = [r for k, r in sorted(self._replicas.items()) if k[0] == proton_id]
        for replica in found:
            self._heal(replica)
        return [self._state(replica) for replica in found]

    def _heal(self, replica: _Replica) -> None:
        """What the runtime's own supervisor has done by now: restart a failed replica once
        its back-off has passed."""
        if replica.stopped or replica.spec.is_task:
            return  # a task runs once, as a Kubernetes Job with restartPolicy Never does
        now = self.clock()
        phase, _, message = self._phase(replica)
        if phase != ReplicaPhase.FAILED:
            running_for = (now - replica.started_at).total_seconds()
            if running_for >= self.HEALTHY_RESET_SECONDS:
                replica.backoff_step = 0
            return
        if replica.last_restart_at is not None and replica.backoff_step > 0:
            delay = min(
                self.BACKOFF_SECONDS * 2 ** (replica.backoff_step - 1), self.BACKOFF_MAX_SECONDS
            )
            if (now - replica.last_restart_at).total_seconds() < delay:
                return
        self.calls.append(
            ("restarted_itself", replica.spec.proton_id, replica.group, str(replica.index))
        )
        replica.restarts += 1
        replica.backoff_step += 1
        replica.last_restart_at = now
        replica.last_failure = message
        self._start(replica)

    def _state(self, replica: _Replica) -> ObservedReplica:
        state = super()._state(replica)
        if replica.behavior.waiting and state.phase == ReplicaPhase.RUNNING:
            state.phase, state.ready = ReplicaPhase.PENDING, False
            state.waiting_reason = replica.behavior.waiting
            state.message = f"waiting: {replica.behavior.waiting}"
        elif state.phase == ReplicaPhase.FAILED:
            state.waiting_reason = "back-off restarting the failed container"
            state.ready = False
        else:
            state.ready = self._answer(replica, "readiness")
            state.message = state.message or replica.last_failure
        return state

"""An in-memory runtime for reconciler tests on a virtual clock (tests only, never documented).

Behaviour is scripted per image: a replica started from an image takes the next scripted
`FakeBehavior` (the last one sticks), so "fails twice, then works" is two lines of a test. Time
comes from an injected clock, so "exits after 30 s" or "ready after 5 s" happen when the test
advances the clock, never on real time. Probes are answered by `probe()`, which a reconciler
test wires in place of real HTTP checks.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from dockyard.server.runtimes import base
from dockyard.server.runtimes.base import (
    LogLine,
    ProtonSpec,
    ReplicaPhase,
    ReplicaState,
    RuntimeFailure,
    RuntimePermanentError,
    RuntimeTemporaryError,
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
    error: RuntimeFailure | None = None  # raised by ensure_replica instead of starting


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


class FakeRuntime(base.Runtime):
    name = "fake"

    def __init__(
        self,
        clock: Callable[[], datetime] | None = None,
        *,
        manages_health: bool = False,
    ) -> None:
        self.clock = clock or (lambda: datetime.now(UTC))
        self.manages_health = manages_health
        self.calls: list[tuple[str, ...]] = []  # every verb with its arguments, for assertions
        self._scripts: dict[str, list[FakeBehavior]] = {}
        self._replicas: dict[tuple[str, str, int], _Replica] = {}
        self._next_port = 20000
        # Set to a message to make every verb fail as an unreachable engine would.
        self.unreachable: str | None = None

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

    def probe(self, proton_id: str, group: str, index: int, kind: str) -> bool:
        """The answer a real probe of this kind would get now."""
        replica = self._replicas.get((proton_id, group, index))
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

    def ensure_replica(self, spec: ProtonSpec, group: str, index: int) -> ReplicaState:
        self.calls.append(("ensure_replica", spec.proton_id, group, str(index)))
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

    def observe(self, proton_id: str) -> list[ReplicaState]:
        if self.unreachable:
            raise RuntimeTemporaryError(self.unreachable, delay=1.0)
        found = [r for k, r in sorted(self._replicas.items()) if k[0] == proton_id]
        return [self._state(replica) for replica in found]

    def restart_replica(self, proton_id: str, group: str, index: int) -> ReplicaState:
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

    def remove_replica(self, proton_id: str, group: str, index: int) -> None:
        self.calls.append(("remove_replica", proton_id, group, str(index)))
        self._replicas.pop((proton_id, group, index), None)

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

    def garbage_collect(self, instance_id: str, keep_proton_ids: set[str]) -> list[str]:
        removed = [p for p in self.adopt(instance_id) if p not in keep_proton_ids]
        for proton_id in removed:
            self.remove_proton(proton_id)
        return removed

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

    def _state(self, replica: _Replica) -> ReplicaState:
        phase, exit_code, message = self._phase(replica)
        group = replica.spec.group(replica.group)
        ports = {p: replica.port + 1000 * n for n, p in enumerate(group.exposed_ports())}
        return ReplicaState(
            group=replica.group,
            index=replica.index,
            phase=phase,
            port=replica.port if group.primary.port else None,
            probe_ports=ports,
            started_at=replica.started_at,
            restart_count=replica.restarts,
            exit_code=exit_code,
            last_output=[line.message for line in replica.logs][-self.tail_lines :]
            if phase == ReplicaPhase.FAILED
            else [],
            message=message,
        )

"""Probe bookkeeping for one replica, as pure logic on an injected clock.

Kubernetes semantics, as the spec's probe fields are Kubernetes' own: the startup probe runs
first and holds back the other two; readiness decides whether the replica gets traffic;
liveness failing `failureThreshold` times in a row asks for a restart. A replica whose primary
container has no readiness probe is ready when its port accepts TCP connections.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from enum import StrEnum

from dockyard.core.spec import DEFAULT_PROBE_PORT, Container, ProbeConfig

HURRY_PERIOD = 0.1  # seconds between readiness checks of a replica woken from zero


class ProbeKind(StrEnum):
    STARTUP = "startup"
    READINESS = "readiness"
    LIVENESS = "liveness"


class HealthEvent(StrEnum):
    STARTED = "started"  # the startup probe passed (or there is none)
    READY = "ready"
    UNREADY = "unready"
    RESTART = "restart"  # liveness or startup failed past its threshold
    # Readiness failed `failureThreshold` times in a row on a replica that is not ready: no
    # state changes, but the user should learn why it is still launching (once per streak).
    FAILING = "failing"


@dataclass(frozen=True)
class ProbeSpec:
    kind: ProbeKind
    port: int
    container: str = "primary"
    path: str | None = None  # None: a TCP connect check
    scheme: str = "HTTP"
    headers: tuple[tuple[str, str], ...] = ()
    initial_delay: float = 30.0
    period: float = 30.0
    timeout: float = 30.0
    failure_threshold: int = 3
    success_threshold: int = 1

    @classmethod
    def from_spec(
        cls, kind: ProbeKind, probe: ProbeConfig, default_port: int, container: str
    ) -> ProbeSpec:
        return cls(
            kind=kind,
            container=container,
            port=probe.port or default_port,
            path=probe.path or "/",
            scheme=str(probe.scheme or "HTTP").upper(),
            headers=tuple(sorted((probe.http_headers or {}).items())),
            initial_delay=float(probe.initial_delay_seconds),
            period=max(float(probe.period_seconds), 0.1),
            timeout=max(float(probe.timeout_seconds), 0.1),
            failure_threshold=max(probe.failure_threshold, 1),
            success_threshold=max(probe.success_threshold or 1, 1),
        )

    @classmethod
    def tcp_fallback(cls, port: int, container: str) -> ProbeSpec:
        # No readiness probe: check the port often, so a fast app is routed to quickly.
        return cls(
            kind=ProbeKind.READINESS,
            port=port,
            container=container,
            path=None,
            initial_delay=0.0,
            period=1.0,
            timeout=1.0,
            failure_threshold=1,
        )


@dataclass
class _Track:
    spec: ProbeSpec
    next_due: float
    failures: int = 0
    successes: int = 0


@dataclass
class ReplicaHealth:
    """Where one replica's probes stand. Created when its containers (re)start.

    A replica is started when every startup probe has passed, and ready while every
    readiness probe passes, like a pod whose containers must all be ready.
    """

    started_at: float
    specs: list[ProbeSpec]
    # With no startup probe, a replica never ready this long after its start is failed and
    # restarted (and the restart limit ends it errored) instead of launching forever.
    ready_timeout: float = 300.0
    started: bool = False
    ready: bool = False
    ever_ready: bool = False
    # Why the replica is not ready yet, from its last failed probe (shown in statusDetails).
    last_failure: str | None = None
    # Requests wait for this replica (a wake from zero): readiness is checked every
    # HURRY_PERIOD until it first passes, then at its own period.
    hurry: bool = False
    _tracks: dict[tuple[str, ProbeKind], _Track] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for spec in self.specs:
            self._tracks[(spec.container, spec.kind)] = _Track(
                spec, self.started_at + spec.initial_delay
            )
        self.started = not self._of_kind(ProbeKind.STARTUP)
        self._passing: set[tuple[str, ProbeKind]] = set()
        if self.started and not self._of_kind(ProbeKind.READINESS):
            self.ready = True

    def assume(self, *, started: bool, ready: bool) -> None:
        """Take over what an earlier server process recorded (adoption after a restart)."""
        if started:
            self.started = True
            self._passing.update(key for key in self._tracks if key[1] == ProbeKind.STARTUP)
        if started and ready:
            self.ready = True
            self.ever_ready = True
            self._passing.update(key for key in self._tracks if key[1] == ProbeKind.READINESS)

    def _of_kind(self, kind: ProbeKind) -> list[_Track]:
        return [track for (_, k), track in self._tracks.items() if k == kind]

    def _active(self) -> list[_Track]:
        if not self.started:
            return [
                t
                for t in self._of_kind(ProbeKind.STARTUP)
                if (t.spec.container, t.spec.kind) not in self._passing
            ]
        return [t for (_, k), t in self._tracks.items() if k != ProbeKind.STARTUP]

    def due(self, now: float, early: float = 0.0) -> list[ProbeSpec]:
        """The probes to run at `now`; only startup probes until they have all passed.

        `early`: also those due within that many seconds (a pass that came a little early)."""
        return [track.spec for track in self._active() if now + early >= track.next_due]

    def next_due(self) -> float | None:
        dues = [track.next_due for track in self._active()]
        return min(dues) if dues else None

    def record(
        self, spec: ProbeSpec, ok: bool, now: float, why: str | None = None
    ) -> list[HealthEvent]:
        """Take one probe result (`why` it failed, if it did); returns what changed."""
        key = (spec.container, spec.kind)
        track = self._tracks[key]
        period = track.spec.period
        if self.hurry and not self.ever_ready and spec.kind == ProbeKind.READINESS:
            period = min(period, HURRY_PERIOD)
        track.next_due = now + period
        if ok:
            track.successes += 1
            track.failures = 0
        else:
            track.failures += 1
            track.successes = 0
            self.last_failure = why
        if spec.kind == ProbeKind.STARTUP:
            return self._record_startup(key, track, ok, now)
        if spec.kind == ProbeKind.READINESS:
            events = self._record_readiness(key, track, ok)
            if self.ready:
                self.ever_ready = True
            elif not ok and self._never_ready_past_timeout(now):
                events.append(HealthEvent.RESTART)
            return events
        if not ok and track.failures >= track.spec.failure_threshold:
            return [HealthEvent.RESTART]
        return []

    def _record_startup(
        self, key: tuple[str, ProbeKind], track: _Track, ok: bool, now: float
    ) -> list[HealthEvent]:
        if not ok:
            return [HealthEvent.RESTART] if track.failures >= track.spec.failure_threshold else []
        self._passing.add(key)
        if any(
            (t.spec.container, t.spec.kind) not in self._passing
            for t in self._of_kind(ProbeKind.STARTUP)
        ):
            return []
        self.started = True
        for other in self._tracks.values():
            if other.spec.kind != ProbeKind.STARTUP:
                other.next_due = max(other.next_due, now)
        events = [HealthEvent.STARTED]
        if not self._of_kind(ProbeKind.READINESS):
            self.ready = True
            events.append(HealthEvent.READY)
        return events

    def _never_ready_past_timeout(self, now: float) -> bool:
        if self.ever_ready or self._of_kind(ProbeKind.STARTUP):
            return False  # a startup probe has its own threshold for slow starters
        return now - self.started_at >= self.ready_timeout

    def _record_readiness(
        self, key: tuple[str, ProbeKind], track: _Track, ok: bool
    ) -> list[HealthEvent]:
        if ok and track.successes >= track.spec.success_threshold:
            self._passing.add(key)
        elif not ok and track.failures >= track.spec.failure_threshold:
            self._passing.discard(key)
        all_ready = all(
            (t.spec.container, t.spec.kind) in self._passing
            for t in self._of_kind(ProbeKind.READINESS)
        )
        if all_ready and not self.ready:
            self.ready = True
            self.last_failure = None
            return [HealthEvent.READY]
        if not all_ready and self.ready:
            self.ready = False
            return [HealthEvent.UNREADY]
        if not ok and not self.ready and track.failures == track.spec.failure_threshold:
            return [HealthEvent.FAILING]
        return []


def probes_for_container(
    container: Container, host_port_of: Callable[[int], int]
) -> list[ProbeSpec]:
    """The probe specs of one container; `host_port_of(container_port)` maps to reachable ports."""
    name = container.name or "primary"
    own_port = container.port or DEFAULT_PROBE_PORT
    specs: list[ProbeSpec] = []
    for kind, probe in (
        (ProbeKind.STARTUP, container.startup_probe),
        (ProbeKind.READINESS, container.readiness_probe),
        (ProbeKind.LIVENESS, container.liveness_probe),
    ):
        if probe is not None:
            spec = ProbeSpec.from_spec(kind, probe, own_port, name)
            specs.append(replace(spec, port=host_port_of(spec.port)))
    if container.primary and container.readiness_probe is None and container.port is not None:
        # A primary without a port is a task's: it is ready (counted as running) once it runs.
        specs.append(ProbeSpec.tcp_fallback(host_port_of(own_port), name))
    return specs

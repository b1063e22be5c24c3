"""Replicas as containers on a Docker-API engine (Docker, or Podman's compatible service).

One replica is one network namespace owned by a small infra container, like Kubernetes' pause
container, plus the group's containers joined to it (`network_mode=container:<infra>`):
- the infra publishes every port the probes and the proxy need, on 127.0.0.1 only and on free
  host ports; a joined container's own `ports=` is ignored by the engine, so they must all be
  declared on the namespace owner when it is created;
- restarting or recreating the primary never cuts its sidecars off, as the namespace outlives it;
- a replica parked for the autoscaler at zero (`park_proton`) keeps its infra container up, so
  a wake starts the group's containers in a namespace whose ports are already published.
The infra image is built on first use from the host's static `catatonit` (`catatonit -P` only
waits for signals), imported through the API, so it needs no registry (docker_build.py).

Observation is stateless, read from the engine and the `dockyard.*` labels, so a new runtime
object (a restarted server) sees exactly what the old one left. Two things are remembered:
`restart_count`, since engines do not count restarts they did not make themselves (Podman keeps
`RestartCount` at 0 on an API restart), so it counts the restarts of this object only (the
reconciler keeps the durable count in its replicas table); and the names of a lone task's
containers, only to look them up instead of listing (a new object lists until it ensures
the proton).
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable, Collection, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager, suppress
from datetime import datetime
from typing import Any

import docker
import docker.errors
import requests.exceptions
from docker.models.containers import Container

from dockyard.server.runtimes import base
from dockyard.server.runtimes.base import (
    LABEL_CONTAINER,
    LABEL_GROUP,
    LABEL_INSTANCE,
    LABEL_PROTON,
    LABEL_REPLICA,
    GroupSpec,
    LogLine,
    ObservedReplica,
    ProtonSpec,
    ReplicaKey,
    ReplicaPhase,
    RuntimePermanentError,
    RuntimeTemporaryError,
)
from dockyard.server.runtimes.docker_build import (
    INFRA_IMAGE,
    Limits,
    container_options,
    require_image,
    require_infra_image,
)
from dockyard.server.runtimes.docker_events import ExitWatcher
from dockyard.server.runtimes.log_file import api_lines, read_log_file
from dockyard.server.runtimes.podman_service import engine_facts
from dockyard.server.runtimes.timestamps import parse_engine_time

LABEL_ROLE = "dockyard.role"  # infra | primary | sidecar
LABEL_PRIMARY_PORT = "dockyard.primary-port"  # on the infra: which published port is the primary's
# On the infra: the names of the containers the replica is made of, so observation can tell a
# complete replica from one a server died in the middle of creating.
LABEL_MEMBERS = "dockyard.members"
INFRA = ""  # key of the infra container among a replica's containers: no spec name is empty
# Added to the name of a member container stopped by `park_proton`: a parked replica keeps its
# infra container (namespace and ports) running, and the name tells every server that its
# stopped members are parked, not failed.
PARKED = ".parked"
# On a replica's only container when it has no infra container (see `_runs_alone`).
LABEL_ALONE = "dockyard.alone"
_NAME_UNSAFE = re.compile(r"[^a-zA-Z0-9_.-]")


class DockerRuntime(base.RuntimeReportsUsage):
    name = "docker"
    concurrent_passes = True  # state lives in the engine; the engine takes calls in parallel

    def __init__(
        self,
        client: docker.DockerClient,
        *,
        stop_timeout: int = 5,
        pull_missing: bool = True,
        infra_image: str = INFRA_IMAGE,
        on_close: Callable[[], None] | None = None,
        limits: Limits | None = None,
    ) -> None:
        self.client = client
        self.limits = limits or Limits()
        self.stop_timeout = stop_timeout
        self.pull_missing = pull_missing
        self.infra_image = infra_image
        self._on_close = on_close  # e.g. stop the podman service Dockyard started
        self._restarts: dict[tuple[str, str, int], int] = {}
        # container id → (its proton, CPU time in ns, monotonic time) at its last CPU reading
        self._cpu_seen: dict[str, tuple[str, int, float]] = {}
        # Replicas are built side by side: one image check (or pull, or infra import) at a time.
        self._images = threading.Lock()
        self._exits: ExitWatcher | None = None  # see watch_changes
        # A task proton whose replicas are each one container alone → those containers'
        # names. Looking a container up by name waits on that container only, where a listing
        # by labels waits on every container the engine is creating or starting meanwhile, so
        # during a burst of tasks the end of each would be seen late. Filled by ensure_proton;
        # a restarted server lists until it ensures the proton again.
        self._lone: dict[str, list[str]] = {}

    @classmethod
    def connect(cls, base_url: str, **options: Any) -> DockerRuntime:
        """A runtime on the engine at `base_url` (`unix:///…` or `tcp://…`)."""
        with _engine_errors():
            client = docker.DockerClient(base_url=base_url, version="auto", timeout=60)
        runtime = cls(client, **options)
        runtime.base_url = base_url
        return runtime

    base_url: str | None = None  # as given to connect(); docker-py keeps a rewritten one

    def describe(self) -> dict[str, str]:
        if self.base_url is None:
            return {"runtime": self.name}
        return {"runtime": self.name, **engine_facts(self.base_url)}

    def watch_changes(self, notify: Callable[[str], None]) -> None:
        """Report each exit of a workload's container from the engine's event stream."""
        if self._exits is None:
            self._exits = ExitWatcher(
                self.client, notify, ignore=lambda labels: labels.get(LABEL_ROLE) == "infra"
            )

    def watches_exits(self) -> bool:
        return self._exits is not None and self._exits.connected

    def close(self) -> None:
        if self._exits is not None:
            self._exits.close()
            self._exits = None
        self.client.close()
        if self._on_close is not None:
            self._on_close()
            self._on_close = None

    def validate(self, spec: ProtonSpec) -> list[str]:
        base.refuse_unmeasured_cpu(spec)
        return []

    # --- verbs ---------------------------------------------------------------------------

    def ensure_proton(
        self, spec: ProtonSpec, replicas: Collection[ReplicaKey] | None = None
    ) -> list[ObservedReplica]:
        # One listing of the proton serves every replica below: each listing is a round trip
        # the engine answers slowly, and a wake or a scale-up waits on all of them.
        wanted = spec.replica_keys() if replicas is None else sorted(replicas)
        if spec.is_task:
            # A task's counts never change, so it has no replica beyond them: no listing, each
            # replica is found by its name.
            self._remember_lone(spec)
            return _side_by_side(wanted, lambda key: self._ensure_replica(spec, *key))
        with _engine_errors():
            present = _by_replica(self._list({LABEL_PROTON: spec.proton_id}))
        counted = set(spec.replica_keys())
        for group, index in set(present) - counted:
            self._remove_replica(spec.proton_id, group, index)
        return _side_by_side(
            wanted, lambda key: self._ensure_replica(spec, *key, found=present.get(key, {}))
        )

    def _ensure_replica(
        self,
        spec: ProtonSpec,
        group: str,
        index: int,
        *,
        found: dict[str, Container] | None = None,
    ) -> ObservedReplica:
        """Build, start or finish one replica; `found`: its containers, when just listed."""
        group_spec = spec.group(group)
        with _engine_errors():
            lone = _runs_alone(group_spec)
            if found is None:
                found = (
                    self._replica_alone(spec.proton_id, group_spec, index)
                    if lone
                    else self._replica(spec.proton_id, group, index)
                )
            names = {c.name for c in group_spec.containers}
            if not lone:
                names.add(INFRA)
            if set(found) != names:
                # Missing pieces (a crash between creates, a container removed by hand): a
                # half-built namespace cannot be repaired, so build the replica again.
                self._remove_containers(found)
                alone = self._create_replica(spec, group_spec, index)
                if alone is not None:  # its state from the container itself, not a listing
                    name = group_spec.primary.name
                    return self._state_of(spec.proton_id, group, index, {name: alone})
                return self._state(spec.proton_id, group, index)
            if _stopped(found):
                self._start_replica(found)  # stopped on purpose earlier: start it again
            else:
                for container in found.values():
                    if _parked(container):
                        _unpark(container)  # a wake: the namespace is up, start the members
                    elif container.status in ("created", "configured"):
                        container.start()  # created but never started (interrupted ensure)
            for container in found.values():
                container.reload()  # a look at each is quicker than listing them again
            return self._state_of(spec.proton_id, group, index, found)

    def observe(self, proton_id: str) -> list[ObservedReplica]:
        with _engine_errors():
            # One listing for the whole proton, grouped here, rather than one per replica.
            replicas = _by_replica(self._containers_of(proton_id))
            return [
                self._state_of(proton_id, group, index, replicas[(group, index)])
                for group, index in sorted(replicas)
            ]

    def cpu_usage(self, proton_id: str) -> dict[ReplicaKey, float]:
        """Cores used per replica since the last reading, from the engine's CPU counters.

        One-shot statistics carry no earlier sample on every engine, so the rate comes from
        this object's own previous reading of each container."""
        used: dict[ReplicaKey, float] = {}
        with _engine_errors():
            members = [
                c
                for c in self._list({LABEL_PROTON: proton_id})
                if c.labels.get(LABEL_ROLE) != "infra" and c.status == "running"
            ]
            readings = [(c, self._cpu_reading(c)) for c in members]
        for container, reading in readings:
            if reading is None or container.id is None:
                continue
            before = self._cpu_seen.get(container.id)
            self._cpu_seen[container.id] = (proton_id, *reading)
            key = (container.labels[LABEL_GROUP], int(container.labels[LABEL_REPLICA]))
            if before is None or reading[1] <= before[2]:
                continue
            cores = max(reading[0] - before[1], 0) / 1e9 / (reading[1] - before[2])
            used[key] = used.get(key, 0.0) + cores
        current = {c.id for c in members}
        for gone in [
            k for k, v in list(self._cpu_seen.items()) if v[0] == proton_id and k not in current
        ]:
            del self._cpu_seen[gone]
        return used

    def _cpu_reading(self, container: Container) -> tuple[int, float] | None:
        if container.id is None:
            return None
        try:
            stats = self.client.api.stats(container.id, stream=False, one_shot=True)
        except docker.errors.NotFound:
            return None
        total = (stats.get("cpu_stats") or {}).get("cpu_usage", {}).get("total_usage")
        return (int(total), time.monotonic()) if total is not None else None

    def restart_replica(self, proton_id: str, group: str, index: int) -> ObservedReplica:
        with _engine_errors():
            found = self._replica(proton_id, group, index)
            if INFRA not in found and not _alone(found):
                raise RuntimePermanentError(
                    f"replica {group}-{index} of proton {proton_id} does not exist",
                    code="replica_not_found",
                )
            if INFRA in found and found[INFRA].status != "running":
                found[INFRA].start()
            for name, container in found.items():
                if name != INFRA and _parked(container):
                    _unpark(container)
                elif name != INFRA:
                    container.restart(timeout=self.stop_timeout)
            key = (proton_id, group, index)
            self._restarts[key] = self._restarts.get(key, 0) + 1
            return self._state(proton_id, group, index)

    def _remove_replica(self, proton_id: str, group: str, index: int) -> None:
        with _engine_errors():
            self._remove_containers(self._replica(proton_id, group, index))
        self._restarts.pop((proton_id, group, index), None)

    def stop_proton(self, proton_id: str) -> None:
        with _engine_errors():
            running = [
                c
                for c in self._containers_of(proton_id)
                if c.status in ("running", "paused", "restarting")
            ]
            _in_order(running, lambda c: c.stop(timeout=self.stop_timeout))

    def park_proton(self, proton_id: str) -> None:
        """Stop the members only: the infra containers keep each replica's namespace and
        published ports, so a wake starts the workload's own containers and nothing else."""
        with _engine_errors():
            members = [
                c
                for c in self._list({LABEL_PROTON: proton_id})
                if c.labels.get(LABEL_ROLE) != "infra" and not _parked(c)
            ]
            _in_order(members, lambda c: c.stop(timeout=self.stop_timeout))
            _in_order(members, lambda c: c.rename(f"{c.name}{PARKED}"))

    def remove_proton(self, proton_id: str) -> None:
        with _engine_errors():
            self._remove_containers({str(c.id): c for c in self._containers_of(proton_id)})
        self._lone.pop(proton_id, None)
        for key in [k for k in list(self._restarts) if k[0] == proton_id]:
            del self._restarts[key]

    def logs(self, proton_id: str, since: datetime | None = None) -> list[LogLine]:
        lines: list[LogLine] = []
        with _engine_errors():
            for container in self._containers_of(proton_id):
                if container.labels.get(LABEL_ROLE) == "infra":
                    continue
                lines.extend(self._container_logs(container, since))
        lines.sort(key=lambda line: line.timestamp)
        return lines

    def tail(self, proton_id: str, container: str, lines: int) -> list[LogLine]:
        # The engine cuts the log (`tail`), so a workload with megabytes of output costs the
        # same as a quiet one.
        found: list[LogLine] = []
        with _engine_errors():
            for member in self._containers_of(proton_id, container):
                if member.labels.get(LABEL_ROLE) != "infra":
                    found.extend(self._container_logs(member, None, tail=lines))
        found.sort(key=lambda line: line.timestamp)
        return found[-lines:] if lines > 0 else []

    def adopt(self, instance_id: str) -> list[str]:
        with _engine_errors():
            found = self._list({LABEL_INSTANCE: instance_id})
        return sorted({c.labels[LABEL_PROTON] for c in found if LABEL_PROTON in c.labels})

    # --- building a replica --------------------------------------------------------------

    def _create_replica(self, spec: ProtonSpec, group: GroupSpec, index: int) -> Container | None:
        """Build the replica; a replica that is one container alone is returned, refreshed."""
        with self._images:
            for container in group.containers:
                require_image(self.client, container.image, pull_missing=self.pull_missing)
            if not _runs_alone(group):
                require_infra_image(self.client, self.infra_image)
        labels = {**spec.labels(), LABEL_GROUP: group.name, LABEL_REPLICA: str(index)}
        if _runs_alone(group):
            return self._create_alone(group, index, labels)
        ports = group.exposed_ports()
        infra = self.client.containers.create(
            self.infra_image,
            name=_container_name(spec.proton_id, group.name, index, None),
            labels={
                **labels,
                LABEL_CONTAINER: "",
                LABEL_ROLE: "infra",
                LABEL_PRIMARY_PORT: str(group.primary.port or ""),
                LABEL_MEMBERS: ",".join(c.name for c in group.containers),
            },
            # Never all interfaces: workloads are reached through the authenticated proxy.
            ports={f"{port}/tcp": ("127.0.0.1", None) for port in ports},  # type: ignore[misc]
            detach=True,
        )
        infra.start()
        for container in group.containers:
            member = self.client.containers.create(
                container.image,
                name=_container_name(spec.proton_id, group.name, index, container.name),
                labels={
                    **labels,
                    LABEL_CONTAINER: container.name,
                    LABEL_ROLE: "primary" if container is group.primary else "sidecar",
                },
                network_mode=f"container:{infra.id}",
                detach=True,
                **container_options(self.client, container, group, self.limits),
            )
            # A start the engine refuses leaves the container: observe() reports it failed with
            # the engine's reason, and the reconciler's restart budget decides what follows.
            with suppress(docker.errors.APIError):
                member.start()
        return None

    def _create_alone(self, group: GroupSpec, index: int, labels: dict[str, str]) -> Container:
        """The replica's one container, in a network namespace of its own."""
        container = group.primary
        member = self.client.containers.create(
            container.image,
            name=_container_name(labels[LABEL_PROTON], group.name, index, container.name),
            labels={
                **labels,
                LABEL_CONTAINER: container.name,
                LABEL_ROLE: "primary",
                LABEL_ALONE: "true",
            },
            detach=True,
            **container_options(self.client, container, group, self.limits),
        )
        with suppress(docker.errors.APIError):  # observe() reports it failed, as above
            member.start()
        member.reload()
        return member

    # --- reading state -------------------------------------------------------------------

    def _list(self, labels: dict[str, str]) -> list[Container]:
        filters: dict[str, str | list[str] | bool] = {
            "label": [f"{key}={value}" for key, value in labels.items()]
        }
        return self.client.containers.list(all=True, filters=filters)

    def _containers_of(self, proton_id: str, container: str | None = None) -> list[Container]:
        """The proton's containers (those named `container` in its spec, when given): a lone
        task's looked up by name (see `_lone`), others listed by label."""
        names = self._lone.get(proton_id)
        if names is not None:
            try:
                found = [self.client.containers.get(name) for name in names]
            except docker.errors.NotFound:
                pass  # not created yet, or removed by hand: the listing says what there is
            else:
                return [
                    c for c in found if container is None or c.labels[LABEL_CONTAINER] == container
                ]
        labels = {LABEL_PROTON: proton_id}
        if container is not None:
            labels[LABEL_CONTAINER] = container
        return self._list(labels)

    def _remember_lone(self, spec: ProtonSpec) -> None:
        keys = spec.replica_keys()
        if all(_runs_alone(spec.group(group)) for group, _ in keys):
            self._lone[spec.proton_id] = [
                _container_name(spec.proton_id, group, index, spec.group(group).primary.name)
                for group, index in keys
            ]

    def _replica(self, proton_id: str, group: str, index: int) -> dict[str, Container]:
        found = self._list({LABEL_PROTON: proton_id, LABEL_GROUP: group, LABEL_REPLICA: str(index)})
        return {c.labels.get(LABEL_CONTAINER) or INFRA: c for c in found}

    def _replica_alone(self, proton_id: str, group: GroupSpec, index: int) -> dict[str, Container]:
        """A lone container found by its name: a look-up, where a listing by labels makes the
        engine go through every container it has."""
        name = group.primary.name
        try:
            found = self.client.containers.get(_container_name(proton_id, group.name, index, name))
        except docker.errors.NotFound:
            return {}
        return {found.labels.get(LABEL_CONTAINER) or INFRA: found}

    def _start_replica(self, found: dict[str, Container]) -> None:
        if INFRA in found:
            found[INFRA].start()
        for name, container in found.items():
            if name != INFRA and _parked(container):
                _unpark(container)
            elif name != INFRA and container.status != "running":
                with suppress(docker.errors.APIError):  # observe() reports it failed
                    container.start()

    def _remove_containers(self, found: dict[str, Container]) -> None:
        _in_order(list(found.values()), lambda c: c.remove(force=True))

    def _state(self, proton_id: str, group: str, index: int) -> ObservedReplica:
        return self._state_of(proton_id, group, index, self._replica(proton_id, group, index))

    def _state_of(
        self, proton_id: str, group: str, index: int, found: dict[str, Container]
    ) -> ObservedReplica:
        found = dict(found)
        state = ObservedReplica(
            group=group,
            index=index,
            phase=ReplicaPhase.PENDING,
            restart_count=self._restarts.get((proton_id, group, index), 0),
        )
        infra = found.pop(INFRA, None)
        if infra is None and _alone(found):
            return self._state_alone(state, next(iter(found.values())))
        if infra is None:
            state.phase = ReplicaPhase.FAILED
            state.message = "the replica's network container is missing"
            return state
        published = _published_ports(infra)
        state.probe_ports = published
        primary_port = infra.labels.get(LABEL_PRIMARY_PORT)
        if primary_port:
            state.port = published.get(int(primary_port))
        starts = [parse_engine_time(c.attrs["State"].get("StartedAt")) for c in found.values()]
        state.started_at = max((s for s in starts if s is not None), default=None)
        members = list(found.values())
        if infra.status != "running":
            running = [c for c in members if c.status == "running"]
            state.phase = ReplicaPhase.FAILED if running else ReplicaPhase.STOPPED
            if running:
                state.message = "the replica's network container stopped"
            return state
        if members and all(_parked(c) and c.status != "running" for c in members):
            state.phase = ReplicaPhase.STOPPED  # parked for the autoscaler, see park_proton
            return state
        expected = infra.labels.get(LABEL_MEMBERS)
        if not members or (expected and set(expected.split(",")) - set(found)):
            # Half built (a server killed between two creates): still pending, so the next
            # ensure builds it again rather than probing a namespace with nothing in it.
            state.message = "the replica is missing some of its containers"
            return state
        # The primary first: when it exited, that is what ends a task.
        members.sort(key=lambda c: c.labels.get(LABEL_ROLE) != "primary")
        for container in members:
            if container.status in ("exited", "dead") or container.attrs["State"].get("Error"):
                self._describe_failure(state, container)
                return state
        if all(c.status == "running" for c in members):
            state.phase = ReplicaPhase.RUNNING
        return state

    def _state_alone(self, state: ObservedReplica, container: Container) -> ObservedReplica:
        state.started_at = parse_engine_time(container.attrs["State"].get("StartedAt"))
        if container.status in _ENDED or container.attrs["State"].get("Error"):
            self._describe_failure(state, container)
            if container.status in _ENDED:
                # Nothing of the replica runs any more: it is stopped, whether it ended on its
                # own (what ends a task) or was stopped.
                state.phase = ReplicaPhase.STOPPED
        elif container.status not in ("created", "configured"):
            state.phase = ReplicaPhase.RUNNING  # running, or on its way to a stop
        return state

    def _describe_failure(self, state: ObservedReplica, container: Container) -> None:
        status = container.attrs["State"]
        name: str = container.labels.get(LABEL_CONTAINER, container.name) or ""
        state.phase = ReplicaPhase.FAILED
        state.exit_code = status.get("ExitCode")
        state.primary_exited = container.labels.get(LABEL_ROLE) == "primary"
        reason = status.get("Error") or ""
        state.message = f"container {name} exited with code {state.exit_code}" + (
            f": {reason}" if reason else ""
        )
        # The engine's own file when it can be read: the logs API is one more round trip that
        # queues behind every create and start of a burst.
        written = read_log_file(container.attrs.get("LogPath"), tail=self.tail_lines)
        if written is not None:
            state.last_output = [message for _, _, message in written]
            return
        output = container.logs(tail=self.tail_lines).decode("utf-8", "replace")
        state.last_output = output.splitlines()[-self.tail_lines :]

    def _container_logs(
        self, container: Container, since: datetime | None, *, tail: int | None = None
    ) -> Iterator[LogLine]:
        replica = f"{container.labels[LABEL_GROUP]}-{container.labels[LABEL_REPLICA]}"
        name: str = container.labels.get(LABEL_CONTAINER, container.name) or ""
        written = read_log_file(container.attrs.get("LogPath"), tail=tail)
        if written is not None:  # the engine's own file: both streams, in order
            for moment, stream, message in written:
                if since is None or moment >= since:
                    yield LogLine(moment, replica, name, stream, message)
            return
        for stream in ("stdout", "stderr"):
            options: dict[str, Any] = {"stdout": stream == "stdout", "stderr": stream == "stderr"}
            if since is not None:
                options["since"] = since
            if tail is not None:
                options["tail"] = tail
            # Record by record (`stream`), and only what is there now (`follow` would wait).
            frames = container.logs(timestamps=True, stream=True, follow=False, **options)
            for moment, message in api_lines(frames):
                if since is None or moment >= since.replace(microsecond=0):
                    yield LogLine(moment, replica, name, stream, message)


# A container's states once its program ended. Podman says `stopped` for a moment between the
# exit and its clean-up: read as anything else, an ended task could be taken as still to start.
_ENDED = ("exited", "dead", "stopped")


def _runs_alone(group: GroupSpec) -> bool:
    """Whether the group's replicas need no infra container: a single container that
    publishes no port (a task) shares its network namespace with nobody and is reached by
    nobody, so it owns its namespace, which spares the engine a container to create, start
    and stop for every run."""
    return len(group.containers) == 1 and not group.exposed_ports()


def _alone(found: dict[str, Container]) -> bool:
    return len(found) == 1 and next(iter(found.values())).labels.get(LABEL_ALONE) == "true"


def _stopped(found: dict[str, Container]) -> bool:
    """Whether a complete replica was stopped (its namespace's owner no longer runs), to be
    started again. A lone task container that ended is not: a task runs once (starting it
    again makes a new proton), so its end is reported, never followed by a second run."""
    return INFRA in found and found[INFRA].status != "running"


def _published_ports(infra: Container) -> dict[int, int]:
    ports: dict[int, int] = {}
    for key, bindings in (infra.attrs["NetworkSettings"].get("Ports") or {}).items():
        if bindings:
            ports[int(key.split("/")[0])] = int(bindings[0]["HostPort"])
    return ports


def _container_name(proton_id: str, group: str, index: int, container: str | None) -> str:
    name = f"dockyard-{proton_id}-{group}-{index}"
    if container is not None:
        name += f".{container}"
    return _NAME_UNSAFE.sub("_", name)


def _in_order(containers: list[Container], action: Callable[[Container], object]) -> None:
    """Act on members first, then on their infra containers, each batch in parallel.

    An infra container with members still attached cannot be removed, and stopping it first
    would leave them running in an orphaned namespace. Each stop or removal is a round trip
    to the engine that waits on the container, so the members of a batch go concurrently.
    """
    members = [c for c in containers if c.labels.get(LABEL_ROLE) != "infra"]
    infras = [c for c in containers if c.labels.get(LABEL_ROLE) == "infra"]
    for batch in (members, infras):
        if len(batch) == 1:
            _quietly(lambda c=batch[0]: action(c))
        elif batch:
            with ThreadPoolExecutor(max_workers=min(8, len(batch))) as pool:
                for future in [pool.submit(_quietly, lambda c=c: action(c)) for c in batch]:
                    future.result()


def _by_replica(containers: list[Container]) -> dict[ReplicaKey, dict[str, Container]]:
    """A proton's containers by replica, each replica's by container name (INFRA: its infra)."""
    replicas: dict[ReplicaKey, dict[str, Container]] = {}
    for c in containers:
        key = (c.labels[LABEL_GROUP], int(c.labels[LABEL_REPLICA]))
        replicas.setdefault(key, {})[c.labels.get(LABEL_CONTAINER) or INFRA] = c
    return replicas


def _parked(container: Container) -> bool:
    return bool(container.name and container.name.endswith(PARKED))


def _unpark(container: Container) -> None:
    """Its own name back, then started (a start the engine refuses: observe() says why)."""
    assert container.name is not None
    container.rename(container.name.removesuffix(PARKED))
    with suppress(docker.errors.APIError):
        container.start()


def _side_by_side(
    keys: list[ReplicaKey], action: Callable[[ReplicaKey], ObservedReplica]
) -> list[ObservedReplica]:
    """Bring several replicas up at once, answered in the order given: each one's creates and
    starts wait on the engine (storage, network namespace), not on this process, so replicas
    the autoscaler adds together are serving about as soon as one alone would be."""
    if len(keys) <= 1:
        return [action(key) for key in keys]
    with ThreadPoolExecutor(max_workers=min(8, len(keys))) as pool:
        return list(pool.map(action, keys))


def _quietly(action: Any) -> None:
    """Run a stop or remove; a container already gone is what was wanted."""
    try:
        action()
    except docker.errors.NotFound:
        pass
    except docker.errors.APIError as error:
        if "no such container" not in str(error).lower():
            raise


@contextmanager
def _engine_errors() -> Iterator[None]:
    """Translate engine failures into the reconciler's two kinds."""
    try:
        yield
    except (RuntimePermanentError, RuntimeTemporaryError):
        raise
    except docker.errors.ImageNotFound as error:
        raise RuntimePermanentError(
            str(error.explanation or error), code="image_not_found"
        ) from error
    except (requests.exceptions.ConnectionError, requests.exceptions.Timeout) as error:
        raise RuntimeTemporaryError(f"container engine unreachable: {error}", delay=5) from error
    except docker.errors.DockerException as error:
        # Unknown engine errors are retried (bounded by the reconciler), never fatal at once.
        raise RuntimeTemporaryError(f"container engine error: {error}", delay=5) from error

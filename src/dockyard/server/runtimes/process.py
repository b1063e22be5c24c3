"""Replicas as local processes, for machines with no container engine and for fast tests.

Each container's `entrypoint` runs as a child in its own session under `process_shim.py`, which
timestamps its output into a file and records its exit code. Everything the runtime knows lives
in files under its directory, so a restarted server (or a new runtime object) adopts running
children by their pid files and loses no log line:

    <root>/<proton>/proton.json                 instance, workload and proton ids
    <root>/<proton>/<group>-<index>/replica.json  port, restarts, stopped on purpose, workspace
    <root>/<proton>/<group>-<index>/<container>.pid|.log|.exit

These are 0600 files in 0700 directories: replica.json holds the decrypted environment.

There is no isolation: replicas run as the server's user and ports are the host's. What can be
kept from them is: each replica starts in a workspace of its own (a fresh directory outside the
data dir, also its HOME, kept across restarts and removed with the replica) with a fresh
environment (`PATH`, `LANG`, `LC_*`, `TZ`, then its spec's variables), never in this directory;
the server makes itself non-dumpable, so the replicas cannot read its memory or the environment
it started with (`/proc/<pid>/environ`), and a server running as root starts them without
capabilities (but binding low ports). The first replica gets the container's declared
port, further replicas (and a first replica whose port is taken, as during a replacement) a free
one, always said in `PORT`. Images, limits and securityContext cannot be applied; `validate()`
says so in warnings instead of pretending.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import stat
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Collection, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from dockyard.server.runtimes import base, pids
from dockyard.server.runtimes.base import (
    GroupSpec,
    LogLine,
    ObservedReplica,
    ProtonSpec,
    ReplicaKey,
    ReplicaPhase,
    RuntimePermanentError,
)
from dockyard.server.runtimes.timestamps import format_time, parse_engine_time

SHIM = Path(__file__).with_name("process_shim.py")
# The server's own environment holds secrets (DOCKYARD_ADMIN_TOKEN…); children get only these
# (and every LC_* variable), with HOME set to their own workspace.
INHERITED_ENV = ("PATH", "LANG", "TZ")
_UNSAFE = re.compile(r"[^a-zA-Z0-9_.-]")


class ProcessRuntime(base.Runtime):
    name = "process"
    concurrent_passes = True  # every verb takes the runtime's lock

    def __init__(
        self,
        root: Path,
        *,
        stop_timeout: float = 5.0,
        workspaces: Path | None = None,
        log_max_bytes: int = 10 * 1024 * 1024,
    ) -> None:
        self.root = Path(root)
        self.log_max_bytes = log_max_bytes  # per container; past it the oldest half goes
        self.root.mkdir(parents=True, exist_ok=True, mode=0o700)
        self.root.chmod(0o700)
        # Where replicas' own directories are made: outside the data dir, like any scratch.
        self.workspaces = Path(workspaces or tempfile.gettempdir())
        self.stop_timeout = stop_timeout
        pids.hide_from_children()
        self._lock = threading.RLock()
        self._children: dict[int, subprocess.Popen[bytes]] = {}  # reaped as they exit
        # Parsed replica and pid files by path, each with the (inode, mtime, size) it was read
        # at: observing hundreds of replicas every few seconds then costs a stat per file.
        # Every write replaces a file (new inode), so a changed file is never served stale.
        self._files: dict[Path, tuple[tuple[int, int, int], dict[str, Any] | None]] = {}

    def describe(self) -> dict[str, str]:
        return {
            "runtime": self.name,
            "engine": "none: each container's entrypoint runs as a local process of this user",
            "image store": "none: images are not used",
            "replica directories": f"new ones in {self.workspaces}",
        }

    def validate(self, spec: ProtonSpec) -> list[str]:
        warnings: list[str] = []
        for group in spec.groups:
            if "cpuAverageUtilization" in group.scaling_metrics:
                raise RuntimePermanentError(
                    f"Group '{group.name}' scales on cpuAverageUtilization, which the process "
                    "runtime cannot measure (it sets no CPU limit to take a percentage of); "
                    "scale on httpRequestsConcurrency instead.",
                    code="metric_not_available",
                )
            for container in group.containers:
                if not container.entrypoint:
                    raise RuntimePermanentError(
                        f"Container '{container.name}' has no entrypoint, and this server runs "
                        "workloads as local processes (no container engine): give it an "
                        "entrypoint.",
                        code="entrypoint_required",
                    )
                warnings.append(
                    f"container {container.name}: the process runtime runs the entrypoint on "
                    f"this machine; image {container.image} is not used"
                )
                if container.cpu or container.memory:
                    warnings.append(
                        f"container {container.name}: cpu and memory limits are not enforced "
                        "by the process runtime"
                    )
                if not container.security.is_default() and spec.is_task:
                    # A task is often code someone else wrote, run for them: hardening it
                    # asked for that cannot be applied must not be silently dropped.
                    raise RuntimePermanentError(
                        f"Container '{container.name}' asks for a securityContext, and this "
                        "server runs workloads as local processes, which cannot enforce one; "
                        "run the task on a server with a container engine, or remove the "
                        "securityContext.",
                        code="security_context_not_enforceable",
                    )
                if not container.security.is_default():
                    warnings.append(
                        f"container {container.name}: securityContext is not applied by the "
                        "process runtime"
                    )
        return warnings

    # --- verbs ---------------------------------------------------------------------------

    def ensure_proton(
        self, spec: ProtonSpec, replicas: Collection[ReplicaKey] | None = None
    ) -> list[ObservedReplica]:
        self.validate(spec)  # a spec stored while the server ran another runtime is refused
        counted = set(spec.replica_keys())
        for group, index in self._replica_keys(spec.proton_id) - counted:
            self._remove_replica(spec.proton_id, group, index)
        wanted = spec.replica_keys() if replicas is None else sorted(replicas)
        return [self._ensure_replica(spec, group, index) for group, index in wanted]

    def _ensure_replica(self, spec: ProtonSpec, group: str, index: int) -> ObservedReplica:
        group_spec = spec.group(group)
        with self._lock:
            directory = self._replica_dir(spec.proton_id, group, index)
            record = _read_json(directory / "replica.json")
            if record is None:
                self._write_proton(spec)
                directory.mkdir(exist_ok=True, mode=0o700)
                record = {"group": group, "index": index, "restarts": 0, "stopped": False}
                record.update(self._choose_ports(group_spec, index))
                record["spec"] = _spec_record(group_spec)
                _write_json(directory / "replica.json", record)
                self._start_all(directory, record)
            elif record["stopped"]:
                record["stopped"] = False
                _take_a_free_port(record)
                _write_json(directory / "replica.json", record)
                self._start_all(directory, record)
            return self._state(directory)

    def observe(self, proton_id: str) -> list[ObservedReplica]:
        with self._lock:
            proton_dir = self.root / _safe(proton_id)
            if not proton_dir.is_dir():
                return []
            states = [self._state(d) for d in proton_dir.iterdir() if (d / "replica.json").exists()]
        return sorted(states, key=lambda s: (s.group, s.index))

    def restart_replica(self, proton_id: str, group: str, index: int) -> ObservedReplica:
        with self._lock:
            directory = self._replica_dir(proton_id, group, index)
            record = _read_json(directory / "replica.json")
            if record is None:
                raise RuntimePermanentError(
                    f"replica {group}-{index} of proton {proton_id} does not exist",
                    code="replica_not_found",
                )
            self._kill_all(directory, record)
            record["restarts"] += 1
            record["stopped"] = False
            _take_a_free_port(record)
            _write_json(directory / "replica.json", record)
            self._start_all(directory, record)
            return self._state(directory)

    def _remove_replica(self, proton_id: str, group: str, index: int) -> None:
        with self._lock:
            directory = self._replica_dir(proton_id, group, index)
            record = _read_json(directory / "replica.json")
            if record is not None:
                self._kill_all(directory, record)
                _remove_workspace(record)
            shutil.rmtree(directory, ignore_errors=True)
            self._forget(directory)

    def stop_proton(self, proton_id: str) -> None:
        with self._lock:
            for directory, record in self._replicas(proton_id):
                # Marked first, so a child exiting under SIGTERM is never reported as failed.
                record["stopped"] = True
                _write_json(directory / "replica.json", record)
                self._kill_all(directory, record)

    def remove_proton(self, proton_id: str) -> None:
        with self._lock:
            for directory, record in self._replicas(proton_id):
                self._kill_all(directory, record)
                _remove_workspace(record)
            shutil.rmtree(self.root / _safe(proton_id), ignore_errors=True)
            self._forget(self.root / _safe(proton_id))

    def logs(self, proton_id: str, since: datetime | None = None) -> list[LogLine]:
        lines: list[LogLine] = []
        for directory, record in self._replicas(proton_id):
            replica = f"{record['group']}-{record['index']}"
            for container in record["spec"]["containers"]:
                for moment, stream, message in _read_log(directory / f"{_safe(container)}.log"):
                    if since is None or moment >= since:
                        lines.append(LogLine(moment, replica, container, stream, message))
        lines.sort(key=lambda line: line.timestamp)
        return lines

    def tail(self, proton_id: str, container: str, lines: int) -> list[LogLine]:
        # Only the end of each log file is read: a GET of the workload must not parse
        # megabytes of output to show fifty lines.
        found: list[LogLine] = []
        for directory, record in self._replicas(proton_id):
            if container not in record["spec"]["containers"]:
                continue
            replica = f"{record['group']}-{record['index']}"
            path = directory / f"{_safe(container)}.log"
            for moment, stream, message in _read_log_end(path, lines):
                found.append(LogLine(moment, replica, container, stream, message))
        found.sort(key=lambda line: line.timestamp)
        return found[-lines:] if lines > 0 else []

    def adopt(self, instance_id: str) -> list[str]:
        found = []
        for proton_file in self.root.glob("*/proton.json"):
            proton = _read_json(proton_file)
            if proton and proton.get("instance_id") == instance_id:
                found.append(proton["proton_id"])
        return sorted(found)

    # --- processes -----------------------------------------------------------------------

    def _start_all(self, directory: Path, record: dict[str, Any]) -> None:
        workspace = self._workspace(directory, record)
        for container in record["spec"]["containers"]:
            name = _safe(container)
            (directory / f"{name}.exit").unlink(missing_ok=True)
            env = replica_environment(os.environ, workspace)
            env.update(record["spec"]["env"][container])
            env["PORT"] = str(record["port"])
            command = record["spec"]["entrypoint"][container]
            # The shim's own complaints (it has none unless broken) go to a file, not to us.
            # It starts here, opens its files by these relative names, then starts the command
            # in the workspace.
            with _private_file(directory / f"{name}.shim.log") as shim_log:
                child = subprocess.Popen(
                    [
                        sys.executable,
                        "-I",
                        str(SHIM),
                        f"{name}.log",
                        f"{name}.exit",
                        str(workspace),
                        str(self.log_max_bytes),
                        "--",
                        *command,
                    ],
                    cwd=directory,
                    env=env,
                    stdin=subprocess.DEVNULL,
                    stdout=subprocess.DEVNULL,
                    stderr=shim_log,
                    start_new_session=True,  # survives the server; one group to signal
                )
            self._children[child.pid] = child
            _write_json(
                directory / f"{name}.pid",
                {
                    "pid": child.pid,
                    "start_ticks": pids.start_ticks(child.pid),
                    "started_at": format_time(datetime.now(UTC)),
                },
            )

    def _workspace(self, directory: Path, record: dict[str, Any]) -> Path:
        """The replica's own directory (cwd and HOME), the same one across its restarts."""
        known = record.get("workspace")
        if known and _is_own_directory(Path(known)):
            return Path(known)
        # First start, or the directory went (a temp cleaner, a reboot). A fresh random name:
        # never re-created under an old name that another local user could have taken meanwhile.
        self.workspaces.mkdir(parents=True, exist_ok=True)
        record["workspace"] = tempfile.mkdtemp(prefix="dockyard-replica-", dir=self.workspaces)
        _write_json(directory / "replica.json", record)
        return Path(record["workspace"])

    def _kill_all(self, directory: Path, record: dict[str, Any]) -> None:
        """SIGTERM every container's session, SIGKILL what is left after the grace period."""
        infos = list(self._pids(directory, record).values())
        running = [p for p in infos if self._alive(p)]
        for info in infos:
            if info not in running and pids.gone(info["pid"]):
                # The shim died (killed) but the command it started may live on in its
                # group, holding the port: a pid still in use as a group id is never
                # handed to a new process, so this group can only be ours.
                pids.signal_group(info["pid"], signal.SIGKILL)
        for info in running:
            pids.signal_group(info["pid"], signal.SIGTERM)
        deadline = time.monotonic() + self.stop_timeout
        while running and time.monotonic() < deadline:
            time.sleep(0.02)
            running = [p for p in running if self._alive(p)]
        for info in running:
            pids.signal_group(info["pid"], signal.SIGKILL)
        for info in running:
            child = self._children.pop(info["pid"], None)
            if child is not None:
                child.wait(timeout=5)

    def _alive(self, info: dict[str, Any]) -> bool:
        child = self._children.get(info["pid"])
        if child is not None:
            if child.poll() is None:
                return True  # our own child, not reaped yet: its pid cannot be anyone else's
            del self._children[info["pid"]]  # reaped now, so its pid is free
            return False
        return pids.alive(info["pid"], info.get("start_ticks"))

    def _forget(self, directory: Path) -> None:
        for path in [path for path in self._files if directory in path.parents]:
            del self._files[path]

    def _read(self, path: Path) -> dict[str, Any] | None:
        """`_read_json` for what is only read, from the parsed copy while the file is the same.

        Callers must not change what it returns."""
        try:
            found = os.stat(path)
        except (FileNotFoundError, NotADirectoryError):
            self._files.pop(path, None)
            return None
        key = (found.st_ino, found.st_mtime_ns, found.st_size)
        known = self._files.get(path)
        if known is not None and known[0] == key:
            return known[1]
        value = _read_json(path)
        self._files[path] = (key, value)
        return value

    def _pids(self, directory: Path, record: dict[str, Any]) -> dict[str, dict[str, Any]]:
        found = {}
        for container in record["spec"]["containers"]:
            info = self._read(directory / f"{_safe(container)}.pid")
            if info is not None:
                found[container] = info
        return found

    # --- state ---------------------------------------------------------------------------

    def _state(self, directory: Path) -> ObservedReplica:
        record = self._read(directory / "replica.json") or {}
        state = ObservedReplica(
            group=record["group"],
            index=record["index"],
            phase=ReplicaPhase.RUNNING,
            port=record["port"],
            probe_ports={int(k): v for k, v in record["probe_ports"].items()},
            restart_count=record["restarts"],
        )
        infos = self._pids(directory, record)
        starts = [parse_engine_time(i.get("started_at")) for i in infos.values()]
        state.started_at = max((s for s in starts if s is not None), default=None)
        if record["stopped"]:
            state.phase = ReplicaPhase.STOPPED
            return state
        primary = record["spec"]["primary"]
        # The primary first: when it exited, that is what ends a task.
        for container in sorted(record["spec"]["containers"], key=lambda c: c != primary):
            info = infos.get(container)
            if info is not None and self._alive(info):
                continue
            name = _safe(container)
            exit_text = _read_text(directory / f"{name}.exit")
            state.phase = ReplicaPhase.FAILED
            state.exit_code = int(exit_text) if exit_text else None
            state.primary_exited = container == primary
            tail = [message for _, _, message in _read_log(directory / f"{name}.log")]
            state.last_output = tail[-self.tail_lines :]
            if state.exit_code is None:  # killed, or the machine restarted under it
                state.message = f"container {container} is not running (exit code unknown)"
            else:
                state.message = f"container {container} exited with code {state.exit_code}"
            if record.get("port_was_busy") and container == record["spec"]["primary"]:
                state.message += f" (port {record['declared_port']} was already in use)"
            return state
        return state

    def _choose_ports(self, group: GroupSpec, index: int) -> dict[str, Any]:
        declared = group.primary.port
        port = _pick_port(declared, index)
        probe_ports = {p: p for p in group.exposed_ports()}
        if declared:
            probe_ports[declared] = port
        return {
            "port": port,
            "declared_port": declared,
            "port_was_busy": bool(declared and index == 0 and port != declared),
            "probe_ports": probe_ports,
        }

    # --- files ---------------------------------------------------------------------------

    def _replica_dir(self, proton_id: str, group: str, index: int) -> Path:
        return self.root / _safe(proton_id) / f"{_safe(group)}-{index}"

    def _replica_keys(self, proton_id: str) -> set[ReplicaKey]:
        return {(record["group"], record["index"]) for _, record in self._replicas(proton_id)}

    def _replicas(self, proton_id: str) -> list[tuple[Path, dict[str, Any]]]:
        proton_dir = self.root / _safe(proton_id)
        found = []
        if proton_dir.is_dir():
            for directory in sorted(proton_dir.iterdir()):
                record = _read_json(directory / "replica.json")
                if record is not None:
                    found.append((directory, record))
        return found

    def _write_proton(self, spec: ProtonSpec) -> None:
        proton_dir = self.root / _safe(spec.proton_id)
        proton_dir.mkdir(exist_ok=True, mode=0o700)
        if not (proton_dir / "proton.json").exists():
            ids = {
                "instance_id": spec.instance_id,
                "workload_id": spec.workload_id,
                "proton_id": spec.proton_id,
            }
            _write_json(proton_dir / "proton.json", ids)


def replica_environment(server: Mapping[str, str], home: Path) -> dict[str, str]:
    """What a replica starts with before its spec's variables: locale, time zone, PATH, HOME."""
    env = {key: value for key, value in server.items() if key in INHERITED_ENV or key[:3] == "LC_"}
    env["HOME"] = str(home)
    return env


def _is_own_directory(path: Path) -> bool:
    try:
        status = path.lstat()
    except OSError:
        return False
    return stat.S_ISDIR(status.st_mode) and status.st_uid == os.getuid()


def _remove_workspace(record: dict[str, Any]) -> None:
    if record.get("workspace") and _is_own_directory(Path(record["workspace"])):
        shutil.rmtree(record["workspace"], ignore_errors=True)


def _spec_record(group: GroupSpec) -> dict[str, Any]:
    """What a restart needs, kept with the replica so it survives the server."""
    return {
        "containers": [c.name for c in group.containers],
        "primary": group.primary.name,
        "entrypoint": {c.name: list(c.entrypoint or ()) for c in group.containers},
        "env": {c.name: dict(c.env) for c in group.containers},
    }


def _read_log(path: Path) -> list[tuple[datetime, str, str]]:
    entries = []
    try:
        with open(path, encoding="utf-8", errors="replace") as handle:
            for line in handle:
                stamp, _, rest = line.rstrip("\n").partition(" ")
                stream, _, message = rest.partition(" ")
                moment = parse_engine_time(stamp)
                if moment is not None:
                    entries.append((moment, stream, message))
    except FileNotFoundError:
        pass
    return entries


def _read_log_end(path: Path, lines: int) -> list[tuple[datetime, str, str]]:
    """The last `lines` entries of a log file, reading back from its end as far as needed."""
    chunk = 64 * 1024
    try:
        with open(path, "rb") as handle:
            size = handle.seek(0, os.SEEK_END)
            while True:
                start = max(0, size - chunk)
                handle.seek(start)
                data = handle.read(size - start)
                text = data.decode("utf-8", errors="replace").splitlines()
                if start > 0:
                    text = text[1:]  # the first line is cut
                if start == 0 or len(text) > lines:
                    break
                chunk *= 4
    except FileNotFoundError:
        return []
    entries = []
    for line in text[-lines:] if lines > 0 else []:
        stamp, _, rest = line.partition(" ")
        stream, _, message = rest.partition(" ")
        moment = parse_engine_time(stamp)
        if moment is not None:
            entries.append((moment, stream, message))
    return entries


def _take_a_free_port(record: dict[str, Any]) -> None:
    """Before a replica starts again: a new port when its own was taken meanwhile.

    A port is free when it is handed out, but another program (or a replica of another
    workload declaring the same port, started at the same moment) may bind it before the app
    does; the app then exits, and on the same port every restart would fail the same way. A
    port nobody took stays the replica's."""
    if _port_free(record["port"]):
        return
    declared = record["declared_port"]
    record["port"] = port = _pick_port(declared, record["index"])
    record["port_was_busy"] = bool(declared and record["index"] == 0 and port != declared)
    if declared:
        record["probe_ports"][str(declared)] = port


def _pick_port(declared: int | None, index: int) -> int:
    """The first replica gets its declared port when that is free; the others a free one."""
    return declared if declared and index == 0 and _port_free(declared) else _free_port()


def _port_free(port: int) -> bool:
    with socket.socket() as probe:
        # As servers do, so a port left in TIME_WAIT by a previous replica counts as free.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _safe(name: str) -> str:
    return _UNSAFE.sub("_", name)


def _read_text(path: Path) -> str | None:
    try:
        return path.read_text().strip()
    except (FileNotFoundError, NotADirectoryError):
        return None


def _read_json(path: Path) -> dict[str, Any] | None:
    text = _read_text(path)
    return json.loads(text) if text else None


def _private_file(path: Path) -> Any:
    """`path` opened for appending, created 0600 (never readable by others, even for a moment)."""
    return os.fdopen(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600), "ab")


def _write_json(path: Path, value: dict[str, Any]) -> None:
    temporary = path.with_suffix(path.suffix + ".tmp")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as handle:
        handle.write(json.dumps(value))
    os.replace(temporary, path)

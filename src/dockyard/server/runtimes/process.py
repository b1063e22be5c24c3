"""Replicas as local processes, for machines with no container engine and for fast tests.

Each container's `entrypoint` runs as a child in its own session under `process_shim.py`, which
timestamps its output into a file and records its exit code. Everything the runtime knows lives
in files under its directory, so a restarted server (or a new runtime object) adopts running
children by their pid files and loses no log line:

    <root>/<proton>/proton.json                 instance, workload and proton ids
    <root>/<proton>/<group>-<index>/replica.json  port, restarts, stopped on purpose
    <root>/<proton>/<group>-<index>/<container>.pid|.log|.exit

There is no isolation: ports are the host's. The first replica gets the container's declared
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
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from dockyard.server.runtimes import base, pids
from dockyard.server.runtimes.base import (
    GroupSpec,
    LogLine,
    ProtonSpec,
    ReplicaPhase,
    ReplicaState,
    RuntimePermanentError,
)
from dockyard.server.runtimes.timestamps import format_time, parse_engine_time

SHIM = Path(__file__).with_name("process_shim.py")
# The server's own environment holds secrets (DOCKYARD_ADMIN_TOKEN…); children get only these.
INHERITED_ENV = ("PATH", "HOME", "LANG", "LC_ALL", "TZ", "TMPDIR", "USER", "LOGNAME", "SHELL")
_UNSAFE = re.compile(r"[^a-zA-Z0-9_.-]")


class ProcessRuntime(base.Runtime):
    name = "process"
    manages_health = False

    def __init__(self, root: Path, *, stop_timeout: float = 5.0) -> None:
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        self.stop_timeout = stop_timeout
        self._lock = threading.RLock()
        self._children: dict[int, subprocess.Popen[bytes]] = {}  # reaped as they exit
        # Parsed replica and pid files by path, each with the (inode, mtime, size) it was read
        # at: observing hundreds of replicas every few seconds then costs a stat per file.
        # Every write replaces a file (new inode), so a changed file is never served stale.
        self._files: dict[Path, tuple[tuple[int, int, int], dict[str, Any] | None]] = {}

    def validate(self, spec: ProtonSpec) -> list[str]:
        warnings: list[str] = []
        for group in spec.groups:
            for container in group.containers:
                if not container.entrypoint:
                    raise RuntimePermanentError(
                        f"container {container.name} has no entrypoint: the process runtime runs "
                        "a container's entrypoint on this machine and cannot run an image",
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
                if not container.security.is_default():
                    warnings.append(
                        f"container {container.name}: securityContext is not applied by the "
                        "process runtime"
                    )
        return warnings

    # --- verbs ---------------------------------------------------------------------------

    def ensure_replica(self, spec: ProtonSpec, group: str, index: int) -> ReplicaState:
        self.validate(spec)
        group_spec = spec.group(group)
        with self._lock:
            directory = self._replica_dir(spec.proton_id, group, index)
            record = _read_json(directory / "replica.json")
            if record is None:
                self._write_proton(spec)
                directory.mkdir(parents=True, exist_ok=True)
                record = {"group": group, "index": index, "restarts": 0, "stopped": False}
                record.update(self._choose_ports(group_spec, index))
                record["spec"] = _spec_record(group_spec)
                _write_json(directory / "replica.json", record)
                self._start_all(directory, record)
            elif record["stopped"]:
                record["stopped"] = False
                _write_json(directory / "replica.json", record)
                self._start_all(directory, record)
            return self._state(directory)

    def observe(self, proton_id: str) -> list[ReplicaState]:
        with self._lock:
            proton_dir = self.root / _safe(proton_id)
            if not proton_dir.is_dir():
                return []
            states = [self._state(d) for d in proton_dir.iterdir() if (d / "replica.json").exists()]
        return sorted(states, key=lambda s: (s.group, s.index))

    def restart_replica(self, proton_id: str, group: str, index: int) -> ReplicaState:
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
            _write_json(directory / "replica.json", record)
            self._start_all(directory, record)
            return self._state(directory)

    def remove_replica(self, proton_id: str, group: str, index: int) -> None:
        with self._lock:
            directory = self._replica_dir(proton_id, group, index)
            record = _read_json(directory / "replica.json")
            if record is not None:
                self._kill_all(directory, record)
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

    def garbage_collect(self, instance_id: str, keep_proton_ids: set[str]) -> list[str]:
        removed = [p for p in self.adopt(instance_id) if p not in keep_proton_ids]
        for proton_id in removed:
            self.remove_proton(proton_id)
        return removed

    # --- processes -----------------------------------------------------------------------

    def _start_all(self, directory: Path, record: dict[str, Any]) -> None:
        for container in record["spec"]["containers"]:
            name = _safe(container)
            (directory / f"{name}.exit").unlink(missing_ok=True)
            env = {key: os.environ[key] for key in INHERITED_ENV if key in os.environ}
            env.update(record["spec"]["env"][container])
            env["PORT"] = str(record["port"])
            command = record["spec"]["entrypoint"][container]
            # The shim's own complaints (it has none unless broken) go to a file, not to us.
            with open(directory / f"{name}.shim.log", "ab") as shim_log:
                child = subprocess.Popen(
                    [
                        sys.executable,
                        "-I",
                        str(SHIM),
                        f"{name}.log",
                        f"{name}.exit",
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
            stat = os.stat(path)
        except (FileNotFoundError, NotADirectoryError):
            self._files.pop(path, None)
            return None
        key = (stat.st_ino, stat.st_mtime_ns, stat.st_size)
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

    def _state(self, directory: Path) -> ReplicaState:
        record = self._read(directory / "replica.json") or {}
        state = ReplicaState(
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
        for container in record["spec"]["containers"]:
            info = infos.get(container)
            if info is not None and self._alive(info):
                continue
            name = _safe(container)
            exit_text = _read_text(directory / f"{name}.exit")
            state.phase = ReplicaPhase.FAILED
            state.exit_code = int(exit_text) if exit_text else None
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
        port = declared if declared and index == 0 and _port_free(declared) else _free_port()
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
        proton_dir.mkdir(parents=True, exist_ok=True)
        if not (proton_dir / "proton.json").exists():
            ids = {
                "instance_id": spec.instance_id,
                "workload_id": spec.workload_id,
                "proton_id": spec.proton_id,
            }
            _write_json(proton_dir / "proton.json", ids)


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


def _write_json(path: Path, value: dict[str, Any]) -> None:
    temporary = path.with_suffix(path.suffix + ".tmp")
    temporary.write_text(json.dumps(value))
    os.replace(temporary, path)

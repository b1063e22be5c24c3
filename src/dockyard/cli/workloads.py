"""`dockyard workload …` (alias `wl`): run artifacts, watch them, call them."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Annotated, Any

import typer

from dockyard.cli.output import (
    note,
    print_fields,
    print_json,
    print_json_line,
    print_table,
    say,
    tags_text,
)
from dockyard.cli.specfile import load_document
from dockyard.cli.state import confirm, current
from dockyard.cli.waiting import wait_for
from dockyard.core.workloads import LogEntry
from dockyard.sdk.errors import DockyardError, WaitTimeout
from dockyard.sdk.models import Workload
from dockyard.sdk.resources.workloads import task_body

RUN_POLL_SECONDS = 0.3

app = typer.Typer(help="Workloads: running artifacts with a stable endpoint.", no_args_is_help=True)

WorkloadId = Annotated[str, typer.Argument(help="The workload's id.", show_default=False)]
Wait = Annotated[bool, typer.Option("--wait", help="Wait until the change is done.")]
Timeout = Annotated[float, typer.Option("--timeout", help="Seconds to wait at most.")]
OUTPUT_LINES = 10  # of an errored workload's last output, in `get`
STATUSES = frozenset(
    {
        "unknown",
        "submitted",
        "initializing",
        "provisioning",
        "launching",
        "running",
        "warming",
        "draining",
        "stopping",
        "stopped",
        "errored",
        "terminated",
        "succeeded",
        "failed",
    }
)
RUN_OVER = frozenset({"succeeded", "failed", "stopped", "errored", "terminated"})
# `run`'s exit status when the task has no exit code of its own, as `docker run` and
# `timeout` answer: Dockyard could not run it (125), it was killed past its run cap (124), or
# stopped by a user (143, SIGTERM).
NOT_RUN, KILLED_AT_CAP, STOPPED = 125, 124, 143


def show(workload: Workload) -> None:
    if current().json:
        print_json(workload)
        return
    artifact = workload.artifact
    print_fields(
        [
            ("ID", workload.id),
            ("Name", workload.name),
            ("Status", workload.status),
            *_why(workload),
            ("Artifact", _artifact_text(workload)),
            ("Repository", artifact.artifact_repository_id if artifact else None),
            ("Endpoint", workload.endpoint),
            *_replicas(workload),
            ("Importance", workload.importance),
            ("Expires", workload.expires_at or "-"),
            ("Tags", tags_text(workload.tags)),
            ("Created", workload.created_at),
            ("Updated", workload.updated_at),
        ]
    )


def _why(workload: Workload) -> list[tuple[str, str]]:
    """Why an errored workload is errored, and what its primary printed last."""
    details = workload.status_details
    rows = []
    if details.reason:
        rows.append(("Reason", details.reason))
    if details.message:
        rows.append(("Message", details.message))
    if details.reason and details.log_tail:
        rows.append(("Last output", "\n".join(details.log_tail[-OUTPUT_LINES:])))
    return rows


def _replicas(workload: Workload) -> list[tuple[str, str]]:
    """Each group's ready and wanted replicas, and what scales it."""
    rows = []
    for group in workload.runtime.container_groups:
        text = f"{group.current_replica_count or 0} ready of {group.desired_replica_count or 0}"
        scaling = group.autoscaling
        if scaling is not None and scaling.enabled:
            policies = ", ".join(f"{p.scaling_metric} {p.target:g}" for p in scaling.policies)
            text += f" (autoscaling {scaling.lowest}-{scaling.highest} on {policies})"
        rows.append((f"Replicas {group.name}", text))
    return rows


def check_runtime_document(runtime: Any, where: str) -> None:
    """The hosted CLI's own pre-checks of a runtime, before anything is sent."""
    if runtime is None:
        return
    if not isinstance(runtime, dict):
        raise ValueError(f"{where}: 'runtime' must be an object.")
    for group in runtime.get("containerGroups") or []:
        scaling = group.get("autoscaling") if isinstance(group, dict) else None
        if scaling is None:
            continue
        if not isinstance(scaling, dict):
            raise ValueError(f"{where}: 'autoscaling' must be an object.")
        if scaling.get("enabled", True) and group.get("replicaCount") is not None:
            raise ValueError(
                f"{where}: group {group.get('name', 'default')!r} sets replicaCount and "
                "autoscaling.enabled=true; give one of them."
            )


def _status_text(workload: Workload) -> str:
    reason = workload.status_details.reason
    return f"{workload.status} ({reason})" if reason else workload.status


def _artifact_text(workload: Workload) -> str:
    artifact = workload.artifact
    if artifact is None:
        return workload.artifact_id or "-"
    state = f"v{artifact.version}" if artifact.status == "locked" else "draft"
    return f"{artifact.name} ({artifact.id}, {state})"


def _done(workload: Workload, text: str) -> None:
    if current().json:
        print_json(workload)
    else:
        say(text)


@app.command("create")
def create(
    spec_file: Annotated[
        str, typer.Option("--spec-file", "-f", help="The workload's JSON body, as YAML or JSON.")
    ],
    wait: Wait = False,
    timeout: Timeout = 1800.0,
) -> None:
    """Create a workload from a spec file (`artifactId` or an inline `artifact`, `runtime`)."""
    body = load_document(spec_file)
    if ("artifactId" in body) == ("artifact" in body):
        raise ValueError(f"{spec_file}: give exactly one of 'artifactId' or 'artifact'.")
    check_runtime_document(body.get("runtime"), spec_file)
    with current().client() as client:
        workload = client.workloads.create(body)
        if not current().json:
            note(f"Created workload '{workload.name}' ({workload.id}), status {workload.status}")
        if wait:
            wait_for(workload, "running", timeout)
    _done(workload, f"Workload {workload.id} is {workload.status}; endpoint {workload.endpoint}")


@app.command("run", context_settings={"allow_extra_args": False, "ignore_unknown_options": True})
def run(
    command: Annotated[
        list[str] | None,
        typer.Argument(help="With --image: the command to run (after --).", show_default=False),
    ] = None,
    spec_file: Annotated[
        str | None,
        typer.Option("--spec-file", "-f", help="The workload's JSON body, as YAML or JSON."),
    ] = None,
    image: Annotated[str | None, typer.Option("--image", help="Image to run as a task.")] = None,
    env: Annotated[
        list[str] | None, typer.Option("--env", "-e", help="NAME=value (repeatable).")
    ] = None,
    name: Annotated[str | None, typer.Option("--name", help="The workload's name.")] = None,
    remove: Annotated[bool, typer.Option("--rm", help="Delete the workload when it ends.")] = False,
    timeout: Timeout = 3600.0,
) -> None:
    """Run a task to its end like `docker run`: print its output as it comes (stdout to
    stdout, stderr to stderr) and exit with its exit code."""
    if (spec_file is None) == (image is None):
        raise typer.BadParameter("give --spec-file or --image (and a command after --)")
    if spec_file is not None:
        body = load_document(spec_file)
    else:
        variables = dict(_pair(item) for item in env or [])
        body = task_body(image, command, variables, name)
    with current().client() as client:
        workload = client.workloads.create(body)
        if not current().json:
            note(f"Running workload '{workload.name}' ({workload.id})")
        printed = _stream_until_over(workload, timeout)
        workload.reload()
        entries = list(workload.logs(limit=None))
        entries.reverse()
        if current().json:
            print_json({"workload": workload.model_dump(by_alias=True, mode="json"),
                        "output": [e.model_dump(by_alias=True) for e in entries]})  # fmt: skip
        else:
            for entry in entries[printed:]:
                _task_line(entry)
        if remove:
            workload.delete()
    raise typer.Exit(_exit_status(workload))


def _stream_until_over(workload: Workload, timeout: float) -> int:
    """Print new output lines while the task runs; returns how many were printed."""
    printed = 0
    deadline = time.monotonic() + timeout
    while True:
        workload.reload()
        over = workload.status in RUN_OVER
        if not current().json:
            entries = list(workload.logs(limit=None))
            entries.reverse()  # newest first on the wire; printed lines are never reordered
            for entry in entries[printed:]:
                _task_line(entry)
            printed = max(printed, len(entries))
        if over:
            return printed
        if time.monotonic() > deadline:
            raise WaitTimeout(f"Workload {workload.id} still runs after {timeout:g} s.")
        time.sleep(RUN_POLL_SECONDS)


def _task_line(entry: LogEntry) -> None:
    stream = sys.stderr if entry.stream == "stderr" else sys.stdout
    print(entry.message, file=stream, flush=True)


def _exit_status(workload: Workload) -> int:
    if workload.exit_code is not None:
        return workload.exit_code
    if workload.status == "succeeded":
        return 0
    if workload.status == "failed" and workload.status_details.reason == "deadline_exceeded":
        return KILLED_AT_CAP
    if workload.status == "stopped":
        return STOPPED
    if not current().json:
        details = workload.status_details
        note(f"Workload {workload.id} is {workload.status}: {details.message or details.reason}")
    return NOT_RUN


def _pair(item: str) -> tuple[str, str]:
    key, sep, value = item.partition("=")
    if not sep or not key:
        raise typer.BadParameter(f"{item!r} is not NAME=value", param_hint="--env")
    return key, value


@app.command("get")
def get(workload_id: WorkloadId) -> None:
    """Show one workload."""
    with current().client() as client:
        show(client.workloads.get(workload_id))


@app.command("list")
def list_(
    status: Annotated[
        list[str] | None, typer.Option(help="Only these statuses (repeat or comma-separate).")
    ] = None,
    artifact: Annotated[str | None, typer.Option("--artifact", help="Artifact id.")] = None,
    search: Annotated[str | None, typer.Option(help="Substring of the name.")] = None,
    limit: Annotated[int, typer.Option(min=1, help="At most this many.")] = 100,
) -> None:
    """List workloads, newest first."""
    wanted = [s.strip() for value in status or [] for s in value.split(",") if s.strip()]
    for value in wanted:
        if value not in STATUSES:
            raise typer.BadParameter(f"unknown status {value!r}", param_hint="--status")
    with current().client() as client:
        items = list(
            client.workloads.list(
                status=wanted or None, artifact_id=artifact, search=search, limit=limit
            )
        )
    if current().json:
        print_json(items)
        return
    rows = [(w.id, w.name, _status_text(w), _artifact_text(w), w.created_at) for w in items]
    print_table(["ID", "NAME", "STATUS", "ARTIFACT", "CREATED"], rows, empty="No workloads.")


@app.command("settings")
def settings(
    workload_id: WorkloadId,
    spec_file: Annotated[
        str,
        typer.Option(
            "--spec-file", "-f", help="The new runtime (replicas, autoscaling, resources)."
        ),
    ],
) -> None:
    """Change a running workload's runtime settings: it rolls out as a replacement."""
    runtime = load_document(spec_file)
    runtime = runtime.get("runtime", runtime)  # a whole settings body, or the runtime alone
    check_runtime_document(runtime, spec_file)
    with current().client() as client:
        workload = client.workloads.get(workload_id)
        replacement = workload.update_settings(runtime)
    if current().json:
        print_json(replacement)
    else:
        say(f"Settings of {workload_id} are rolling out (replacement {replacement.id}).")


@app.command("start")
def start(workload_id: WorkloadId, wait: Wait = False, timeout: Timeout = 1800.0) -> None:
    """Start a stopped or errored workload."""
    with current().client() as client:
        workload = client.workloads.start(workload_id)
        if wait:
            wait_for(workload, "running", timeout)
    _done(workload, f"Workload {workload.id} is {workload.status}")


@app.command("stop")
def stop(workload_id: WorkloadId, wait: Wait = False, timeout: Timeout = 600.0) -> None:
    """Stop a workload (its containers go; it can be started again)."""
    with current().client() as client:
        already = client.workloads.get(workload_id).status == "stopped"
        workload = client.workloads.stop(workload_id)  # a no-op when stopped, so still asked
        if wait:
            wait_for(workload, "stopped", timeout)
    if already and workload.status == "stopped":
        _done(workload, f"Workload {workload.id} is already stopped")
    else:
        _done(workload, f"Workload {workload.id} is {workload.status}")


@app.command("status")
def status(workload_id: WorkloadId) -> None:
    """Print the bare status word (exit 0 whatever the status)."""
    with current().client() as client:
        workload = client.workloads.get(workload_id)
    if current().json:
        print_json({"id": workload.id, "status": workload.status})
    else:
        say(workload.status)


@app.command("endpoint")
def endpoint(workload_id: WorkloadId) -> None:
    """Print the workload's invoke URL."""
    with current().client() as client:
        workload = client.workloads.get(workload_id)
    if not workload.endpoint:
        raise DockyardError(f"Workload {workload_id} has no endpoint.", code="no_endpoint")
    if current().json:
        print_json({"id": workload.id, "endpoint": workload.endpoint})
    else:
        say(workload.endpoint)


@app.command("invoke")
def invoke(
    workload_id: WorkloadId,
    path: Annotated[str, typer.Argument(help="Path below the endpoint, e.g. /health.")] = "/",
    data: Annotated[
        str | None, typer.Option("--data", "-d", help="Request body; @FILE reads a file.")
    ] = None,
    method: Annotated[
        str | None, typer.Option("--method", "-X", help="HTTP method (GET, or POST with --data).")
    ] = None,
    header: Annotated[
        list[str] | None, typer.Option("--header", "-H", help="Extra header 'Name: value'.")
    ] = None,
    wait_ready: Annotated[
        float | None,
        typer.Option(
            help="Let Dockyard hold the request this many seconds for a starting replica."
        ),
    ] = None,
) -> None:
    """Call the workload's app through Dockyard and print its answer."""
    content = _body(data)
    headers = dict(_header(h) for h in header or [])
    if content is not None and not any(k.lower() == "content-type" for k in headers):
        headers["Content-Type"] = _content_type(content)
    with current().client() as client:
        workload = client.workloads.get(workload_id)
        response = workload.invoke(
            path,
            method=method or ("POST" if content is not None else "GET"),
            content=content,
            headers=headers,
            scale_up_timeout=wait_ready,
        )
    if current().json:
        print_json(
            {
                "status": response.status_code,
                "headers": dict(response.headers),
                "body": _decoded(response.content),
            }
        )
    else:
        sys.stdout.write(response.text)
        if response.text and not response.text.endswith("\n"):
            sys.stdout.write("\n")
    if response.status_code >= 400:
        if not current().json:
            note(f"Error: the app answered HTTP {response.status_code}")
        raise typer.Exit(1)


@app.command("logs")
def logs(
    workload_id: WorkloadId,
    limit: Annotated[int, typer.Option(min=1, help="Most recent lines to show.")] = 100,
    level: Annotated[
        str | None, typer.Option(help="Minimum level: debug, info, warn, error, critical.")
    ] = None,
    follow: Annotated[
        bool, typer.Option("--follow", "-f", help="Keep printing new lines.")
    ] = False,
) -> None:
    """Print the workload's log lines, oldest first (JSON Lines with -o json --follow)."""
    with current().client() as client:
        workload = client.workloads.get(workload_id)
        if follow:
            for entry in workload.follow_logs(backlog=limit, level=level):
                _log_line(entry, stream=True)
            return
        entries = list(workload.logs(limit=limit, level=level))
    entries.reverse()  # the API answers newest first; a terminal reads top-down
    if current().json:
        print_json(entries)
        return
    for entry in entries:
        _log_line(entry, stream=False)


@app.command("events")
def events(
    workload_id: WorkloadId,
    limit: Annotated[int, typer.Option(min=1, help="Most recent events to show.")] = 100,
) -> None:
    """Show the workload's events, oldest first (the newest last, nearest the prompt)."""
    with current().client() as client:
        items = list(client.workloads.events(workload_id, limit=limit))
    items.reverse()  # the API answers newest first
    if current().json:
        print_json(items)
        return
    rows = [(e.timestamp, e.event_type, _event_text(e.details)) for e in items]
    print_table(["TIME", "EVENT", "DETAILS"], rows, empty="No events.")


def _event_text(details: dict[str, Any]) -> str:
    """An event's details on one line: the status move first, then the rest as key=value."""
    parts = []
    if "from" in details and "to" in details:
        parts.append(f"{details['from']} -> {details['to']}")
    parts.extend(f"{key}={value}" for key, value in details.items() if key not in ("from", "to"))
    return "; ".join(parts)


@app.command("promote")
def promote(workload_id: WorkloadId) -> None:
    """Lock the draft artifact this workload runs, so it stops expiring."""
    with current().client() as client:
        workload = client.workloads.promote(workload_id)
    _done(workload, f"Promoted workload {workload.id}: artifact {_artifact_text(workload)}")


@app.command("delete")
def delete(
    workload_id: WorkloadId,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
) -> None:
    """Stop a workload and remove it (its artifact stays)."""
    confirm(f"Delete workload {workload_id}?", yes)
    with current().client() as client:
        client.workloads.delete(workload_id)
    if current().json:
        print_json({"id": workload_id, "deleted": True})
    else:
        say(f"Deleted workload {workload_id}")


def _log_line(entry: LogEntry, *, stream: bool) -> None:
    if current().json:
        print_json_line(entry)
        return
    say(f"{entry.timestamp} {entry.replica} {entry.level:<8} {entry.message}")
    if stream:
        sys.stdout.flush()


def _body(data: str | None) -> bytes | None:
    if data is None:
        return None
    if data.startswith("@"):
        return sys.stdin.buffer.read() if data == "@-" else Path(data[1:]).read_bytes()
    return data.encode()


def _content_type(content: bytes) -> str:
    try:
        json.loads(content)
    except (ValueError, UnicodeDecodeError):
        return "application/octet-stream"
    return "application/json"


def _header(text: str) -> tuple[str, str]:
    name, sep, value = text.partition(":")
    if not sep or not name.strip():
        raise typer.BadParameter(f"expected 'Name: value', got {text!r}", param_hint="--header")
    return name.strip(), value.strip()


def _decoded(content: bytes) -> Any:
    try:
        return json.loads(content)
    except (ValueError, UnicodeDecodeError):
        return content.decode(errors="replace")

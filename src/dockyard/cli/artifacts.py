"""`dockyard artifact …`: create, inspect, iterate on and lock artifacts."""

from __future__ import annotations

from typing import Annotated

import typer

from dockyard.cli.output import (
    print_fields,
    print_json,
    print_table,
    say,
    tags_text,
)
from dockyard.cli.specfile import load_document
from dockyard.cli.state import confirm, current
from dockyard.sdk.models import Artifact

app = typer.Typer(
    help="Artifacts: what to run, as drafts and locked versions.", no_args_is_help=True
)

SpecFile = Annotated[
    str, typer.Option("--spec-file", "-f", help="The artifact's JSON body, as YAML or JSON.")
]
ArtifactId = Annotated[str, typer.Argument(help="The artifact's id.", show_default=False)]


def show(artifact: Artifact) -> None:
    """An artifact, in full: JSON, or its fields and containers."""
    if current().json:
        print_json(artifact)
        return
    version = f"v{artifact.version}" if artifact.version is not None else "-"
    print_fields(
        [
            ("ID", artifact.id),
            ("Name", artifact.name),
            ("Status", artifact.status),
            ("Version", version),
            ("Repository", artifact.artifact_repository_id),
            ("Type", artifact.type),
            ("Description", artifact.description),
            ("Tags", tags_text(artifact.tags)),
            ("Created", artifact.created_at),
            ("Updated", artifact.updated_at),
        ]
    )
    rows = []
    for group in artifact.spec.container_groups:
        for container in group.containers:
            role = "primary" if container.primary else "sidecar"
            rows.append((group.name, container.name, role, container.image_uri, container.port))
    print_table(["GROUP", "CONTAINER", "ROLE", "IMAGE", "PORT"], rows, empty="No containers.")


def done(artifact: Artifact, text: str) -> None:
    """The result of a change: the object in JSON, one line of text otherwise."""
    if current().json:
        print_json(artifact)
    else:
        say(text)


def describe(artifact: Artifact) -> str:
    if artifact.status == "locked":
        return f"'{artifact.name}' ({artifact.id}), locked v{artifact.version}"
    return f"'{artifact.name}' ({artifact.id}), draft"


@app.command("create")
def create(spec_file: SpecFile) -> None:
    """Create an artifact from a spec file (`name`, `description`, `spec`, …)."""
    body = load_document(spec_file)
    _precheck(body, spec_file)
    with current().client() as client:
        artifact = client.artifacts.create(body)
    done(
        artifact,
        f"Created artifact {describe(artifact)} in repository {artifact.artifact_repository_id}",
    )


@app.command("get")
def get(artifact_id: ArtifactId) -> None:
    """Show one artifact."""
    with current().client() as client:
        show(client.artifacts.get(artifact_id))


@app.command("list")
def list_(
    status: Annotated[str | None, typer.Option(help="draft or locked.")] = None,
    search: Annotated[
        str | None, typer.Option(help="Substring of name, description or id.")
    ] = None,
    repository: Annotated[str | None, typer.Option("--repository", help="Repository id.")] = None,
    limit: Annotated[int, typer.Option(min=1, help="At most this many.")] = 100,
) -> None:
    """List artifacts, newest first."""
    with current().client() as client:
        items = list(
            client.artifacts.list(
                status=status, search=search, repository_id=repository, limit=limit
            )
        )
    if current().json:
        print_json(items)
        return
    rows = [
        (
            a.id,
            a.name,
            a.status,
            a.version if a.version is not None else "-",
            a.artifact_repository_id,
            a.updated_at,
        )
        for a in items
    ]
    print_table(
        ["ID", "NAME", "STATUS", "VERSION", "REPOSITORY", "UPDATED"], rows, empty="No artifacts."
    )


@app.command("update")
def update(artifact_id: ArtifactId, spec_file: SpecFile) -> None:
    """Replace a draft entirely (PUT) from a spec file."""
    body = load_document(spec_file)
    _precheck(body, spec_file)
    with current().client() as client:
        artifact = client.artifacts.replace(artifact_id, body)
    done(artifact, f"Replaced artifact {describe(artifact)}")


@app.command("patch")
def patch(
    artifact_id: ArtifactId,
    name: Annotated[str | None, typer.Option(help="New name.")] = None,
    description: Annotated[str | None, typer.Option(help="New description.")] = None,
    tags: Annotated[
        str | None,
        typer.Option(help='Replace the tags: "key=value,key=value" ("" removes them all).'),
    ] = None,
) -> None:
    """Change some fields of an artifact (PATCH); tags may change on locked ones too."""
    parsed = parse_tags(tags) if tags is not None else None
    if name is None and description is None and parsed is None:
        raise typer.BadParameter("give at least one of --name, --description, --tags")
    with current().client() as client:
        artifact = client.artifacts.update(
            artifact_id, name=name, description=description, tags=parsed
        )
    done(artifact, f"Updated artifact {describe(artifact)}")


@app.command("lock")
def lock(artifact_id: ArtifactId) -> None:
    """Lock a draft into the next version of its repository (immutable from then on)."""
    with current().client() as client:
        artifact = client.artifacts.lock(artifact_id)
    done(
        artifact,
        f"Locked artifact {describe(artifact)} of repository {artifact.artifact_repository_id}",
    )


@app.command("clone")
def clone(
    artifact_id: ArtifactId,
    name: Annotated[str, typer.Option(help="Name of the new draft.")],
) -> None:
    """Copy an artifact into a new draft in the same repository."""
    with current().client() as client:
        artifact = client.artifacts.clone(artifact_id, name)
    done(artifact, f"Cloned into artifact {describe(artifact)}")


@app.command("delete")
def delete(
    artifact_id: ArtifactId,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
) -> None:
    """Delete a draft artifact that no workload uses."""
    confirm(f"Delete artifact {artifact_id}?", yes)
    with current().client() as client:
        client.artifacts.delete(artifact_id)
    if current().json:
        print_json({"id": artifact_id, "deleted": True})
    else:
        say(f"Deleted artifact {artifact_id}")


def parse_tags(text: str) -> dict[str, str]:
    tags: dict[str, str] = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise typer.BadParameter(f"tags are key=value pairs, got {item!r}", param_hint="--tags")
        tags[key.strip()] = value.strip()
    return tags


def _precheck(body: dict, source: str) -> None:
    # The checks `dr artifact create` makes before calling: cheap, and clearer than a 422.
    if not str(body.get("name") or "").strip():
        raise ValueError(f"{source}: 'name' is required.")
    groups = (body.get("spec") or {}).get("containerGroups") or []
    if not groups:
        raise ValueError(f"{source}: spec.containerGroups needs at least one group.")
    for index, group in enumerate(groups):
        if not isinstance(group, dict) or not group.get("containers"):
            raise ValueError(
                f"{source}: spec.containerGroups[{index}] needs at least one container."
            )

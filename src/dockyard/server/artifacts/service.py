"""Artifact rules: create, edit, lock, clone and delete, and who may do each."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from dockyard.core.artifacts import Artifact as ArtifactOut
from dockyard.core.errors import (
    Conflict,
    Forbidden,
    NotFound,
    NotImplementedYet,
    RuleViolation,
    ValidationFailed,
)
from dockyard.core.spec import (
    ServiceArtifactSpec,
    check_security_context,
    check_spec_rules,
    credential_references,
    spec_to_json,
)
from dockyard.server.artifacts import repository, usage
from dockyard.server.artifacts.models import Artifact, ArtifactRepository
from dockyard.server.artifacts.public import (
    ARTIFACT,
    REPOSITORY,
    artifact_target,
    publish_created,
    publish_one,
)
from dockyard.server.artifacts.schemas import ArtifactClone, ArtifactCreate, ArtifactUpdate
from dockyard.server.artifacts.schemas import normal_status as _status
from dockyard.server.credentials.service import validate_env_reference
from dockyard.server.db.rows import together
from dockyard.server.kit.auth import Principal
from dockyard.server.kit.clock import utcnow
from dockyard.server.kit.ids import is_valid_id, new_id
from dockyard.server.kit.repository import get_by_id, load_or_404
from dockyard.server.settings import Settings
from dockyard.server.sharing import service as sharing
from dockyard.server.sharing.roles import Right
from dockyard.server.sharing.service import Target
from dockyard.server.tags import service as tags
from dockyard.server.tags.schemas import TagInput

# --- access ----------------------------------------------------------------------------------


def load(session: Session, artifact_id: str, *, for_update: bool = False) -> Artifact:
    """The artifact, or its 404 (a malformed id is the same 404 and never reaches SQL).

    Locked, writes to one artifact (edit, lock, delete) queue on its row on PostgreSQL, so a
    lock and an edit racing each other cannot both pass the "still a draft" check."""
    return load_or_404(session, Artifact, ARTIFACT, artifact_id, for_update=for_update)


def require(
    session: Session,
    principal: Principal,
    artifact_id: str,
    right: Right,
    *,
    for_update: bool = False,
) -> Artifact:
    row = load(session, artifact_id, for_update=for_update)
    sharing.require(session, principal, artifact_target(row), right)
    return row


def require_runnable(session: Session, principal: Principal, artifact_id: str) -> Artifact:
    """The artifact a workload may run (or be replaced onto) for the caller.

    A locked version is published to be run, so seeing it is enough; a draft is its writers'
    work in progress (with their secrets), so running it takes the right to change it."""
    row = load(session, artifact_id)
    level = sharing.require(session, principal, artifact_target(row), Right.VIEW)
    if row.status != "locked" and level < Right.UPDATE:
        raise Forbidden(
            f"The artifact '{row.name}' is a draft you may only view; run a locked version "
            "of it, or clone it into a repository of yours.",
            code="forbidden",
        )
    return row


def check_runnable(
    session: Session,
    principal: Principal,
    row: Artifact,
    *,
    runner: tuple[str, bool],
    loc: list[str | int],
) -> None:
    """The rules a spec meets when it enters a workload: a security context only an admin
    may loosen (checked against the caller), and credentials the `runner` (the workload's
    creator: user id, is admin) may use, the only ones whose secrets the workload gets."""
    spec = ServiceArtifactSpec.model_validate(row.spec)
    if not principal.is_admin:
        check_security_context(spec)
    user_id, is_admin = runner
    _check_credentials(session, spec, user_id=user_id, is_admin=is_admin, loc=loc)


def resolve_target(session: Session, artifact_id: str) -> Target:
    """For the sharedRoles routes."""
    return artifact_target(load(session, artifact_id))


# --- reading ---------------------------------------------------------------------------------


def get_artifact(session: Session, principal: Principal, artifact_id: str) -> ArtifactOut:
    row = load(session, artifact_id)
    level = sharing.require(session, principal, artifact_target(row), Right.VIEW)
    return publish_one(session, principal, row, level=level)  # the level just checked


def refuse_builds(session: Session, principal: Principal, artifact_id: str) -> None:
    """Every builds route: 404 for an unknown artifact first, then 501."""
    require(session, principal, artifact_id, Right.VIEW)
    raise NotImplementedYet(
        "Image builds are not implemented in this release: give each container an imageUri."
    )


# --- writing ---------------------------------------------------------------------------------


def create_artifact(
    session: Session,
    principal: Principal,
    body: ArtifactCreate,
    settings: Settings,
    *,
    spec_loc: list[str | int] | None = None,
) -> ArtifactOut:
    """`spec_loc` is where the spec sits in the request (an inline artifact's is deeper)."""
    spec = _checked_spec(
        session,
        principal,
        body.spec,
        settings,
        loc=spec_loc or ["body", "spec"],
    )
    home, unwritten = _repository_for(session, principal, body)
    row = Artifact(
        id=new_id(),
        repository_id=home.id,
        name=body.name,
        description=body.description or "",
        type=body.type,
        status="draft",
        spec=spec,
        creator_id=principal.user_id,
    )
    owned = [(ARTIFACT, row.id)]
    if unwritten is not None:
        owned.insert(0, (REPOSITORY, home.id))
    if _status(body.status) == "locked":
        # The IaC tools create artifacts already locked: the version is taken first, so the
        # row is written once, locked. (No workload can run it yet: no expiry to clear.)
        if unwritten is not None:
            repository.insert_new_repository(session, unwritten)  # its counter counts
            unwritten = None
        row.version = repository.next_version(session, home.id)
        row.status = "locked"
        row.locked_at = utcnow()
    # The busiest write: its rows go out as plain INSERTs (repository, artifact, both owner
    # grants), together, not through a flush, and the response is built from them.
    with together(session):
        if unwritten is not None:
            repository.insert_new_repository(session, unwritten)
        repository.insert_new_artifact(session, row)
        sharing.grant_owner_of_new(session, owned, principal.user_id)
    tag_list = tags.set_tags(session, ARTIFACT, row.id, body.tags) if body.tags else []
    return publish_created(session, principal, row, tag_list)


def replace_artifact(
    session: Session,
    principal: Principal,
    artifact_id: str,
    body: ArtifactCreate,
    settings: Settings,
) -> ArtifactOut:
    """PUT: every field of the create body; omitted tags are kept."""
    row = require(session, principal, artifact_id, Right.UPDATE, for_update=True)
    _refuse_if_locked(row)
    if _status(body.status) != "draft":
        raise ValidationFailed.at(
            ["body", "status"], 'PUT does not lock an artifact; send PATCH {"status": "locked"}'
        )
    if body.type != row.type:
        raise ValidationFailed.at(["body", "type"], "the type of an artifact cannot change")
    if body.artifact_repository_id not in (None, row.repository_id):
        raise ValidationFailed.at(
            ["body", "artifactRepositoryId"], "an artifact cannot move to another repository"
        )
    row.spec = _checked_spec(
        session,
        principal,
        body.spec,
        settings,
        loc=["body", "spec"],
    )
    row.name = body.name
    row.description = body.description or ""
    if body.tags is not None:
        tags.set_tags(session, ARTIFACT, row.id, body.tags)
    row.updated_at = utcnow()
    session.flush()
    return publish_one(session, principal, row)


def update_artifact(
    session: Session,
    principal: Principal,
    artifact_id: str,
    body: ArtifactUpdate,
    settings: Settings,
) -> ArtifactOut:
    """PATCH: only the fields present change; `{"status": "locked"}` locks."""
    row = require(session, principal, artifact_id, Right.UPDATE, for_update=True)
    present = body.model_fields_set
    status = _status(body.status) if body.status is not None else None
    if row.status == "locked" and ({"name", "description", "spec"} & present or status):
        _refuse_if_locked(row)  # tags and sharing stay editable on a locked artifact
    if body.spec is not None:
        row.spec = _checked_spec(
            session,
            principal,
            body.spec,
            settings,
            loc=["body", "spec"],
        )
    if body.name is not None:
        row.name = body.name
    if "description" in present:
        row.description = body.description or ""
    if body.tags is not None:
        tags.set_tags(session, ARTIFACT, row.id, body.tags)
    if present:
        row.updated_at = utcnow()
    if status == "locked":
        _lock(session, row)
    session.flush()
    return publish_one(session, principal, row)


def clone_artifact(
    session: Session,
    principal: Principal,
    artifact_id: str,
    body: ArtifactClone,
    settings: Settings,
) -> ArtifactOut:
    """A new draft in the same repository with the source's spec, description and tags."""
    source = require(session, principal, artifact_id, Right.VIEW)
    # The clone lands in the source's repository, where it can be locked into a version:
    # only those who may add to that repository may clone into it.
    sharing.require_related(
        session,
        principal,
        Target(REPOSITORY, source.repository_id, REPOSITORY),
        Right.UPDATE,
        "Cloning adds a draft to the artifact's repository; you may not change that repository.",
    )
    # The clone belongs to the caller, so the spec is checked again as theirs (images allowed
    # now, security context, credentials they may use).
    spec = _checked_spec(
        session,
        principal,
        ServiceArtifactSpec.model_validate(source.spec),
        settings,
        loc=["spec"],
    )
    row = repository.add_artifact(
        session,
        Artifact(
            repository_id=source.repository_id,
            name=body.name,
            description=source.description or "",
            type=source.type,
            status="draft",
            spec=spec,
            creator_id=principal.user_id,
        ),
    )
    sharing.grant_owner(session, ARTIFACT, row.id, principal.user_id)
    copied = tags.tags_for(session, ARTIFACT, [source.id]).get(source.id, [])
    if copied:
        pairs = [TagInput(name=tag.name, value=tag.value) for tag in copied]
        tags.set_tags(session, ARTIFACT, row.id, pairs)
    return publish_one(session, principal, row)


def delete_artifact(session: Session, principal: Principal, artifact_id: str) -> None:
    row = require(session, principal, artifact_id, Right.OWN, for_update=True)
    _refuse_if_locked(row)
    blockers = usage.usage(session, [row.id]).get(row.id)
    if blockers:
        shown, hidden = usage.shown(session, principal, blockers)
        raise Conflict(
            f"The artifact '{row.name}' is in use{sharing.hidden_note(hidden)}; stop and "
            "delete what runs it first.",
            code="artifact_in_use",
            blockers=shown,
        )
    usage.purge(session, [row])


# --- helpers ---------------------------------------------------------------------------------


def _refuse_if_locked(row: Artifact) -> None:
    if row.status == "locked":
        raise Conflict(
            f"The artifact '{row.name}' is locked (version {row.version}) and cannot change; "
            "clone it to make a new draft.",
            code="artifact_locked",
        )


def _lock(session: Session, row: Artifact) -> None:
    row.version = repository.next_version(session, row.repository_id)
    row.status = "locked"
    row.locked_at = utcnow()
    usage.locked(session, row.id)  # e.g. workloads of a draft expire, of a version do not
    session.flush()


def _repository_for(
    session: Session, principal: Principal, body: ArtifactCreate
) -> tuple[ArtifactRepository, ArtifactRepository | None]:
    """The repository named in the body (visible, same type), or a new one named after the
    artifact; the second value is that new one, not yet written (with its owner grant, the
    caller's to add)."""
    if body.artifact_repository_id is None:
        home = ArtifactRepository(
            id=new_id(),
            name=body.name,
            description="",
            type=body.type,
            last_version_number=0,
            creator_id=principal.user_id,
        )
        return home, home
    wanted = body.artifact_repository_id
    found = get_by_id(session, ArtifactRepository, wanted) if is_valid_id(wanted) else None
    if found is None:
        raise NotFound.of(REPOSITORY, wanted)
    sharing.require(session, principal, Target(REPOSITORY, found.id, REPOSITORY), Right.UPDATE)
    if found.type != body.type:
        raise RuleViolation(
            f"The repository holds '{found.type}' artifacts, not '{body.type}'.",
            code="repository_type_mismatch",
        )
    return found, None


def _checked_spec(
    session: Session,
    principal: Principal,
    spec: ServiceArtifactSpec,
    settings: Settings,
    *,
    loc: list[str | int],
) -> dict[str, Any]:
    """The rules of a spec write beyond its shape; returns the form to store.

    Everything is checked against the writer, not the artifact's creator: an editor may not
    keep the creator's credentials in a spec they shape, nor loosen its security context."""
    check_spec_rules(
        spec,
        is_admin=principal.is_admin,
        allowlist=settings.image_allowlist,
        denylist=settings.image_denylist,
    )
    _check_credentials(
        session, spec, user_id=principal.user_id, is_admin=principal.is_admin, loc=loc
    )
    return spec_to_json(spec)


def _check_credentials(
    session: Session,
    spec: ServiceArtifactSpec,
    *,
    user_id: str,
    is_admin: bool,
    loc: list[str | int],
) -> None:
    for where, credential_id, key in credential_references(spec):
        validate_env_reference(
            session,
            user_id=user_id,
            is_admin=is_admin,
            credential_id=credential_id,
            key=key,
            loc=[*loc, *where],
        )

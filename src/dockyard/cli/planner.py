"""`dockyard apply`: a manifest reconciled onto the server, planned before anything changes.

The objects apply manages carry the tag `dockyard.apply=<name>`; nothing else is touched, and
more than one candidate for a role is an error rather than a guess. The plan is computed
from what the server holds, so running the same manifest twice changes nothing the second
time.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from dockyard.cli.manifest import (
    TAG,
    Ambiguous,
    DeploymentPart,
    Manifest,
    Plan,
    Step,
    WorkloadPart,
    managed,
    only_one,
    runtime_json,
    tags_of,
)
from dockyard.core.spec import spec_to_json
from dockyard.sdk import Client
from dockyard.sdk.models import Artifact, Deployment, Workload

RESTART_TIMEOUT = 300.0
REPLACEMENT_DONE = frozenset({"completed", "errored", "canceled"})


def make_plan(client: Client, manifest: Manifest, *, lock: bool) -> Plan:
    if manifest.deployment is not None and manifest.workload is None:
        raise ValueError("A manifest with a 'deployment' needs a 'workload' section too.")
    plan = Plan(manifest)
    planner = _Planner(client, manifest, plan, lock)
    planner.artifact()
    if manifest.workload is not None:
        planner.workload(manifest.workload)
    if manifest.deployment is not None:
        planner.deployment(manifest.deployment)
    return plan


class _Planner:
    def __init__(self, client: Client, manifest: Manifest, plan: Plan, lock: bool) -> None:
        self.client = client
        self.manifest = manifest
        self.plan = plan
        self.lock = lock
        self.name = manifest.name
        self.spec = spec_to_json(manifest.artifact.spec)
        artifacts = managed(
            list(client.artifacts.list(tag_keys=[TAG], tag_values=[self.name])), self.name
        )
        self.drafts = [a for a in artifacts if a.status == "draft"]
        self.locked = sorted(
            (a for a in artifacts if a.status == "locked"),
            key=lambda a: a.version or 0,
            reverse=True,
        )
        repositories = {a.artifact_repository_id for a in artifacts}
        if len(repositories) > 1:
            raise Ambiguous(
                f"Artifacts tagged {TAG}={self.name} live in several repositories "
                f"({', '.join(sorted(r or '-' for r in repositories))})."
            )
        self.repository_id = repositories.pop() if repositories else None
        self.draft: Artifact | None = only_one(self.drafts, "draft artifact", self.name)
        self.target: Artifact | None = None  # the artifact the workload should run, once known
        self.draft_changed = False
        self.workload_obj: Workload | None = None

    def _add(
        self, verb: str, kind: str, text: str, run: Callable[[], object] | None = None
    ) -> None:
        self.plan.steps.append(Step(verb, kind, text, run))

    def _matches(self, artifact: Artifact) -> bool:
        return (
            artifact.name == self.name
            and (artifact.description or "") == self.manifest.artifact.description
            and spec_to_json(artifact.spec) == self.spec
        )

    def _body(self, status: str = "draft") -> dict[str, Any]:
        body: dict[str, Any] = {
            "name": self.name,
            "description": self.manifest.artifact.description,
            "spec": self.spec,
            "status": status,
        }
        if self.repository_id:
            body["artifactRepositoryId"] = self.repository_id
        return body

    # Artifact -------------------------------------------------------------------------------

    def artifact(self) -> None:
        latest = self.locked[0] if self.locked else None
        draft = self.draft
        if self.lock and latest is not None and self._matches(latest):
            self._use(
                latest, f"artifact '{self.name}' v{latest.version} ({latest.id}) is up to date"
            )
        elif not self.lock and draft is not None and self._matches(draft):
            self._use(draft, f"draft artifact '{self.name}' ({draft.id}) is up to date")
        elif not self.lock and draft is None and latest is not None and self._matches(latest):
            self._use(
                latest, f"artifact '{self.name}' v{latest.version} ({latest.id}) is up to date"
            )
        elif draft is not None:
            if not self._matches(draft):
                self.draft_changed = True
                self._add(
                    "update",
                    "artifact",
                    f"replace draft artifact '{self.name}' ({draft.id}) with the manifest's spec",
                    lambda: self._put(draft),
                )
            if self.lock:
                self._add(
                    "lock",
                    "artifact",
                    f"lock draft artifact '{self.name}' ({draft.id}) into the next version",
                    lambda: self._lock(draft),
                )
            self._use(draft, None)
        else:
            status = "locked" if self.lock else "draft"
            where = f"repository {self.repository_id}" if self.repository_id else "a new repository"
            self._add(
                "create",
                "artifact",
                f"create {status} artifact '{self.name}' in {where}",
                lambda: self._create(status),
            )

    def _use(self, artifact: Artifact, unchanged: str | None) -> None:
        self.target = artifact
        self.plan.ids["artifactId"] = artifact.id
        if unchanged:
            self._add("keep", "artifact", unchanged)

    def _put(self, draft: Artifact) -> None:
        body = self._body()
        body.pop("status")
        body.pop("artifactRepositoryId", None)
        self.target = self.client.artifacts.replace(draft.id, body)

    def _lock(self, draft: Artifact) -> None:
        self.target = self.client.artifacts.lock(draft.id)

    def _create(self, status: str) -> None:
        self.target = self.client.artifacts.create(
            {**self._body(status), "tags": tags_of(self.name)}
        )
        self.plan.ids["artifactId"] = self.target.id

    # Workload -------------------------------------------------------------------------------

    def workload(self, part: WorkloadPart) -> None:
        found = managed(
            list(self.client.workloads.list(tag_keys=[TAG], tag_values=[self.name])), self.name
        )
        # An expired (terminated) workload is history: apply makes a new one beside it.
        live = [w for w in found if w.status != "terminated"]
        workload: Workload | None = only_one(live, "workload", self.name)
        self.workload_obj = workload
        if workload is None:
            self._add(
                "create",
                "workload",
                f"create workload '{self.name}'",
                lambda: self._create_workload(part),
            )
            return
        self.plan.ids["workloadId"] = workload.id
        before = len(self.plan.changes)
        self._workload_artifact(workload)
        if part.importance is not None and part.importance != workload.importance:
            self._add(
                "update",
                "workload",
                f"set importance of workload '{self.name}' to {part.importance}",
                lambda: workload.update(importance=part.importance),
            )
        runtime = runtime_json(part.runtime) if part.runtime is not None else None
        if runtime is not None and runtime != runtime_json(workload.runtime):
            self._add(
                "update",
                "workload",
                f"change the runtime of workload '{self.name}' (a rolling replacement)",
                lambda: workload.update_settings(runtime),
            )
        if len(self.plan.changes) == before:
            self._add(
                "keep",
                "workload",
                f"workload '{self.name}' ({workload.id}) is up to date ({workload.status})",
            )

    def _workload_artifact(self, workload: Workload) -> None:
        replacement = workload.replacement
        if replacement is not None and replacement.status not in REPLACEMENT_DONE:
            self._add(
                "note",
                "workload",
                f"workload '{self.name}' has a replacement in progress "
                f"({replacement.status}); apply again when it is done",
            )
            return
        target = self.target
        if target is None:
            # A new artifact is created by this plan: roll the workload onto it when it exists.
            current_status = workload.artifact.status if workload.artifact else None
            if current_status == ("locked" if self.lock else "draft"):
                self._add(
                    "replace",
                    "workload",
                    f"roll workload '{self.name}' onto the new artifact (replacement)",
                    lambda: self._replace(workload),
                )
            else:
                self._note_mismatch(workload)
            return
        if target.id == workload.artifact_id:
            if self.draft_changed:
                if workload.status == "stopped":
                    self._add(
                        "note",
                        "workload",
                        f"workload '{self.name}' is stopped; it runs the new spec when started",
                    )
                else:
                    self._add(
                        "restart",
                        "workload",
                        f"restart workload '{self.name}' ({workload.id}) to run the new spec",
                        lambda: self._restart(workload),
                    )
            return
        current_status = workload.artifact.status if workload.artifact else None
        target_status = "locked" if self.lock else target.status
        if current_status == target_status:
            self._add(
                "replace",
                "workload",
                f"roll workload '{self.name}' onto artifact {target.id} (replacement)",
                lambda: self._replace(workload),
            )
        else:
            self._note_mismatch(workload)

    def _note_mismatch(self, workload: Workload) -> None:
        artifact = workload.artifact
        state = (
            f"locked v{artifact.version}" if artifact and artifact.status == "locked" else "a draft"
        )
        hint = (
            "apply with --lock to roll the change out"
            if not self.lock
            else "create a new workload for it"
        )
        self._add("note", "workload", f"workload '{self.name}' keeps running {state}; {hint}")

    def _create_workload(self, part: WorkloadPart) -> None:
        assert self.target is not None
        body: dict[str, Any] = {
            "name": self.name,
            "artifactId": self.target.id,
            "tags": tags_of(self.name),
        }
        if part.importance is not None:
            body["importance"] = part.importance
        if part.runtime is not None:
            body["runtime"] = runtime_json(part.runtime)
        self.workload_obj = self.client.workloads.create(body)
        self.plan.ids["workloadId"] = self.workload_obj.id

    def _restart(self, workload: Workload) -> None:
        if workload.reload().status not in ("stopped", "errored"):
            workload.stop().wait(("stopped", "errored"), timeout=RESTART_TIMEOUT)
        workload.start()

    def _replace(self, workload: Workload) -> None:
        assert self.target is not None
        workload.replace_artifact(self.target.id)

    # Deployment -----------------------------------------------------------------------------

    def deployment(self, part: DeploymentPart) -> None:
        found = managed(
            list(self.client.deployments.list(tag_keys=[TAG], tag_values=[self.name])), self.name
        )
        deployment: Deployment | None = only_one(found, "deployment", self.name)
        locked = self.lock or (self.target is not None and self.target.status == "locked")
        if not locked:
            self._add(
                "note",
                "deployment",
                f"deployment '{self.name}' needs a locked artifact: apply with --lock to deploy",
            )
            return
        if deployment is None:
            self._add(
                "create",
                "deployment",
                f"create deployment '{self.name}'",
                lambda: self._create_deployment(part),
            )
            return
        self.plan.ids["deploymentId"] = deployment.id
        changes: dict[str, Any] = {}
        workload = self.workload_obj
        if workload is not None and workload.id not in (
            deployment.workload_id,
            deployment.pending_workload_id,
        ):
            changes["workload_id"] = workload.id
        if part.description != deployment.description:
            changes["description"] = part.description
        if changes:
            what = " and ".join(sorted(changes))
            self._add(
                "update",
                "deployment",
                f"update {what} of deployment '{self.name}' ({deployment.id})",
                lambda: deployment.update(**changes),
            )
        else:
            self._add(
                "keep", "deployment", f"deployment '{self.name}' ({deployment.id}) is up to date"
            )

    def _create_deployment(self, part: DeploymentPart) -> None:
        assert self.workload_obj is not None
        created = self.client.deployments.create(
            self.workload_obj.id,
            name=self.name,
            description=part.description,
            tags=tags_of(self.name),
        )
        self.plan.ids["deploymentId"] = created.id

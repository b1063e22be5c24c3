"""`dockyard apply`: plan first, create what is missing, change what changed, else nothing."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import yaml

from dockyard.sdk import Client
from tests.cli.conftest import Dockyard
from tests.sdk.live_server import LiveServer, http_app_spec, unique

Write = Callable[[str, str], str]
TAG = "dockyard.apply"


def _manifest(
    name: str, spec: dict[str, Any], description: str = "v1", **parts: Any
) -> dict[str, Any]:
    return {"name": name, "artifact": {"description": description, "spec": spec}, **parts}


def _managed(sdk: Client, name: str) -> tuple[list[Any], list[Any]]:
    artifacts = sdk.artifacts.list(tag_keys=[TAG], tag_values=[name]).all()
    workloads = sdk.workloads.list(tag_keys=[TAG], tag_values=[name]).all()
    return artifacts, workloads


def test_apply_twice_changes_nothing_the_second_time(
    dockyard: Dockyard, write: Write, sdk: Client
) -> None:
    name = unique("apply")
    manifest = _manifest(name, http_app_spec(), workload={"importance": "moderate"})
    path = write("app.yaml", yaml.safe_dump(manifest))

    planned = dockyard("apply", "-f", path, "--dry-run")
    assert planned.exit_code == 0, planned.output
    assert "dry run" in planned.stdout and f"+ create draft artifact '{name}'" in planned.stdout
    assert _managed(sdk, name) == ([], [])

    first = dockyard("apply", "-f", path)
    assert first.exit_code == 0, first.output
    assert first.stdout.index("Plan for") < first.stdout.index("Applied 2 change(s)")
    artifacts, workloads = _managed(sdk, name)
    assert [a.status for a in artifacts] == ["draft"]
    assert [(w.artifact_id, w.importance) for w in workloads] == [(artifacts[0].id, "moderate")]

    second = dockyard("-o", "json", "apply", "-f", path)
    assert second.exit_code == 0, second.output
    result = json.loads(second.stdout)
    assert result["changed"] is False
    assert {step["action"] for step in result["plan"]} == {"keep"}
    assert _managed(sdk, name) == (artifacts, workloads) or _ids(_managed(sdk, name)) == _ids(
        (artifacts, workloads)
    )
    assert "Nothing to do" in dockyard("apply", "-f", path).stdout


def _ids(found: tuple[list[Any], list[Any]]) -> tuple[list[str], list[str]]:
    return [a.id for a in found[0]], [w.id for w in found[1]]


def test_a_changed_draft_is_replaced_and_its_workload_restarted(
    dockyard: Dockyard, write: Write, sdk: Client
) -> None:
    name = unique("apply-edit")
    spec = http_app_spec()
    path = write("app.yaml", yaml.safe_dump(_manifest(name, spec, workload={})))
    assert dockyard("apply", "-f", path, "--wait").exit_code == 0
    (draft,), (workload,) = _managed(sdk, name)

    spec["containerGroups"][0]["containers"][0]["environmentVars"] = [
        {"name": "MODE", "value": "2"}
    ]
    path = write("app.json", json.dumps(_manifest(name, spec, workload={})))
    changed = dockyard("apply", "-f", path, "--wait")
    assert changed.exit_code == 0, changed.output
    assert f"~ replace draft artifact '{name}' ({draft.id})" in changed.stdout
    assert f"~ restart workload '{name}' ({workload.id})" in changed.stdout
    (after,), (restarted,) = _managed(sdk, name)
    assert after.id == draft.id
    assert after.spec.container_groups[0].containers[0].environment_vars[0].name == "MODE"
    assert restarted.status == "running"
    kinds = [e.event_type for e in restarted.events()]
    assert {"stopped", "started"} <= set(kinds)
    assert "Nothing to do" in dockyard("apply", "-f", path).stdout


def test_lock_then_apply_again_is_a_no_op(dockyard: Dockyard, write: Write, sdk: Client) -> None:
    name = unique("apply-lock")
    path = write("app.yaml", yaml.safe_dump(_manifest(name, http_app_spec(), workload={})))
    assert dockyard("apply", "-f", path).exit_code == 0
    locked = dockyard("apply", "-f", path, "--lock")
    assert locked.exit_code == 0, locked.output
    assert "~ lock draft artifact" in locked.stdout
    (artifact,), (workload,) = _managed(sdk, name)
    assert (artifact.status, artifact.version) == ("locked", 1)
    assert workload.artifact_id == artifact.id
    again = dockyard("apply", "-f", path, "--lock")
    assert again.exit_code == 0 and "Nothing to do" in again.stdout


def test_a_deployment_waits_for_lock(
    dockyard: Dockyard, write: Write, server: LiveServer, sdk: Client
) -> None:
    name = unique("apply-dep")
    manifest = _manifest(name, http_app_spec(), workload={}, deployment={"description": "prod"})
    path = write("app.yaml", yaml.safe_dump(manifest))
    draft = dockyard("apply", "-f", path)
    assert draft.exit_code == 0
    assert "needs a locked artifact" in draft.stdout
    deployed = dockyard("-o", "json", "apply", "-f", path, "--lock")
    assert deployed.exit_code == 0, deployed.output
    deployment_id = json.loads(deployed.stdout)["ids"]["deploymentId"]
    assert sdk.deployments.get(deployment_id).description == "prod"
    assert "Nothing to do" in dockyard("apply", "-f", path, "--lock").stdout


def test_bad_manifests_and_ambiguity(dockyard: Dockyard, write: Write, sdk: Client) -> None:
    unknown_key = write(
        "bad.yaml", yaml.safe_dump({"name": "x", "artifact": {"spec": http_app_spec()}, "extra": 1})
    )
    result = dockyard("apply", "-f", unknown_key)
    assert result.exit_code == 2 and "extra" in result.stderr

    no_group = write("empty.yaml", yaml.safe_dump(_manifest("x", {"containerGroups": []})))
    assert dockyard("apply", "-f", no_group).exit_code == 2

    name = unique("apply-twice")
    first = sdk.artifacts.create(name=name, spec=http_app_spec(), tags={TAG: name})
    first.clone(name)  # a second draft in the same repository, with the same tag
    path = write("app.yaml", yaml.safe_dump(_manifest(name, http_app_spec())))
    ambiguous = dockyard("apply", "-f", path)
    assert ambiguous.exit_code == 1
    assert f"Several draft artifacts are tagged {TAG}={name}" in ambiguous.stderr


def test_a_new_locked_version_rolls_a_replacement(
    dockyard: Dockyard, write: Write, server: LiveServer, sdk: Client
) -> None:
    name = unique("apply-roll")
    spec = http_app_spec()
    path = write("app.yaml", yaml.safe_dump(_manifest(name, spec, workload={})))
    assert dockyard("apply", "-f", path, "--lock", "--wait").exit_code == 0
    (v1,), (workload,) = _managed(sdk, name)

    path = write("app.yaml", yaml.safe_dump(_manifest(name, spec, "v2", workload={})))
    rolled = dockyard("apply", "-f", path, "--lock")
    assert rolled.exit_code == 0, rolled.output
    assert "+ create locked artifact" in rolled.stdout
    assert "~ roll workload" in rolled.stdout
    versions = sorted(a.version for a in _managed(sdk, name)[0])
    assert versions == [1, 2]
    assert [r.kind for r in workload.history()][0] == "replacement"

"""`dockyard artifact …` against a real server: happy paths, exit codes, error lines."""

from __future__ import annotations

import json
from collections.abc import Callable

import yaml

from dockyard.sdk import Client
from tests.cli.conftest import Dockyard
from tests.sdk.live_server import MISSING, http_app_spec, unique

Write = Callable[[str, str], str]


def _spec_file(write: Write, name: str, fmt: str = "yaml", **extra: object) -> str:
    body = {"name": name, "description": "made by the CLI test", "spec": http_app_spec(), **extra}
    text = yaml.safe_dump(body) if fmt == "yaml" else json.dumps(body)
    return write(f"{name}.{fmt}", text)


def test_the_draft_to_locked_round_trip(dockyard: Dockyard, write: Write, sdk: Client) -> None:
    name = unique("cli-art")
    created = dockyard("artifact", "create", "--spec-file", _spec_file(write, name))
    assert created.exit_code == 0, created.output
    assert f"Created artifact '{name}'" in created.stdout and "draft" in created.stdout
    artifact_id = sdk.artifacts.list(search=name).all()[0].id

    shown = dockyard("artifact", "get", artifact_id)
    assert shown.exit_code == 0
    assert artifact_id in shown.stdout and "primary" in shown.stdout

    listed = dockyard("artifact", "list", "--status", "draft", "-o", "json")
    assert listed.exit_code == 0
    assert artifact_id in [item["id"] for item in json.loads(listed.stdout)]

    patched = dockyard(
        "artifact", "patch", artifact_id, "--description", "patched", "--tags", "team=ml"
    )
    assert patched.exit_code == 0, patched.output
    assert sdk.artifacts.get(artifact_id).description == "patched"

    # PUT from a JSON file replaces the spec.
    new = _spec_file(write, name, fmt="json", description="replaced")
    updated = dockyard("-o", "json", "artifact", "update", artifact_id, "--spec-file", new)
    assert updated.exit_code == 0, updated.output
    assert json.loads(updated.stdout)["description"] == "replaced"

    locked = dockyard("artifact", "lock", artifact_id)
    assert locked.exit_code == 0
    assert "locked v1" in locked.stdout

    cloned = dockyard("artifact", "clone", artifact_id, "--name", f"{name}-2", "-o", "json")
    assert cloned.exit_code == 0
    clone = json.loads(cloned.stdout)
    assert clone["status"] == "draft"
    assert clone["artifactRepositoryId"] == sdk.artifacts.get(artifact_id).artifact_repository_id

    deleted = dockyard("artifact", "delete", clone["id"], "--yes")
    assert deleted.exit_code == 0
    assert f"Deleted artifact {clone['id']}" in deleted.stdout


def test_a_locked_artifact_refuses_changes(dockyard: Dockyard, write: Write, sdk: Client) -> None:
    artifact = sdk.artifacts.create(name=unique("cli-locked"), spec=http_app_spec())
    artifact.lock()
    text = dockyard("artifact", "patch", artifact.id, "--name", "renamed")
    assert text.exit_code == 1
    assert text.stderr.startswith("Error: ")
    assert "[HTTP 409, artifact_locked]" in text.stderr
    assert len(text.stderr.strip().splitlines()) == 1

    as_json = dockyard("artifact", "delete", artifact.id, "--yes", "-o", "json")
    assert as_json.exit_code == 1
    error = json.loads(as_json.stdout)["error"]
    assert (error["status"], error["code"]) == (409, "artifact_locked")

    spec = _spec_file(write, artifact.name)
    assert dockyard("artifact", "update", artifact.id, "-f", spec).exit_code == 1
    # Tags stay editable on a locked artifact.
    assert dockyard("artifact", "patch", artifact.id, "--tags", "stage=prod").exit_code == 0


def test_unknown_ids_and_bad_input(dockyard: Dockyard, write: Write) -> None:
    missing = dockyard("artifact", "get", MISSING)
    assert missing.exit_code == 1
    assert "[HTTP 404, artifact_not_found]" in missing.stderr
    assert "Traceback" not in missing.output

    assert dockyard("artifact", "create", "--spec-file", "/no/such/file.yaml").exit_code == 2
    broken = write("broken.yaml", "name: [unclosed")
    result = dockyard("artifact", "create", "-f", broken)
    assert result.exit_code == 2
    assert "neither valid JSON nor valid YAML" in result.stderr

    empty = write("empty.yaml", "name: x\nspec: {containerGroups: []}\n")
    assert "at least one group" in dockyard("artifact", "create", "-f", empty).stderr

    invalid = write(
        "invalid.yaml",
        yaml.safe_dump(
            {
                "name": "x",
                "spec": {
                    "containerGroups": [
                        {"containers": [{"primary": True, "imageUri": "x", "port": 80}]}
                    ]
                },
            }
        ),
    )
    refused = dockyard("artifact", "create", "-f", invalid)
    assert refused.exit_code == 1
    assert "containerGroups.0.containers.0.port" in refused.stderr
    assert "[HTTP 422, validation_error]" in refused.stderr


def test_delete_asks_first(dockyard: Dockyard, sdk: Client) -> None:
    artifact = sdk.artifacts.create(name=unique("cli-ask"), spec=http_app_spec())
    kept = dockyard("artifact", "delete", artifact.id, input="n\n")
    assert kept.exit_code == 1
    assert sdk.artifacts.get(artifact.id).id == artifact.id
    gone = dockyard("artifact", "delete", artifact.id, input="y\n")
    assert gone.exit_code == 0
    assert dockyard("artifact", "get", artifact.id).exit_code == 1
    other = sdk.artifacts.create(name=unique("cli-ask"), spec=http_app_spec())
    assert dockyard("--yes", "artifact", "delete", other.id).exit_code == 0


def test_a_field_the_server_ignored_is_named_on_stderr(dockyard: Dockyard, write: Write) -> None:
    name = unique("cli-typo")
    body = {"name": name, "spec": http_app_spec(), "descripton": "typo"}
    created = dockyard("artifact", "create", "--spec-file", write(f"{name}.json", json.dumps(body)))
    assert created.exit_code == 0, created.output
    assert "ignored field descripton" in created.stderr
    assert "descripton" not in created.stdout

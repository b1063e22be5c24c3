"""`dockyard deployment …`."""

from __future__ import annotations

import json

import pytest

from dockyard.sdk import Client, Workload
from tests.cli.conftest import Dockyard
from tests.sdk.live_server import MISSING, LiveServer, http_app_spec, unique


@pytest.fixture
def locked_workload(server: LiveServer, sdk: Client) -> Workload:
    name = unique("cli-dep")
    artifact = sdk.artifacts.create(name=name, spec=http_app_spec())
    artifact.lock()
    return sdk.workloads.create(artifact_id=artifact.id, name=name)


def test_create_list_get_and_audit(dockyard: Dockyard, locked_workload: Workload) -> None:
    created = dockyard("-o", "json", "deployment", "create", "--workload-id", locked_workload.id)
    assert created.exit_code == 0, created.output
    deployment = json.loads(created.stdout)
    assert deployment["name"] == locked_workload.name  # defaults to the workload's
    assert deployment["endpoint"].endswith(f"/api/v2/endpoints/deployments/{deployment['id']}/")

    listed = dockyard("deployment", "list")
    assert listed.exit_code == 0 and deployment["id"] in listed.stdout
    shown = dockyard("deployment", "get", deployment["id"])
    assert shown.exit_code == 0 and locked_workload.id in shown.stdout

    audit = dockyard("deployment", "audit", deployment["id"])
    assert audit.exit_code == 0, audit.output
    assert "create" in audit.stdout and "Chain verified: yes" in audit.stdout
    log = json.loads(dockyard("-o", "json", "deployment", "audit", deployment["id"]).stdout)
    assert log["verified"] is True and log["data"][0]["sequence"] == 1
    # Who acted, by name (the id stays in the JSON).
    assert log["data"][0]["actorName"] == "admin" and log["data"][0]["actorId"]
    create_line = next(line for line in audit.stdout.splitlines() if " create " in line)
    assert create_line.split()[3] == "admin"

    assert dockyard("deployment", "delete", deployment["id"], "--yes").exit_code == 0
    assert dockyard("deployment", "get", deployment["id"]).exit_code == 1


def test_a_draft_cannot_be_deployed(dockyard: Dockyard, server: LiveServer, sdk: Client) -> None:
    name = unique("cli-draft")
    workload = sdk.workloads.create(artifact={"name": name, "spec": http_app_spec()})
    refused = dockyard("deployment", "create", "--workload-id", workload.id, "--name", name)
    assert refused.exit_code == 1
    assert "[HTTP 409, artifact_not_locked]" in refused.stderr
    missing = dockyard("deployment", "audit", MISSING)
    assert missing.exit_code == 1 and "deployment_not_found" in missing.stderr

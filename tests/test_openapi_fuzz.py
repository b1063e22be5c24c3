"""Property-based test of the whole API from its own OpenAPI document (schemathesis).

For every documented operation, valid and invalid requests are generated from the schema and
sent in-process, signed in as the admin, on each database backend. Operations on one object
are also driven against real objects (made through the API first), so generated bodies reach
the update rules and not only the 404. Whatever the input, the server must not fail (no 5xx)
and must answer as documented: a listed status code and content type, and a body matching the
response schema.
"""

from __future__ import annotations

import os
from typing import Any

import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode, checks

from tests.conftest import ADMIN_TOKEN
from tests.factories import create_artifact, create_user

OPENAPI = "/api/v2/openapi.json"
# Bounded so the test stays within a couple of minutes on two cores, and the same every run.
# Invalid input mostly meets the same validation layer, so it gets fewer examples.
MAX_EXAMPLES = int(os.environ.get("DOCKYARD_FUZZ_EXAMPLES", "12"))
AUTH = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
CHECKS = [
    checks.not_a_server_error,
    checks.status_code_conformance,
    checks.content_type_conformance,
    checks.response_schema_conformance,
    checks.response_headers_conformance,
]
# The token is the test's to send: generating (or breaking) it would test only the auth wall.
CONFIG = schemathesis.Config.from_dict({"generation": {"with-security-parameters": False}})


def _fuzz(
    operation: schemathesis.APIOperation,
    mode: GenerationMode,
    examples: int,
    path_parameters: dict[str, str] | None = None,
) -> None:
    strategy = operation.as_strategy(generation_mode=mode, path_parameters=path_parameters)

    @settings(
        max_examples=examples,
        derandomize=True,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(case=strategy)
    def run(case: schemathesis.Case) -> None:
        response = case.call_and_validate(headers=AUTH, checks=CHECKS)
        # Every request is the admin's: a 401 would mean the fuzzer tested the auth wall only.
        assert response.status_code != 401, response.text

    run()


def _real_objects(app: Any) -> dict[str, str]:
    """Ids of one object of each kind, by the collection path that serves them."""
    with TestClient(app, headers=AUTH) as admin:
        artifact = create_artifact(admin, "fuzzed", description="made for the fuzzer")
        other = create_user(admin, "fuzz-user")
        token = admin.post("/api/v2/apiTokens", json={"name": "spare"}).json()
        credential = admin.post(
            "/api/v2/credentials",
            json={"name": "fuzz", "credentialType": "basic", "user": "u", "password": "p"},
        ).json()
        # Made from another artifact, so that deleting the fuzzed one is not always a 409.
        runnable = create_artifact(admin, "fuzzed-runnable")
        workload = admin.post("/api/v2/workloads", json={"artifactId": runnable["id"]}).json()
        deployment = admin.post(
            "/api/v2/console/deployments", json={"workloadId": workload.get("id", "")}
        ).json()
    return {
        "/api/v2/artifacts": artifact["id"],
        "/api/v2/artifactRepositories": artifact["artifactRepositoryId"],
        "/api/v2/users": other["user"]["id"],
        "/api/v2/apiTokens": token.get("id", ""),
        "/api/v2/credentials": credential.get("credentialId", ""),
        "/api/v2/workloads": workload.get("id", ""),
        "/api/v2/otel/workload": workload.get("id", ""),
        "/api/v2/console/deployments": deployment.get("id", ""),
    }


def _real_path(operation: schemathesis.APIOperation, objects: dict[str, str]) -> dict | None:
    """`{param: id}` for the object an operation acts on, when it is one we made (any
    further path parameters, such as a proton id, are still generated)."""
    for collection, object_id in objects.items():
        start = collection + "/{"
        if object_id and operation.path.startswith(start):
            name = operation.path[len(start) : operation.path.index("}", len(start))]
            return {name: object_id}
    return None


def _has_input(operation: schemathesis.APIOperation) -> bool:
    """A body or query parameters: something invalid input can be made of."""
    query = any(p.location.value == "query" for p in operation.iter_parameters())
    return query or bool(list(operation.get_request_payload_content_types()))


def test_every_operation_answers_as_documented(app) -> None:  # type: ignore[no-untyped-def]
    # schemathesis' own pytest loader cannot take a fixture-built app on this pytest, so the
    # operations are walked here; each one still gets its own Hypothesis run and shrinking.
    schema = schemathesis.openapi.from_asgi(OPENAPI, app, config=CONFIG)
    objects = _real_objects(app)
    failures: list[str] = []
    operations = 0
    for result in schema.get_all_operations():
        operation = result.ok()
        operations += 1
        runs: list[tuple[str, GenerationMode, int, dict | None]] = [
            ("random ids", GenerationMode.POSITIVE, MAX_EXAMPLES, None)
        ]
        if _has_input(operation):
            runs.append(("invalid input", GenerationMode.NEGATIVE, MAX_EXAMPLES // 2, None))
        real = _real_path(operation, objects)
        if real is not None:
            runs.append(("a real object", GenerationMode.POSITIVE, MAX_EXAMPLES // 2, real))
        for label, mode, examples, path in runs:
            try:
                _fuzz(operation, mode, max(1, examples), path)
            except Unsatisfiable:
                pass  # nothing in this operation can be made invalid
            except Exception as exc:  # collect all operations' failures, then report them
                failures.append(f"--- {operation.label} ({label}):\n{exc}")
    assert operations > 0
    assert not failures, f"{len(failures)} run(s) misbehave:\n" + "\n".join(failures)

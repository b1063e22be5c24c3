"""Property-based test of the whole API from its own OpenAPI document (schemathesis).

For every documented operation, valid and invalid requests are generated from the schema and
sent in-process, signed in as the admin, on each database backend. Whatever the input, the
server must not fail (no 5xx) and must answer as documented: a listed status code, the listed
content type, and a body that matches the response schema.
"""

from __future__ import annotations

import os

import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode, checks

from tests.conftest import ADMIN_TOKEN

OPENAPI = "/api/v2/openapi.json"
# Bounded so the test stays within a couple of minutes on two cores, and the same every run.
# Invalid input mostly meets the same validation layer, so it gets fewer examples.
MAX_EXAMPLES = int(os.environ.get("DOCKYARD_FUZZ_EXAMPLES", "20"))
EXAMPLES = {
    GenerationMode.POSITIVE: MAX_EXAMPLES,
    GenerationMode.NEGATIVE: max(1, MAX_EXAMPLES // 2),
}
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


def _fuzz(operation: schemathesis.APIOperation, mode: GenerationMode) -> None:
    @settings(
        max_examples=EXAMPLES[mode],
        derandomize=True,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(case=operation.as_strategy(generation_mode=mode))
    def run(case: schemathesis.Case) -> None:
        response = case.call_and_validate(headers=AUTH, checks=CHECKS)
        # Every request is the admin's: a 401 would mean the fuzzer tested the auth wall only.
        assert response.status_code != 401, response.text

    run()


def test_every_operation_answers_as_documented(app) -> None:  # type: ignore[no-untyped-def]
    # schemathesis' own pytest loader cannot take a fixture-built app on this pytest, so the
    # operations are walked here; each one still gets its own Hypothesis run and shrinking.
    schema = schemathesis.openapi.from_asgi(OPENAPI, app, config=CONFIG)
    failures: list[str] = []
    operations = 0
    for result in schema.get_all_operations():
        operation = result.ok()
        operations += 1
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            try:
                _fuzz(operation, mode)
            except Unsatisfiable:
                pass  # no input to get wrong (no parameters, no body): nothing to negate
            except Exception as exc:  # collect all operations' failures, then report them
                failures.append(f"--- {operation.label} ({mode.value}):\n{exc}")
    assert operations > 0
    assert not failures, f"{len(failures)} operation(s) misbehave:\n" + "\n".join(failures)

"""Property-based test of the whole API from its own OpenAPI document (schemathesis).

For every documented operation, valid and invalid requests are generated from the schema and
sent in-process, signed in as the admin, on each database backend. Whatever the input, the
server must not fail (no 5xx) and must answer as documented: a listed status code, the listed
content type, and a body that matches the response schema.
"""

from __future__ import annotations

import os

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis import checks

from tests.conftest import ADMIN_TOKEN

OPENAPI = "/api/v2/openapi.json"
# Bounded so the test stays a couple of minutes on two cores, and the same on every run.
MAX_EXAMPLES = int(os.environ.get("DOCKYARD_FUZZ_EXAMPLES", "25"))

CONFIG = schemathesis.Config.from_dict(
    {
        "generation": {
            "mode": "all",
            "max-examples": MAX_EXAMPLES,
            "deterministic": True,
            "database": "none",
        },
        # The coverage phase enumerates every boundary value of every field: hundreds of
        # cases per operation, more than this test's time budget. Fuzzing covers the ground.
        "phases": {"coverage": {"enabled": False}, "stateful": {"enabled": False}},
        "suppress-health-check": ["all"],
    }
)

CHECKS = [
    checks.not_a_server_error,
    checks.status_code_conformance,
    checks.content_type_conformance,
    checks.response_schema_conformance,
    checks.response_headers_conformance,
]
AUTH = {"Authorization": f"Bearer {ADMIN_TOKEN}"}


@pytest.fixture
def api_schema(app):  # type: ignore[no-untyped-def]
    return schemathesis.openapi.from_asgi(OPENAPI, app, config=CONFIG)


schema = schemathesis.pytest.from_fixture("api_schema")


@schema.parametrize()
@settings(
    max_examples=MAX_EXAMPLES,
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=list(HealthCheck),
)
def test_every_operation_answers_as_documented(case: schemathesis.Case) -> None:
    case.call_and_validate(headers=AUTH, checks=CHECKS)

"""Copy-ready code the pages show: creating an artifact, invoking a workload."""

from __future__ import annotations

import json
from typing import Any

TOKEN_VARIABLE = "$DOCKYARD_TOKEN"


def artifact_payload() -> dict[str, Any]:
    """A small draft: one container serving HTTP on 8080, with a readiness probe."""
    return {
        "name": "hello-service",
        "description": "A small HTTP service",
        "spec": {
            "containerGroups": [
                {
                    "containers": [
                        {
                            "imageUri": "docker.io/library/python:3.12-slim",
                            "port": 8080,
                            "primary": True,
                            "environmentVars": [{"name": "GREETING", "value": "hello"}],
                            "entrypoint": ["python3", "-m", "http.server", "8080"],
                            "readinessProbe": {
                                "path": "/",
                                "port": 8080,
                                "initialDelaySeconds": 1,
                                "periodSeconds": 5,
                                "timeoutSeconds": 2,
                            },
                        }
                    ]
                }
            ]
        },
    }


def _shell_quote(text: str) -> str:
    return "'" + text.replace("'", "'\"'\"'") + "'"


def create_artifact_curl(base_url: str, payload: dict[str, Any]) -> str:
    body = json.dumps(payload, indent=2)
    return (
        f'curl -X POST "{base_url}/api/v2/artifacts/" \\\n'
        f'  -H "Authorization: Bearer {TOKEN_VARIABLE}" \\\n'
        '  -H "Content-Type: application/json" \\\n'
        f"  -d {_shell_quote(body)}"
    )


def invoke_curl(endpoint: str) -> str:
    return (
        f'curl "{endpoint}" \\\n'
        f'  -H "Authorization: Bearer {TOKEN_VARIABLE}"\n\n'
        f'curl -X POST "{endpoint}" \\\n'
        f'  -H "Authorization: Bearer {TOKEN_VARIABLE}" \\\n'
        '  -H "Content-Type: application/json" \\\n'
        '  -d \'{"input": "hello"}\''
    )


def invoke_python(endpoint: str) -> str:
    return (
        "import os\n\n"
        "import httpx\n\n"
        f'ENDPOINT = "{endpoint}"\n'
        'headers = {"Authorization": f"Bearer {os.environ[\'DOCKYARD_TOKEN\']}"}\n\n'
        "response = httpx.get(ENDPOINT, headers=headers)\n"
        "print(response.status_code, response.text)\n\n"
        'response = httpx.post(ENDPOINT, headers=headers, json={"input": "hello"})\n'
        "print(response.status_code, response.text)\n"
    )

"""Plain factory functions for test data, all going through the public API."""

from __future__ import annotations

import secrets
from typing import Any

from fastapi.testclient import TestClient


def create_user(admin: TestClient, username: str | None = None, **fields: Any) -> dict[str, Any]:
    """A non-admin user and a client signed in as them: returns {user, token, client}."""
    username = username or f"user-{secrets.token_hex(3)}"
    response = admin.post("/api/v2/users", json={"username": username, **fields})
    assert response.status_code == 201, response.text
    user = response.json()
    response = admin.post("/api/v2/apiTokens", json={"name": "test", "userId": user["id"]})
    assert response.status_code == 201, response.text
    token = response.json()["token"]
    client = TestClient(admin.app, headers={"Authorization": f"Bearer {token}"})
    return {"user": user, "token": token, "client": client}


def service_spec(port: int = 8080, image: str = "docker.io/library/python:3.12-slim") -> dict:
    return {
        "containerGroups": [
            {
                "name": "default",
                "containers": [
                    {
                        "name": "primary",
                        "primary": True,
                        "imageUri": image,
                        "port": port,
                        "entrypoint": ["python", "-m", "http.server", str(port)],
                        "environmentVars": [{"name": "GREETING", "value": "hello"}],
                        "readinessProbe": {"path": "/", "periodSeconds": 5},
                    }
                ],
            }
        ]
    }


def create_artifact(client: TestClient, name: str = "hello", **fields: Any) -> dict[str, Any]:
    body = {"name": name, "spec": service_spec(), **fields}
    response = client.post("/api/v2/artifacts", json=body)
    assert response.status_code == 201, response.text
    return response.json()

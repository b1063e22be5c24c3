"""Bad input is a clear 4xx on every route: media type, JSON syntax, NUL, CR/LF, lengths."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.factories import create_artifact, service_spec

API = "/api/v2"
SPEC = service_spec()


def _primary(**fields: Any) -> dict[str, Any]:
    spec = service_spec()
    spec["containerGroups"][0]["containers"][0].update(fields)
    return spec


def _issue(response: Any) -> dict[str, Any]:
    assert response.status_code == 422, response.text
    body = response.json()
    assert body["code"] == "validation_error"
    return body["detail"][0]


# --- list order ------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/workloads", "/console/deployments", "/artifacts"])
def test_a_doubled_minus_in_order_by_is_a_422(client: TestClient, path: str) -> None:
    issue = _issue(client.get(f"{API}{path}", params={"orderBy": "--name"}))
    assert issue["loc"] == ["query", "orderBy"]


# --- JSON and media types ----------------------------------------------------------------------


def test_malformed_json_is_a_400_with_line_and_column(client: TestClient) -> None:
    response = client.post(
        f"{API}/artifacts",
        content=b'{"name": "x",\n  "spec": {,}}',
        headers={"Content-Type": "application/json"},
    )
    assert response.status_code == 400, response.text
    body = response.json()
    assert body["code"] == "invalid_json"
    assert "line 2, column 12" in body["message"]
    assert body["detail"] == body["message"]


def test_a_body_that_is_not_even_utf8_is_invalid_json(client: TestClient) -> None:
    json_type = {"Content-Type": "application/json"}
    response = client.post(f"{API}/credentials", content=b'{"name": "\xff"}', headers=json_type)
    assert response.status_code == 400, response.text
    assert response.json()["code"] == "invalid_json"


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded", None])
def test_a_body_that_is_not_json_is_a_415_naming_the_header(
    client: TestClient, content_type: str | None
) -> None:
    headers = {"Content-Type": content_type} if content_type else {}
    response = client.post(f"{API}/artifacts", content=b'{"name": "x"}', headers=headers)
    assert response.status_code == 415, response.text
    body = response.json()
    assert body["code"] == "unsupported_media_type"
    assert "Content-Type" in body["message"]


def test_json_with_parameters_and_suffixes_is_json(client: TestClient) -> None:
    for content_type in ("application/json; charset=utf-8", "application/merge-patch+json"):
        response = client.post(
            f"{API}/apiTokens", content=b'{"name": "t"}', headers={"Content-Type": content_type}
        )
        assert response.status_code == 201, response.text


def test_bodiless_calls_need_no_content_type(client: TestClient) -> None:
    artifact = create_artifact(client, "svc")
    workload = client.post(f"{API}/workloads", json={"artifactId": artifact["id"]}).json()
    response = client.post(f"{API}/workloads/{workload['id']}/stop", headers={})
    assert response.status_code == 202, response.text
    response = client.post(f"{API}/workloads/{workload['id']}/start", content=b"")
    assert response.status_code == 409, response.text  # the rule answers, not the media type
    assert response.json()["code"] == "workload_transitioning"


# --- NUL bytes ----------------------------------------------------------------------------------


def test_a_nul_byte_anywhere_in_a_body_is_refused_where_it_is(client: TestClient) -> None:
    spec = _primary(environmentVars=[{"name": "GREETING", "value": "a\x00b"}])
    issue = _issue(client.post(f"{API}/artifacts", json={"name": "x", "spec": spec}))
    loc = ["body", "spec", "containerGroups", 0, "containers", 0, "environmentVars", 0, "value"]
    assert issue["loc"] == loc
    assert "NUL" in issue["msg"]
    # Keys too, and fields no model checks one by one (a credential's secret fields).
    issue = _issue(
        client.post(
            f"{API}/credentials",
            json={"name": "c", "credentialType": "basic", "user": "u", "password": "p\x00"},
        )
    )
    assert issue["loc"] == ["body", "password"]
    assert client.get(f"{API}/credentials").json()["totalCount"] == 0


def test_an_escaped_backslash_before_u0000_is_not_a_nul(client: TestClient) -> None:
    body = b'{"name": "path C:\\\\u0000 is text"}'
    response = client.post(
        f"{API}/apiTokens", content=body, headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 201, response.text


def test_a_nul_byte_in_a_query_or_path_parameter_is_refused(client: TestClient) -> None:
    issue = _issue(client.get(f"{API}/artifacts?search=a%00b"))
    assert issue["loc"] == ["query", "search"]
    issue = _issue(client.get(f"{API}/artifacts/abc%00def"))
    assert issue["loc"] == ["path"]


# --- CR and LF where a value becomes a header, a path or a name ---------------------------------


@pytest.mark.parametrize(
    ("fields", "where"),
    [
        ({"environmentVars": [{"name": "AB\n", "value": "x"}]}, ["environmentVars", 0, "name"]),
        (
            {"readinessProbe": {"path": "/ HTTP/1.1\r\nHost: evil\r\n\r\nGET /x"}},
            ["readinessProbe", "path"],
        ),
        ({"readinessProbe": {"path": "/a b"}}, ["readinessProbe", "path"]),
        (
            {"livenessProbe": {"path": "/", "httpHeaders": {"X-A": "b\r\nX-Evil: 1"}}},
            ["livenessProbe", "httpHeaders", "X-A"],
        ),
        (
            {"livenessProbe": {"path": "/", "httpHeaders": {"X-A\r\nX-Evil": "1"}}},
            ["livenessProbe", "httpHeaders", "X-A\r\nX-Evil", "[key]"],
        ),
        ({"name": "web\n"}, ["name"]),
        ({"imageUri": "docker.io/library/python:3.12\nX"}, ["imageUri"]),
    ],
)
def test_line_breaks_are_refused_in_headers_paths_and_names(
    client: TestClient, fields: dict[str, Any], where: list[Any]
) -> None:
    response = client.post(f"{API}/artifacts", json={"name": "x", "spec": _primary(**fields)})
    issue = _issue(response)
    assert issue["loc"] == ["body", "spec", "containerGroups", 0, "containers", 0, *where]


def test_line_breaks_stay_allowed_in_arguments_and_env_values(client: TestClient) -> None:
    pem = "-----BEGIN KEY-----\nabc\r\ndef\n-----END KEY-----\n"
    spec = _primary(
        entrypoint=["sh", "-c", "echo one\necho two"],
        environmentVars=[{"name": "KEY", "value": pem}],
    )
    response = client.post(f"{API}/artifacts", json={"name": "x", "spec": spec})
    assert response.status_code == 201, response.text
    container = response.json()["spec"]["containerGroups"][0]["containers"][0]
    assert container["environmentVars"][0]["value"] == pem


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/artifacts", {"name": "two\nlines", "spec": service_spec()}),
        ("/credentials", {"name": "a\rb", "credentialType": "basic", "user": "u", "password": "p"}),
        ("/apiTokens", {"name": "t\n"}),
        ("/artifacts", {"name": "x", "spec": SPEC, "tags": [{"name": "\n", "value": "v"}]}),
    ],
)
def test_names_are_single_lines(client: TestClient, path: str, body: dict[str, Any]) -> None:
    issue = _issue(client.post(f"{API}{path}", json=body))
    assert "single line" in issue["msg"]


# --- sizes and quantities -----------------------------------------------------------------------


@pytest.mark.parametrize("memory", [int("9" * 400), "9" * 400, "9" * 60 + "GiB"])
def test_an_enormous_memory_quantity_is_a_422(client: TestClient, memory: Any) -> None:
    artifact = create_artifact(client, "svc")
    overlay = {"name": "primary", "resourceAllocation": {"memory": memory}}
    runtime = {"containerGroups": [{"name": "default", "containers": [overlay]}]}
    response = client.post(
        f"{API}/workloads", json={"artifactId": artifact["id"], "runtime": runtime}
    )
    issue = _issue(response)
    assert issue["loc"][-1] == "memory"


def test_spec_strings_have_maximum_lengths(client: TestClient) -> None:
    spec = _primary(entrypoint=["x" * 65537])
    issue = _issue(client.post(f"{API}/artifacts", json={"name": "x", "spec": spec}))
    assert issue["loc"][-2:] == ["entrypoint", 0]
    headers = {f"X-H{i}": "v" for i in range(51)}
    spec = _primary(readinessProbe={"path": "/", "httpHeaders": headers})
    issue = _issue(client.post(f"{API}/artifacts", json={"name": "x", "spec": spec}))
    assert issue["loc"][-1] == "httpHeaders"


@pytest.mark.parametrize(
    "path", ["/artifacts", "/credentials", "/users", "/workloads", "/console/deployments"]
)
def test_a_nul_byte_in_an_object_id_is_refused_before_any_look_up(
    client: TestClient, path: str
) -> None:
    issue = _issue(client.get(f"{API}{path}/%00"))
    assert issue["loc"] == ["path"]
    assert client.delete(f"{API}/apiTokens/ab%00").status_code == 422

"""Bodies and filters the tools built on the hosted client send.

Unknown fields are tolerated and named in `Warning`, and the logs filters apply.
"""

from __future__ import annotations

from datarobot.rest import RESTClientObject

from tests.compat.conftest import wait_for
from tests.sdk.live_server import http_app_spec, unique


def _tool_container() -> dict:
    """The primary container as the tools build it: sized with `resourceRequest`."""
    container = http_app_spec()["containerGroups"][0]["containers"][0]
    request = {"cpu": 1, "memory": 512 * 1024**2, "gpu": 0}  # gpu: not in the reference's shape
    return {**container, "name": "main", "resourceRequest": request}


def test_the_tools_create_payload(rest: RESTClientObject) -> None:
    name = unique("tool-wl")
    payload = {
        "name": name,
        "importance": "low",
        "artifact": {
            "name": name,
            "spec": {"type": "service", "containerGroups": [{"containers": [_tool_container()]}]},
        },
        "runtime": {"containerGroups": [{"name": "default", "replicaCount": 1}]},
    }
    created = rest.post("workloads/", json=payload)
    assert created.status_code == 201
    workload = created.json()
    try:
        # The inline artifact became a draft, with the container's resourceRequest kept.
        spec = rest.get(f"artifacts/{workload['artifactId']}").json()["spec"]
        primary = spec["containerGroups"][0]["containers"][0]
        assert (
            primary["imageUri"]
            == payload["artifact"]["spec"]["containerGroups"][0]["containers"][0]["imageUri"]
        )
        assert (
            primary["resourceRequest"]
            == payload["artifact"]["spec"]["containerGroups"][0]["containers"][0]["resourceRequest"]
        )
        assert "resourceRequest" not in created.headers.get("Warning", "")
    finally:
        rest.delete(f"workloads/{workload['id']}")


def test_an_unknown_field_is_ignored_and_named(rest: RESTClientObject) -> None:
    answer = rest.post(
        "artifacts/", json={"name": unique("tool-art"), "spec": http_app_spec(), "useCase": "x"}
    )
    assert answer.status_code == 201
    assert "useCase" in answer.headers["Warning"]


def test_the_logs_excludes_filter(rest: RESTClientObject) -> None:
    name = unique("tool-logs")
    created = rest.post(
        "workloads/", json={"name": name, "artifact": {"name": name, "spec": http_app_spec()}}
    ).json()
    workload_id = created["id"]
    try:
        running = wait_for(
            lambda: rest.get(f"workloads/{workload_id}").json(),
            lambda w: w["status"] == "running",
        )
        rest.get(running["endpoint"], headers={"X-Scale-Up-Timeout": "10"})  # logs a GET line

        def read(excludes: str | None = None) -> list[str]:
            params = {"limit": 100, "offset": 0, "level": "info"}
            if excludes:
                params["excludes"] = excludes
            page = rest.get(f"otel/workload/{workload_id}/logs/", params=params).json()
            return [entry["message"] for entry in page["data"]]

        everything = wait_for(read, lambda lines: any("GET" in line for line in lines))
        kept = read(excludes="GET")
        assert all("GET" not in line for line in kept)
        assert len(kept) < len(everything)
    finally:
        rest.delete(f"workloads/{workload_id}")

"""GET /workloads/{id}/logs and /otel/workload/{id}/logs: every replica's output, newest first."""

from __future__ import annotations

import json

import pytest
from fastapi.testclient import TestClient

from dockyard.server.runtimes.fake import FakeBehavior
from tests.factories import create_user
from tests.server.workloads.conftest import Fake, create_workload, fast_spec

API = "/api/v2"
LINES = ("INFO starting up", "[debug] reading config", "WARN: disk almost full", "hello world")


@pytest.fixture
def chatty(client: TestClient, fake: Fake) -> dict:
    """Two replicas that print four lines each at start; replica 0 then crashes on stderr."""
    fake.runtime.script("chatty:1", FakeBehavior(output=LINES))
    runtime = {"containerGroups": [{"name": "default", "replicaCount": 2}]}
    body = create_workload(
        client, artifact={"name": "chatty", "spec": fast_spec(imageUri="chatty:1")}, runtime=runtime
    )
    fake.advance(3)
    fake.runtime.crash(body["protonId"], "default", 0, line="Traceback: boom")
    fake.advance(1)
    return body


def _logs(client: TestClient, workload_id: str, path: str = "workloads", **params) -> dict:
    response = client.get(f"{API}/{path}/{workload_id}/logs", params=params)
    assert response.status_code == 200, response.text
    return response.json()


def test_logs_of_every_replica_newest_first(client: TestClient, chatty: dict) -> None:
    body = _logs(client, chatty["id"])
    entries = body["data"]
    # 4 lines per start: two replicas, and replica 0 started twice (crash, restart); + the crash.
    assert body["totalCount"] == len(entries) == 13
    assert entries[0].keys() == {
        *("timestamp", "level", "message", "replica", "stream"),
        *("spanId", "traceId", "stacktrace"),  # null on a plain text line
    }
    times = [e["timestamp"] for e in entries]
    assert times == sorted(times, reverse=True)
    assert {e["replica"] for e in entries} == {"default-0", "default-1"}
    crash = next(e for e in entries if e["message"] == "Traceback: boom")
    assert (crash["stream"], crash["level"], crash["replica"]) == ("stderr", "ERROR", "default-0")
    levels = {e["message"]: e["level"] for e in entries}
    assert levels == {
        "INFO starting up": "INFO",
        "[debug] reading config": "DEBUG",
        "WARN: disk almost full": "WARNING",
        "hello world": "INFO",  # no level word on stdout
        "Traceback: boom": "ERROR",  # no level word on stderr
    }


def test_the_otel_path_and_the_old_path_answer_the_same(client: TestClient, chatty: dict) -> None:
    current = _logs(client, chatty["id"])["data"]
    assert _logs(client, chatty["id"], "otel/workload")["data"] == current
    assert client.get(f"{API}/otel/workload/{chatty['id']}/logs/").status_code == 200
    assert _logs(client, chatty["id"], "console/workloads")["data"] == current


@pytest.mark.parametrize(
    ("level", "expected"),
    [
        ("warning", {"WARNING", "ERROR"}),
        ("warn", {"WARNING", "ERROR"}),
        ("Error", {"ERROR"}),
        ("debug", {"DEBUG", "INFO", "WARNING", "ERROR"}),
        ("CRITICAL", set()),
    ],
)
def test_level_is_a_minimum(client: TestClient, chatty: dict, level: str, expected: set) -> None:
    entries = _logs(client, chatty["id"], level=level)["data"]
    assert {e["level"] for e in entries} == expected


def test_includes_start_time_and_paging(client: TestClient, chatty: dict, fake: Fake) -> None:
    assert [e["message"] for e in _logs(client, chatty["id"], includes="boom")["data"]] == [
        "Traceback: boom"
    ]
    assert _logs(client, chatty["id"], includes="BOOM")["data"] == []  # case-sensitive
    newest = _logs(client, chatty["id"])["data"][0]["timestamp"]
    recent = _logs(client, chatty["id"], startTime=newest)["data"]
    assert recent and all(e["timestamp"] >= newest for e in recent)
    assert len(recent) < 13
    page = _logs(client, chatty["id"], limit=5, offset=5)
    assert (page["count"], page["totalCount"]) == (5, 13)
    assert page["next"] and page["previous"]
    assert page["data"] == _logs(client, chatty["id"])["data"][5:10]


@pytest.mark.parametrize(
    ("params", "name"),
    [
        ({"level": "loud"}, "level"),
        ({"startTime": "yesterday"}, "startTime"),
        ({"endTime": "2026-13-01T00:00:00Z"}, "endTime"),
        ({"startTime": "2026-01-02T00:00:00Z", "endTime": "2026-01-01T00:00:00Z"}, "endTime"),
        ({"limit": 0}, "limit"),
        ({"limit": 101}, "limit"),
        ({"offset": -1}, "offset"),
        ({"includes": [str(n) for n in range(21)]}, "includes"),
        ({"excludes": "x" * 1001}, "excludes"),
    ],
)
def test_bad_filters_are_422_with_the_path(
    client: TestClient, chatty: dict, params: dict, name: str
) -> None:
    for path in ("workloads", "otel/workload"):
        response = client.get(f"{API}/{path}/{chatty['id']}/logs", params=params)
        assert response.status_code == 422, response.text
        assert response.json()["detail"][0]["loc"][:2] == ["query", name]


def test_excludes_drops_lines_and_includes_is_any_of(client: TestClient, chatty: dict) -> None:
    every = {e["message"] for e in _logs(client, chatty["id"])["data"]}
    kept = {e["message"] for e in _logs(client, chatty["id"], excludes=["disk", "boom"])["data"]}
    assert kept == every - {"WARN: disk almost full", "Traceback: boom"}
    either = _logs(client, chatty["id"], includes=["boom", "hello"])["data"]
    assert {e["message"] for e in either} == {"Traceback: boom", "hello world"}
    both = _logs(client, chatty["id"], includes=["o"], excludes=["hello", "disk"])["data"]
    assert {e["message"] for e in both} == {"[debug] reading config", "Traceback: boom"}


def test_end_time_keeps_lines_up_to_it(client: TestClient, chatty: dict) -> None:
    entries = _logs(client, chatty["id"])["data"]
    oldest = entries[-1]["timestamp"]
    early = _logs(client, chatty["id"], endTime=oldest)["data"]
    assert early and all(e["timestamp"] <= oldest for e in early)
    assert len(early) < len(entries)
    window = _logs(client, chatty["id"], startTime=oldest, endTime=oldest)["data"]
    assert {e["timestamp"] for e in window} == {oldest}


TRACED = (
    '{"level": "error", "message": "db down", "trace_id": "t1", "span_id": "s1", '
    '"stacktrace": "File x, line 1"}',
    '{"level": "info", "msg": "ok", "traceId": "t2", "spanId": "s2"}',
    "plain line",
)


def test_trace_fields_come_from_json_lines_and_filter(client: TestClient, fake: Fake) -> None:
    fake.runtime.script("traced:1", FakeBehavior(output=TRACED))
    body = create_workload(
        client, artifact={"name": "traced", "spec": fast_spec(imageUri="traced:1")}
    )
    fake.advance(3)
    entries = {e["message"]: e for e in _logs(client, body["id"])["data"]}
    first = entries[TRACED[0]]
    assert (first["level"], first["traceId"], first["spanId"]) == ("ERROR", "t1", "s1")
    assert first["stacktrace"] == "File x, line 1"
    second = entries[TRACED[1]]
    assert (second["level"], second["traceId"], second["spanId"]) == ("INFO", "t2", "s2")
    assert entries["plain line"]["traceId"] is None
    by_trace = _logs(client, body["id"], traceId="t2")["data"]
    assert [e["message"] for e in by_trace] == [TRACED[1]]
    by_span = _logs(client, body["id"], spanId="s1")["data"]
    assert [e["message"] for e in by_span] == [TRACED[0]]
    assert _logs(client, body["id"], traceId="t1", spanId="s2")["data"] == []


def test_logs_need_view_rights(client: TestClient, chatty: dict) -> None:
    stranger = create_user(client)["client"]
    response = stranger.get(f"{API}/workloads/{chatty['id']}/logs")
    assert response.status_code == 404
    assert response.json()["code"] == "workload_not_found"


def test_a_workload_with_no_output_has_an_empty_page(client: TestClient) -> None:
    body = create_workload(client)
    assert _logs(client, body["id"])["data"] == []


def test_follow_streams_ndjson_oldest_first(client: TestClient, chatty: dict) -> None:
    with client.stream(
        "GET",
        f"{API}/workloads/{chatty['id']}/logs",
        params={"follow": "true", "timeout": 0.2, "limit": 3, "level": "info"},
    ) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("application/x-ndjson")
        entries = [json.loads(line) for line in response.iter_lines() if line]
    # The backlog: the last three matching lines, in time order.
    newest_first = _logs(client, chatty["id"], level="info")["data"][:3]
    assert entries == list(reversed(newest_first))


def test_follow_sends_new_lines_once_and_stops_when_the_client_leaves(
    client: TestClient, chatty: dict, fake: Fake
) -> None:
    import asyncio

    from dockyard.server.workloads.logs import LogQuery, follow

    app = fake.app
    polls = 0
    real_logs = fake.runtime.logs

    def logs(proton_id, since=None):  # type: ignore[no-untyped-def]
        nonlocal polls
        polls += 1
        if polls == 2:  # between the first and the second poll, the app prints a line
            fake.clock.advance(1)
            fake.runtime.crash(chatty["protonId"], "default", 1, line="ERROR late line")
        return real_logs(proton_id, since)

    fake.runtime.logs = logs  # type: ignore[method-assign]
    gone = False

    async def is_disconnected() -> bool:
        return gone

    async def read() -> list[dict]:
        nonlocal gone
        out = []
        stream = follow(
            app.state.db,
            fake.runtime,
            chatty["id"],
            LogQuery(min_level=40),
            backlog=10,
            max_seconds=30,
            is_disconnected=is_disconnected,
        )
        async for chunk in stream:
            out.append(json.loads(chunk))
            if out[-1]["message"] == "ERROR late line":
                gone = True  # the client goes away: the stream must end on its own
        return out

    entries = asyncio.run(asyncio.wait_for(read(), timeout=10))
    assert [e["message"] for e in entries] == ["Traceback: boom", "ERROR late line"]

"""GET /artifacts: filters, search, order and pagination."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.factories import create_artifact

API = "/api/v2/artifacts"


def names(client: TestClient, **params: object) -> list[str]:
    response = client.get(API, params=params)
    assert response.status_code == 200, response.text
    return [item["name"] for item in response.json()["data"]]


def test_default_order_is_newest_first_with_the_envelope(client: TestClient) -> None:
    for name in ("a", "b", "c"):
        create_artifact(client, name)
    body = client.get(API).json()
    assert set(body) == {"count", "totalCount", "next", "previous", "data"}
    assert body["count"] == body["totalCount"] == 3
    assert body["next"] is None and body["previous"] is None
    assert [item["name"] for item in body["data"]] == ["c", "b", "a"]


def test_order_by_each_field_and_sort_as_a_synonym(client: TestClient) -> None:
    made = {name: create_artifact(client, name) for name in ("b", "c", "a")}
    assert names(client, orderBy="name") == ["a", "b", "c"]
    assert names(client, orderBy="-name") == ["c", "b", "a"]
    assert names(client, orderBy="createdAt") == ["b", "c", "a"]
    assert names(client, sort="-name") == ["c", "b", "a"]
    client.patch(f"{API}/{made['b']['id']}", json={"description": "touched"})
    assert names(client, orderBy="-updatedAt")[0] == "b"
    assert names(client, orderBy="updatedAt")[-1] == "b"
    client.patch(f"{API}/{made['a']['id']}", json={"status": "locked"})
    assert names(client, orderBy="-status")[0] == "a"
    assert names(client, orderBy="status")[-1] == "a"
    for bad in ("size", "-size", ""):
        response = client.get(API, params={"orderBy": bad})
        if bad == "":
            assert response.status_code == 200
            continue
        assert response.status_code == 422
        assert response.json()["detail"][0]["loc"] == ["query", "orderBy"]


def test_pagination_links(client: TestClient) -> None:
    for index in range(5):
        create_artifact(client, f"a{index}")
    first = client.get(API, params={"limit": 2, "orderBy": "name"}).json()
    assert first["count"] == 2 and first["totalCount"] == 5
    assert first["previous"] is None
    assert first["next"].startswith("http")
    second = client.get(first["next"]).json()
    assert [a["name"] for a in second["data"]] == ["a2", "a3"]
    assert "orderBy=name" in second["next"]
    third = client.get(second["next"]).json()
    assert [a["name"] for a in third["data"]] == ["a4"]
    assert third["next"] is None
    back = client.get(third["previous"]).json()
    assert [a["name"] for a in back["data"]] == ["a2", "a3"]
    for params in ({"limit": 0}, {"limit": 101}, {"offset": -1}):
        assert client.get(API, params=params).status_code == 422


def test_filters_by_status_type_repository_ids_and_creator(client: TestClient) -> None:
    one = create_artifact(client, "one")
    two = create_artifact(client, "two", artifactRepositoryId=one["artifactRepositoryId"])
    create_artifact(client, "three")
    client.patch(f"{API}/{two['id']}", json={"status": "locked"})
    assert names(client, status="locked") == ["two"]
    assert names(client, status="registered") == ["two"]
    assert names(client, status="draft", orderBy="name") == ["one", "three"]
    assert names(client, status="draft,locked", orderBy="name") == ["one", "three", "two"]
    assert client.get(API, params={"status": "running"}).status_code == 422
    assert names(client, type="service", orderBy="name") == ["one", "three", "two"]
    assert names(client, type="nim") == []
    assert client.get(API, params={"type": "other"}).status_code == 422
    repo = one["artifactRepositoryId"]
    assert names(client, repositoryId=repo, orderBy="name") == ["one", "two"]
    assert names(client, ids=f"{one['id']},{two['id']}", orderBy="name") == ["one", "two"]
    assert names(client, ids=[one["id"], two["id"]], orderBy="name") == ["one", "two"]
    assert names(client, ids="garbage") == []
    assert client.get(API, params={"ids": "a\x00b"}).status_code == 422  # NUL: never a match
    admin_id = one["creator"]["id"]
    assert len(names(client, createdBy=admin_id)) == 3
    assert names(client, createdBy="0" * 24) == []


def test_tag_filters_or_within_and_between(client: TestClient) -> None:
    create_artifact(client, "a", tags=[{"name": "team", "value": "red"}])
    create_artifact(client, "b", tags=[{"name": "team", "value": "blue"}])
    create_artifact(client, "c", tags=[{"name": "env", "value": "red"}])
    create_artifact(client, "d")
    assert names(client, tagKeys="team", orderBy="name") == ["a", "b"]
    assert names(client, tagKeys="team,env", orderBy="name") == ["a", "b", "c"]
    assert names(client, tagKeys=["team", "env"], orderBy="name") == ["a", "b", "c"]
    assert names(client, tagValues="red", orderBy="name") == ["a", "c"]
    assert names(client, tagKeys="team", tagValues="red") == ["a"]
    assert names(client, tagKeys="team", tagValues="red,blue", orderBy="name") == ["a", "b"]
    assert names(client, tagKeys="nope") == []
    assert client.get(API, params={"tagKeys": "team\x00"}).status_code == 422


def test_search_is_a_case_insensitive_substring_of_name_description_or_id(
    client: TestClient,
) -> None:
    web = create_artifact(client, "Web-Frontend", description="serves pages")
    create_artifact(client, "batch", description="Nightly JOBS 100%_done")
    create_artifact(client, "other", description="it's a back\\slash; DROP TABLE x")
    assert names(client, search="FRONT") == ["Web-Frontend"]
    for term in ("it's", "'", "k\\s", "\\", "; DROP", "%'--"):
        expected = [] if term == "%'--" else ["other"]
        assert names(client, search=term) == expected, term
    assert names(client, search="nightly jobs") == ["batch"]
    assert names(client, search="pages") == ["Web-Frontend"]
    assert names(client, search=web["id"][6:18]) == ["Web-Frontend"]
    assert names(client, search="b-f") == ["Web-Frontend"]
    assert names(client, search='"quoted"') == []
    assert names(client, search="100%_") == ["batch"]
    assert names(client, search="%") == ["batch"]
    assert names(client, search="_") == ["batch"]
    assert names(client, search="zzz") == []
    # Shorter than a trigram: still right (a scan).
    assert names(client, search="We") == ["Web-Frontend"]
    assert sorted(names(client, search="e")) == ["Web-Frontend", "batch", "other"]
    assert client.get(API, params={"search": "x" * 101}).status_code == 422
    assert client.get(API, params={"search": "a\x00b"}).status_code == 422


def test_search_follows_renames_and_deletes(client: TestClient) -> None:
    artifact = create_artifact(client, "alpha")
    client.patch(f"{API}/{artifact['id']}", json={"name": "omega", "description": "later"})
    assert names(client, search="alpha") == []
    assert names(client, search="omeg") == ["omega"]
    assert names(client, search="later") == ["omega"]
    client.delete(f"{API}/{artifact['id']}")
    assert names(client, search="omeg") == []


def test_filters_combine_with_the_total_count(client: TestClient) -> None:
    for index in range(4):
        create_artifact(client, f"svc-{index}", tags=[{"name": "k", "value": str(index % 2)}])
    create_artifact(client, "unrelated", tags=[{"name": "k", "value": "0"}])
    body = client.get(API, params={"search": "svc", "tagValues": "0", "limit": 1}).json()
    assert body["totalCount"] == 2 and body["count"] == 1 and body["next"] is not None

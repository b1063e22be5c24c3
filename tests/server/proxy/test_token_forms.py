"""Invoke takes the API token in the same forms as the API, and never passes it on."""

from __future__ import annotations

import time

import httpx
import pytest

from tests.conftest import ADMIN_TOKEN
from tests.server.proxy.conftest import Live
from tests.server.proxy.upstreams import Upstream

FORMS = {
    "bearer": lambda token: {"Authorization": f"Bearer {token}"},
    "token": lambda token: {"Authorization": f"Token {token}"},
    "api key header": lambda token: {"x-datarobot-api-key": token},
}


def _token(live: Live) -> tuple[str, str]:
    created = live.admin.post("/api/v2/apiTokens", json={"name": "invoke"}).json()
    return created["id"], created["token"]


@pytest.mark.parametrize("form", FORMS)
def test_each_form_invokes_and_none_reaches_the_workload(
    live: Live, upstream: Upstream, form: str
) -> None:
    workload_id = live.create_workload([upstream.port])
    _, token = _token(live)
    response = httpx.get(live.invoke_url(workload_id, "/echo"), headers=FORMS[form](token))
    assert response.status_code == 200, response.text
    forwarded = response.json()["headers"]
    assert "authorization" not in forwarded
    assert "x-datarobot-api-key" not in forwarded  # the token stays with Dockyard


@pytest.mark.parametrize("form", FORMS)
def test_a_revoked_token_is_401_json_in_every_form(
    live: Live, upstream: Upstream, form: str
) -> None:
    workload_id = live.create_workload([upstream.port])
    token_id, token = _token(live)
    url = live.invoke_url(workload_id, "/echo")
    assert httpx.get(url, headers=FORMS[form](token)).status_code == 200
    assert live.admin.delete(f"/api/v2/apiTokens/{token_id}").status_code == 204

    # This server forgets its cached check before it answers the DELETE; the loop allows the
    # second within which a server may still accept a revoked token (docs/architecture.md).
    deadline = time.monotonic() + 2.0
    response = httpx.get(url, headers=FORMS[form](token))
    while response.status_code == 200 and time.monotonic() < deadline:
        time.sleep(0.05)
        response = httpx.get(url, headers=FORMS[form](token))
    assert response.status_code == 401
    assert response.headers["content-type"] == "application/json"
    assert response.json()["code"] == "unauthorized"
    assert response.json()["detail"] == "Invalid or revoked API token."


def test_a_workloads_own_error_keeps_its_type(live: Live, upstream: Upstream) -> None:
    workload_id = live.create_workload([upstream.port])
    _, token = _token(live)
    url = live.invoke_url(workload_id, "/echo?status=404")
    response = httpx.get(url, headers={"Authorization": f"Token {token}"})
    assert response.status_code == 404
    # The upstream's own answer (aiohttp's JSON with a charset), not one of Dockyard's.
    assert response.headers["content-type"] == "application/json; charset=utf-8"
    assert response.json()["server"] == "a"


@pytest.mark.parametrize("form", FORMS)
def test_metrics_take_the_admin_token_in_every_form(live: Live, form: str) -> None:
    response = httpx.get(f"{live.url}/metrics", headers=FORMS[form](ADMIN_TOKEN))
    assert response.status_code == 200
    assert "dockyard_proxy_requests_total" in response.text
    refused = httpx.get(f"{live.url}/metrics", headers=FORMS[form]("dy_nope"))
    assert refused.status_code == 401
    assert refused.headers["content-type"] == "application/json"

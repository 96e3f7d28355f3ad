"""The SCIM lane (web/scim/lane.py) answers what FastAPI's stack answered.

Each request is sent twice to one application: through the lane, then with the
lane switched off, through the middleware and the mounted routes it replaces.
Status, body and headers must be the same, bar the request id each one draws.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from starlette.testclient import TestClient

from sitescim.services import users as user_service
from sitescim.web import metrics
from sitescim.web.app import create_app
from sitescim.web.scim.lane import ScimLane
from sitescim.web.scim.routes import ROUTES, RouteTable

USER_URN = "urn:ietf:params:scim:schemas:core:2.0:User"
PATCH_URN = "urn:ietf:params:scim:api:messages:2.0:PatchOp"


@pytest.fixture
def app(settings, database, clock):  # type: ignore[no-untyped-def]
    return create_app(
        settings.model_copy(update={"max_body_bytes": 4096}), clock=clock, database=database
    )


@pytest.fixture
def lane_client(app) -> Iterator[TestClient]:  # type: ignore[no-untyped-def]
    with TestClient(app, raise_server_exceptions=False) as client:
        yield client


def _seen(response: httpx.Response) -> tuple[int, bytes, list[tuple[str, str]]]:
    headers = [(k, v) for k, v in response.headers.multi_items() if k != "x-request-id"]
    return response.status_code, response.content, headers


def _both(client: TestClient, app: Any, method: str, url: str, **kw: Any) -> httpx.Response:
    lane: ScimLane = app.scim_lane
    assert lane is not None
    through_lane = client.request(method, url, **kw)
    app.scim_lane = None
    try:
        through_stack = client.request(method, url, **kw)
    finally:
        app.scim_lane = lane
    assert _seen(through_lane) == _seen(through_stack), (method, url)
    if through_lane.status_code != 500:  # a 500 is sent from outside the request's context
        assert through_lane.headers["x-request-id"]
    return through_lane


def test_every_kind_of_answer_is_the_one_the_stack_gave(lane_client, app, auth_a):
    created = lane_client.post(
        "/scim/v2/Users", json={"schemas": [USER_URN], "userName": "lane@a.test"}, headers=auth_a
    )
    assert created.status_code == 201, created.text
    user_id = created.json()["id"]
    etag = created.headers["etag"]
    user = f"/scim/v2/Users/{user_id}"
    patch = {
        "schemas": [PATCH_URN],
        "Operations": [{"op": "replace", "path": "active", "value": True}],
    }
    cases: list[tuple[str, str, dict[str, Any], int]] = [
        ("GET", user, {"headers": auth_a}, 200),
        ("GET", user + "/", {"headers": auth_a}, 200),
        ("GET", user, {"headers": {**auth_a, "If-None-Match": etag}}, 304),
        ("GET", user, {"headers": auth_a, "params": {"attributes": "userName"}}, 200),
        (
            "GET",
            "/scim/v2/Users",
            {"headers": auth_a, "params": {"filter": 'userName eq "lane@a.test"'}},
            200,
        ),
        ("GET", "/scim/v2/Users", {"headers": auth_a, "params": {"filter": "userName zz 1"}}, 400),
        ("PATCH", user, {"headers": {**auth_a, "If-Match": 'W/"stale"'}, "json": patch}, 412),
        ("GET", "/scim/v2/Users/no-such-user", {"headers": auth_a}, 404),
        ("GET", "/scim/v2/Nowhere/at/all", {"headers": auth_a}, 404),
        ("GET", "/scim/v2/", {"headers": auth_a}, 404),
        ("GET", "/scim/v2/Nowhere", {}, 401),
        ("GET", user, {"headers": {"Authorization": "Bearer not-a-token"}}, 401),
        ("PUT", "/scim/v2/Users", {"headers": auth_a}, 405),
        ("HEAD", "/scim/v2/Bulk", {"headers": auth_a}, 405),
        ("GET", "/scim/v2/Users", {"headers": auth_a, "params": {"filter": "a\x00"}}, 400),
        ("POST", "/scim/v2/Users", {"headers": auth_a, "content": b"{", "json": None}, 400),
        ("POST", "/scim/v2/Users", {"headers": auth_a, "content": b"x" * 5000}, 413),
        (
            "GET",
            "/scim/v2/ServiceProviderConfig",
            {"headers": {**auth_a, "Host": "evil.example"}},
            200,
        ),
        ("GET", "/scim/v2/ResourceTypes/User", {"headers": auth_a}, 200),
        ("GET", "/scim/v2/Schemas", {"headers": auth_a, "params": {"filter": "x"}}, 403),
        ("POST", "/scim/v2/.search", {"headers": auth_a, "json": {}}, 501),
        ("DELETE", user, {"headers": auth_a}, 204),
    ]
    for method, url, kw, status in cases:
        if kw.get("json", 0) is None:
            del kw["json"]
        # The second send must meet the state the first met: DELETE and PATCH go last
        # or fail before changing anything.
        if method == "DELETE":
            assert lane_client.request(method, url, **kw).status_code == status
            continue
        assert _both(lane_client, app, method, url, **kw).status_code == status, (method, url)


def test_a_method_no_route_takes_is_405_before_authentication(lane_client, app):
    response = _both(lane_client, app, "TRACE", "/scim/v2/Users")
    assert response.status_code == 405
    assert set(response.headers["allow"].split(", ")) == {
        "GET",
        "HEAD",
        "POST",
        "PUT",
        "PATCH",
        "DELETE",
        "OPTIONS",
    }
    assert response.json()["status"] == "405"


def test_an_unexpected_error_is_a_scim_500_that_closes_the_connection(
    lane_client, app, auth_a, monkeypatch
):
    async def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("secret internals")

    monkeypatch.setattr(user_service, "read_user", broken)
    response = _both(lane_client, app, "GET", "/scim/v2/Users/some-id", headers=auth_a)

    assert response.status_code == 500
    assert response.headers["connection"] == "close"
    assert response.headers["content-type"] == "application/scim+json"
    assert response.json()["detail"] == "An internal error occurred; it has been logged."
    assert "secret internals" not in response.text


def test_metrics_and_the_access_log_name_the_route_template(lane_client, auth_a, caplog):
    caplog.set_level(logging.INFO, logger="sitescim.access")
    before = metrics.REQUESTS.labels("/scim/v2/Users/{id}", "GET", "404", "site-a")._value.get()

    lane_client.get("/scim/v2/Users/unknown-id", headers=auth_a)

    after = metrics.REQUESTS.labels("/scim/v2/Users/{id}", "GET", "404", "site-a")._value.get()
    assert after == before + 1
    [line] = [r for r in caplog.records if r.name == "sitescim.access"]
    assert (line.method, line.path, line.status, line.client) == (  # type: ignore[attr-defined]
        "GET",
        "/scim/v2/Users/unknown-id",
        404,
        "testclient",
    )


def test_a_proxys_root_path_is_left_to_the_stack(app, auth_a):
    with TestClient(app, root_path="/behind") as client:
        response = client.get("/behind/scim/v2/ServiceProviderConfig", headers=auth_a)
    assert response.status_code == 200


@pytest.mark.parametrize(
    ("rest", "template", "resource_id"),
    [
        ("/Users", "/scim/v2/Users", None),
        ("/Users/.search", "/scim/v2/Users/.search", None),
        ("/Users/abc", "/scim/v2/Users/{id}", "abc"),
        ("/Groups/a b", "/scim/v2/Groups/{id}", "a b"),
        ("/Schemas/urn:x:y", "/scim/v2/Schemas/{id}", "urn:x:y"),
        ("/Bulk", "/scim/v2/Bulk", None),
    ],
)
def test_the_route_table_finds_what_the_mounted_routes_match(rest, template, resource_id):
    found = RouteTable(ROUTES).find(rest)
    assert found is not None
    assert (found[0].template, found[1]) == (template, resource_id)


@pytest.mark.parametrize(
    "rest", ["/", "", "/Users/", "/Users//x", "/Users/a/b", "/users", "/Nope/x"]
)
def test_the_route_table_finds_nothing_where_the_mounted_routes_match_nothing(rest):
    assert RouteTable(ROUTES).find(rest) is None

"""Reconciliation reads with an operator key: sites, users, groups and group members,
cursor-paged, as the SCIM API shows them; on SQLite and PostgreSQL."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.integration.feed.calls import emit, operator
from tests.world import World

USER_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:User"
GROUP_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:Group"


def _user(client: TestClient, auth: dict[str, str], name: str) -> str:
    made = client.post(
        "/scim/v2/Users", json={"schemas": [USER_SCHEMA], "userName": name}, headers=auth
    )
    assert made.status_code == 201, made.text
    return str(made.json()["id"])


def _group(client: TestClient, auth: dict[str, str], name: str, members: list[str]) -> str:
    body = {
        "schemas": [GROUP_SCHEMA],
        "displayName": name,
        "members": [{"value": m} for m in members],
    }
    made = client.post("/scim/v2/Groups", json=body, headers=auth)
    assert made.status_code == 201, made.text
    return str(made.json()["id"])


def _walk(
    client: TestClient, path: str, headers: dict[str, str], name: str, limit: int
) -> list[Any]:
    """Every page of a list, following ``next`` until null; checks each page's size."""
    found: list[Any] = []
    cursor: str | None = None
    while True:
        params: dict[str, Any] = {"limit": limit}
        if cursor is not None:
            params["cursor"] = cursor
        response = client.get(path, params=params, headers=headers)
        assert response.status_code == 200, response.text
        assert response.headers["cache-control"] == "no-store"
        page = response.json()
        assert set(page) == {name, "next", "feed_position"}
        found += page[name]
        cursor = page["next"]
        if cursor is None:
            return found
        assert len(page[name]) == limit


def test_sites_are_those_the_key_reads(client: TestClient, world: World) -> None:
    _, every = operator(world)
    _, only_b = operator(world, "site-b")
    assert client.get("/api/v1/sites", headers=every).json() == {
        "sites": [
            {"id": world.site_a, "slug": "site-a", "name": "Site A"},
            {"id": world.site_b, "slug": "site-b", "name": "Site B"},
        ]
    }
    assert client.get("/api/v1/sites", headers=only_b).json() == {
        "sites": [{"id": world.site_b, "slug": "site-b", "name": "Site B"}]
    }


def test_users_page_through_as_their_scim_documents(
    client: TestClient, world: World, auth_a: dict[str, str], auth_b: dict[str, str]
) -> None:
    for n in range(5):
        _user(client, auth_a, f"user{n}@a.test")
    _user(client, auth_b, "other@b.test")
    _, headers = operator(world)

    listed = _walk(client, "/api/v1/sites/site-a/users", headers, "users", limit=2)
    scim = client.get("/scim/v2/Users", params={"count": 1000}, headers=auth_a).json()
    assert len(listed) == scim["totalResults"] == 9  # the world's four people and five more
    assert sorted(listed, key=lambda u: u["id"]) == sorted(scim["Resources"], key=lambda u: u["id"])
    one = listed[-1]
    assert one == client.get(f"/scim/v2/Users/{one['id']}", headers=auth_a).json()
    assert "other@b.test" not in str(listed)


def test_groups_come_without_members_which_page_on_their_own(
    client: TestClient, world: World, auth_a: dict[str, str]
) -> None:
    users = [_user(client, auth_a, f"m{n}@a.test") for n in range(5)]
    inner = _group(client, auth_a, "Inner", [users[0]])
    outer = _group(client, auth_a, "Outer", [*users, inner])
    _, headers = operator(world)

    groups = _walk(client, "/api/v1/sites/site-a/groups", headers, "groups", limit=1)
    assert sorted(g["id"] for g in groups) == sorted([inner, outer])
    for group in groups:
        assert "members" not in group
        scim = client.get(
            f"/scim/v2/Groups/{group['id']}?excludedAttributes=members", headers=auth_a
        ).json()
        assert group == scim

    members = _walk(
        client, f"/api/v1/sites/site-a/groups/{outer}/members", headers, "members", limit=2
    )
    shown = client.get(f"/scim/v2/Groups/{outer}", headers=auth_a).json()["members"]
    assert sorted(members, key=lambda m: m["value"]) == sorted(shown, key=lambda m: m["value"])
    assert [m["type"] for m in members] == ["User"] * 5 + ["Group"]
    assert [m["value"] for m in members[:5]] == sorted(users)


def test_a_key_of_another_site_gets_404_as_for_no_site(
    client: TestClient, world: World, auth_a: dict[str, str]
) -> None:
    group = _group(client, auth_a, "Staff", [])
    _, only_b = operator(world, "site-b")
    _, every = operator(world)
    for path in (
        "/api/v1/sites/site-a/users",
        "/api/v1/sites/site-a/groups",
        f"/api/v1/sites/site-a/groups/{group}/members",
        "/api/v1/sites/no-such-site/users",
    ):
        refused = client.get(path, headers=only_b)
        assert refused.status_code == 404, path
        assert refused.json() == {"detail": "No such site."}
        assert group not in refused.text
    assert client.get("/api/v1/sites/site-b/users", headers=only_b).status_code == 200
    for path in (
        f"/api/v1/sites/site-b/groups/{group}/members",
        "/api/v1/sites/site-a/groups/x/members",
    ):
        refused = client.get(path, headers=every)
        assert refused.status_code == 404, path
        assert refused.json() == {"detail": "No such group."}


@pytest.mark.parametrize("resource", ["users", "groups", "members"])
@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"cursor": "not-a-cursor"}, "cursor"),
        ({"cursor": "e30.AAAAAAAAAAAAAAAAAAAAAA"}, "cursor"),
        ({"limit": 0}, "query.limit"),
        ({"limit": 1001}, "query.limit"),
    ],
)
def test_bad_cursors_and_limits_are_400(
    client: TestClient,
    world: World,
    auth_a: dict[str, str],
    resource: str,
    params: dict[str, Any],
    field: str,
) -> None:
    group = _group(client, auth_a, "Staff", [])
    _, headers = operator(world)
    path = {
        "users": "/api/v1/sites/site-a/users",
        "groups": "/api/v1/sites/site-a/groups",
        "members": f"/api/v1/sites/site-a/groups/{group}/members",
    }[resource]
    response = client.get(path, params=params, headers=headers)
    assert response.status_code == 400, response.text
    assert response.json()["field"] == field


def test_a_cursor_of_one_list_is_refused_by_another(
    client: TestClient, world: World, auth_a: dict[str, str]
) -> None:
    for n in range(3):
        _user(client, auth_a, f"u{n}@a.test")
    _, headers = operator(world)
    users = client.get("/api/v1/sites/site-a/users?limit=1", headers=headers).json()
    assert users["next"] is not None
    wrong = client.get(
        "/api/v1/sites/site-a/groups", params={"cursor": users["next"]}, headers=headers
    )
    assert wrong.status_code == 400
    assert wrong.json()["field"] == "cursor"


def test_the_feed_position_is_taken_before_the_page_so_a_follower_misses_nothing(
    client: TestClient, world: World, auth_a: dict[str, str]
) -> None:
    emit(world, world.site_a, "before")
    _, headers = operator(world)
    feed = client.get("/api/v1/events", headers=headers).json()
    newest = feed["events"][-1]["id"]

    first = client.get("/api/v1/sites/site-a/users?limit=1", headers=headers).json()
    assert first["feed_position"] == newest
    emit(world, world.site_a, "while-listing")
    rest = client.get(
        "/api/v1/sites/site-a/users", params={"cursor": first["next"]}, headers=headers
    ).json()
    assert rest["feed_position"] > newest
    after = client.get(
        "/api/v1/events", params={"after": first["feed_position"]}, headers=headers
    ).json()
    assert [e["data"]["id"] for e in after["events"]] == ["while-listing"]
    group = _group(client, auth_a, "Staff", [])
    members = client.get(f"/api/v1/sites/site-a/groups/{group}/members", headers=headers).json()
    assert members["feed_position"] == rest["feed_position"]


def test_an_empty_feed_has_position_zero(client: TestClient, world: World) -> None:
    _, headers = operator(world)
    page = client.get("/api/v1/sites/site-b/groups", headers=headers).json()
    assert page == {"groups": [], "next": None, "feed_position": "evt_0000000000000000"}
    assert client.get(
        "/api/v1/events", params={"after": page["feed_position"]}, headers=headers
    ).json() == {"events": [], "next": "evt_0000000000000000"}

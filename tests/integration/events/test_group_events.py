"""Every change of a group by SCIM records its events; no event lists a group's members."""

from __future__ import annotations

from typing import Any

import pytest
from starlette.testclient import TestClient

from sitescim.services.tokens import IssuedToken
from tests.factories import bearer, make_token, patch_body
from tests.integration.events.recorded import (
    GROUP_URN,
    USER_URN,
    feed_end,
    recorded,
    token_actor,
    types_after,
)
from tests.world import World


@pytest.fixture
def entra(world: World) -> IssuedToken:
    return make_token(world.runtime, "site-a", world.promaster_a, description="Entra ID")


@pytest.fixture
def headers(entra: IssuedToken) -> dict[str, str]:
    return bearer(entra.value)


def _user(client: TestClient, headers: dict[str, str], name: str) -> str:
    response = client.post(
        "/scim/v2/Users", json={"schemas": [USER_URN], "userName": name}, headers=headers
    )
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


def _group(client: TestClient, headers: dict[str, str], name: str, *members: str) -> Any:
    body: dict[str, Any] = {"schemas": [GROUP_URN], "displayName": name}
    if members:
        body["members"] = [{"value": member} for member in members]
    response = client.post("/scim/v2/Groups", json=body, headers=headers)
    assert response.status_code == 201, response.text
    return response.json()


def _patch(client: TestClient, headers: dict[str, str], group_id: str, *ops: Any) -> None:
    response = client.patch(f"/scim/v2/Groups/{group_id}", json=patch_body(*ops), headers=headers)
    assert response.status_code == 204, response.text


def _without_members(document: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in document.items() if key != "members"}


def _read(client: TestClient, headers: dict[str, str], group_id: str) -> Any:
    response = client.get(f"/scim/v2/Groups/{group_id}", headers=headers)
    assert response.status_code == 200, response.text
    return response.json()


def test_post_without_members_records_group_created_only(
    client: TestClient, world: World, entra: IssuedToken, headers: dict[str, str]
) -> None:
    start = feed_end(world)
    created = _group(client, headers, "Staff")

    [event] = recorded(world.runtime, start)
    assert event["type"] == "group.created"
    assert event["site"] == {"id": world.site_a, "slug": "site-a"}
    assert event["actor"] == token_actor(entra.id, "Entra ID")
    assert event["data"] == created


def test_post_with_members_records_created_then_members_added_and_data_lists_none(
    client: TestClient, world: World, headers: dict[str, str]
) -> None:
    user = _user(client, headers, "jo@a.test")
    inner = _group(client, headers, "Inner")["id"]
    start = feed_end(world)
    created = _group(client, headers, "Outer", user, inner)

    made, added = recorded(world.runtime, start)
    assert (made["type"], added["type"]) == ("group.created", "group.members_added")
    assert "members" in created
    assert made["data"] == added["data"] == _without_members(created)
    assert "changes" not in made
    assert added["changes"] == {
        "members": [{"value": user, "type": "User"}, {"value": inner, "type": "Group"}]
    }


def test_patch_records_who_joined_and_who_left_and_not_a_member_already_there(
    client: TestClient, world: World, headers: dict[str, str]
) -> None:
    stays, leaves, joins = (_user(client, headers, f"{n}@a.test") for n in ("s", "l", "j"))
    group = _group(client, headers, "Staff", stays, leaves)["id"]
    start = feed_end(world)
    _patch(
        client,
        headers,
        group,
        {"op": "add", "path": "members", "value": [{"value": joins}, {"value": stays}]},
        {"op": "remove", "path": f'members[value eq "{leaves}"]'},
    )

    added, removed = recorded(world.runtime, start)
    assert added["type"] == "group.members_added"
    assert added["changes"] == {"members": [{"value": joins, "type": "User"}]}
    assert removed["type"] == "group.members_removed"
    assert removed["changes"] == {"members": [{"value": leaves, "type": "User"}]}
    assert added["data"] == removed["data"] == _without_members(_read(client, headers, group))


def test_a_patch_that_changes_nothing_records_nothing(
    client: TestClient, world: World, headers: dict[str, str]
) -> None:
    member, stranger = _user(client, headers, "m@a.test"), _user(client, headers, "x@a.test")
    group = _group(client, headers, "Staff", member)["id"]
    start = feed_end(world)
    _patch(client, headers, group, {"op": "add", "path": "members", "value": [{"value": member}]})
    _patch(client, headers, group, {"op": "remove", "path": f'members[value eq "{stranger}"]'})
    _patch(client, headers, group, {"op": "replace", "path": "displayName", "value": "Staff"})
    _patch(
        client,
        headers,
        group,
        {"op": "add", "path": "members", "value": [{"value": stranger}]},
        {"op": "remove", "path": f'members[value eq "{stranger}"]'},
    )
    assert recorded(world.runtime, start) == []


def test_patch_of_the_name_records_group_updated(
    client: TestClient, world: World, headers: dict[str, str]
) -> None:
    group = _group(client, headers, "Staff")["id"]
    start = feed_end(world)
    _patch(client, headers, group, {"op": "replace", "path": "displayName", "value": "Crew"})

    [event] = recorded(world.runtime, start)
    assert event["type"] == "group.updated"
    assert event["changes"] == {"attributes": ["displayName"]}
    assert event["data"] == _read(client, headers, group)


def test_removal_by_a_filter_names_the_members_it_removed(
    client: TestClient, world: World, headers: dict[str, str]
) -> None:
    user = _user(client, headers, "u@a.test")
    inner = _group(client, headers, "Inner")["id"]
    group = _group(client, headers, "Outer", user, inner)["id"]
    start = feed_end(world)
    _patch(client, headers, group, {"op": "remove", "path": 'members[type eq "Group"]'})

    [event] = recorded(world.runtime, start)
    assert event["type"] == "group.members_removed"
    assert event["changes"] == {"members": [{"value": inner, "type": "Group"}]}


def test_put_records_the_net_change_of_members_and_attributes(
    client: TestClient, world: World, headers: dict[str, str]
) -> None:
    stays, leaves, joins = (_user(client, headers, f"{n}@a.test") for n in ("s", "l", "j"))
    group = _group(client, headers, "Staff", stays, leaves)["id"]
    start = feed_end(world)
    replaced = client.put(
        f"/scim/v2/Groups/{group}",
        json={
            "schemas": [GROUP_URN],
            "displayName": "Crew",
            "members": [{"value": stays}, {"value": joins}],
        },
        headers=headers,
    )
    assert replaced.status_code == 200, replaced.text

    updated, added, removed = recorded(world.runtime, start)
    assert (updated["type"], updated["changes"]) == (
        "group.updated",
        {"attributes": ["displayName"]},
    )
    assert added["changes"] == {"members": [{"value": joins, "type": "User"}]}
    assert removed["changes"] == {"members": [{"value": leaves, "type": "User"}]}
    assert updated["data"] == _without_members(replaced.json())


def test_delete_records_group_deleted_with_the_group_as_it_was(
    client: TestClient, world: World, headers: dict[str, str]
) -> None:
    group = _group(client, headers, "Staff", _user(client, headers, "m@a.test"))["id"]
    as_read = _read(client, headers, group)
    start = feed_end(world)
    assert client.delete(f"/scim/v2/Groups/{group}", headers=headers).status_code == 204

    [event] = recorded(world.runtime, start)
    assert event["type"] == "group.deleted"
    assert event["data"] == _without_members(as_read)


def test_refused_group_changes_record_nothing(
    client: TestClient, world: World, headers: dict[str, str]
) -> None:
    group = _group(client, headers, "Staff")["id"]
    start = feed_end(world)
    unknown = client.post(
        "/scim/v2/Groups",
        json={"schemas": [GROUP_URN], "displayName": "X", "members": [{"value": "nobody"}]},
        headers=headers,
    )
    assert unknown.status_code == 400, unknown.text
    cycle = client.patch(
        f"/scim/v2/Groups/{group}",
        json=patch_body({"op": "add", "path": "members", "value": [{"value": group}]}),
        headers=headers,
    )
    assert cycle.status_code == 400, cycle.text
    stale = client.patch(
        f"/scim/v2/Groups/{group}",
        json=patch_body({"op": "replace", "path": "displayName", "value": "Crew"}),
        headers={**headers, "If-Match": 'W/"stale"'},
    )
    assert stale.status_code == 412, stale.text
    assert types_after(world.runtime, start) == []

"""SCIM /Groups: PUT, DELETE and listing.

Over real HTTP, on SQLite and PostgreSQL: membership as rows.
"""

from __future__ import annotations

from sitescim.db.models import User
from tests.integration.scim.groups.calls import GROUP_URN, create, values
from tests.integration.scim.rows import add_users


def test_put_replaces_name_and_members_and_bumps_version(client, world, database, auth_a):
    a, b = add_users(database, world.site_a, 2)
    group = create(client, auth_a, members=[{"value": a}])
    body = {"schemas": [GROUP_URN], "displayName": "Replaced", "members": [{"value": b}]}
    response = client.put(f"/scim/v2/Groups/{group['id']}", json=body, headers=auth_a)
    assert response.status_code == 200, response.text
    assert response.json()["displayName"] == "Replaced"
    assert values(response.json()) == {b}
    assert response.json()["meta"]["version"] == 'W/"2"'
    assert response.json()["meta"]["created"] == group["meta"]["created"]


def test_put_with_stale_if_match_is_412(client, world, auth_a):
    group = create(client, auth_a)
    body = {"schemas": [GROUP_URN], "displayName": "Replaced"}
    url = f"/scim/v2/Groups/{group['id']}"
    stale = client.put(url, json=body, headers={**auth_a, "If-Match": 'W/"7"'})
    assert stale.status_code == 412
    fresh = client.put(url, json=body, headers={**auth_a, "If-Match": 'W/"1"'})
    assert fresh.status_code == 200


def test_delete_answers_204_then_404(client, world, auth_a):
    group = create(client, auth_a)
    url = f"/scim/v2/Groups/{group['id']}"
    assert client.delete(url, headers=auth_a).status_code == 204
    assert client.get(url, headers=auth_a).status_code == 404
    assert client.delete(url, headers=auth_a).status_code == 404


def test_deleting_a_member_group_or_user_removes_its_memberships(client, world, database, auth_a):
    [a] = add_users(database, world.site_a, 1)
    inner = create(client, auth_a, "Inner")
    outer = create(client, auth_a, "Outer", members=[{"value": a}, {"value": inner["id"]}])
    assert client.delete(f"/scim/v2/Groups/{inner['id']}", headers=auth_a).status_code == 204
    with database.transaction(write=True) as session:
        session.execute(User.__table__.delete().where(User.id == a))
    assert "members" not in client.get(f"/scim/v2/Groups/{outer['id']}", headers=auth_a).json()


def test_list_pages_by_start_index_and_count(client, world, clock, auth_a):
    for name in ("One", "Two", "Three"):
        create(client, auth_a, name)
        clock.advance(seconds=1)
    response = client.get("/scim/v2/Groups?startIndex=2&count=1", headers=auth_a)
    assert response.status_code == 200
    body = response.json()
    assert body["schemas"] == ["urn:ietf:params:scim:api:messages:2.0:ListResponse"]
    assert body["totalResults"] == 3
    assert body["startIndex"] == 2
    assert body["itemsPerPage"] == 1
    assert [r["displayName"] for r in body["Resources"]] == ["Two"]

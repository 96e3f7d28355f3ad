"""SCIM /Groups: tenant isolation (T10).

Over real HTTP, on SQLite and PostgreSQL: membership as rows.
"""

from __future__ import annotations

from tests.integration.scim.groups.calls import GROUP_URN, create, patch
from tests.integration.scim.rows import add_users, member_count


def test_another_sites_group_is_absent_for_every_operation(client, world, auth_a, auth_b):
    group = create(client, auth_a)
    url = f"/scim/v2/Groups/{group['id']}"
    assert client.get(url, headers=auth_b).status_code == 404
    put = {"schemas": [GROUP_URN], "displayName": "Stolen"}
    assert client.put(url, json=put, headers=auth_b).status_code == 404
    op = {"op": "replace", "path": "displayName", "value": "Stolen"}
    assert patch(client, auth_b, group["id"], op).status_code == 404
    assert client.delete(url, headers=auth_b).status_code == 404
    assert client.get("/scim/v2/Groups", headers=auth_b).json()["totalResults"] == 0
    assert client.get(url, headers=auth_a).json()["displayName"] == "Engineering"


def test_another_sites_user_cannot_become_a_member(client, world, database, auth_a):
    [foreign] = add_users(database, world.site_b, 1, prefix="foreign")
    group = create(client, auth_a)
    op = {"op": "add", "path": "members", "value": [{"value": foreign}]}
    response = patch(client, auth_a, group["id"], op)
    assert response.status_code == 400
    assert response.json()["scimType"] == "invalidValue"
    assert foreign in response.json()["detail"]
    assert member_count(database, group["id"]) == 0

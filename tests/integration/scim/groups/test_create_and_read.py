"""SCIM /Groups: creating and reading groups.

Over real HTTP, on SQLite and PostgreSQL: membership as rows.
"""

from __future__ import annotations

import uuid

from tests.integration.scim.groups.calls import GROUP_URN, create
from tests.integration.scim.rows import add_users


def test_created_group_has_members_meta_etag_and_location(client, world, database, auth_a):
    [uid] = add_users(database, world.site_a, 1)
    group = create(client, auth_a, members=[{"value": uid}], externalId="ext-1")
    assert group["displayName"] == "Engineering"
    assert group["externalId"] == "ext-1"
    [member] = group["members"]
    assert member["value"] == uid
    assert member["type"] == "User"
    assert member["display"] == "Member 0"
    assert member["$ref"] == f"http://testserver/scim/v2/Users/{uid}"
    meta = group["meta"]
    assert meta["resourceType"] == "Group"
    assert meta["location"] == f"http://testserver/scim/v2/Groups/{group['id']}"
    assert meta["version"] == 'W/"1"'
    assert meta["created"] == "2026-03-01T12:00:00Z"
    assert meta["lastModified"] == meta["created"]

    response = client.get(f"/scim/v2/Groups/{group['id']}", headers=auth_a)
    assert response.status_code == 200
    assert response.headers["etag"] == 'W/"1"'
    assert response.headers["content-type"].startswith("application/scim+json")
    assert response.json() == group


def test_create_answers_201_with_location_header(client, world, auth_a):
    body = {"schemas": [GROUP_URN], "displayName": "Sales"}
    response = client.post("/scim/v2/Groups", json=body, headers=auth_a)
    assert response.status_code == 201
    assert response.headers["location"] == response.json()["meta"]["location"]
    assert response.headers["etag"] == 'W/"1"'


def test_a_group_may_contain_groups(client, world, auth_a):
    inner = create(client, auth_a, "Inner")
    outer = create(client, auth_a, "Outer", members=[{"value": inner["id"], "type": "Group"}])
    [member] = outer["members"]
    assert member == {
        "value": inner["id"],
        "$ref": f"http://testserver/scim/v2/Groups/{inner['id']}",
        "type": "Group",
        "display": "Inner",
    }


def test_create_without_display_name_is_refused(client, world, auth_a):
    response = client.post("/scim/v2/Groups", json={"schemas": [GROUP_URN]}, headers=auth_a)
    assert response.status_code == 400
    assert response.json()["scimType"] == "invalidValue"


def test_unknown_member_is_refused_and_nothing_is_written(client, world, database, auth_a):
    [uid] = add_users(database, world.site_a, 1)
    missing = str(uuid.uuid4())
    body = {
        "schemas": [GROUP_URN],
        "displayName": "X",
        "members": [{"value": uid}, {"value": missing}],
    }
    response = client.post("/scim/v2/Groups", json=body, headers=auth_a)
    assert response.status_code == 400
    assert response.json()["scimType"] == "invalidValue"
    assert missing in response.json()["detail"]
    assert client.get("/scim/v2/Groups", headers=auth_a).json()["totalResults"] == 0


def test_get_unknown_group_is_404(client, world, auth_a):
    response = client.get(f"/scim/v2/Groups/{uuid.uuid4()}", headers=auth_a)
    assert response.status_code == 404
    assert response.json()["status"] == "404"

"""SCIM /Groups: PATCH of members and attributes.

Over real HTTP, on SQLite and PostgreSQL: membership as rows.
"""

from __future__ import annotations

import uuid

from tests.factories import patch_body
from tests.integration.scim.groups.calls import create, patch, patched, values
from tests.integration.scim.rows import add_users, member_count


def test_patch_adds_and_removes_only_the_named_members(client, world, database, auth_a):
    a, b, c = add_users(database, world.site_a, 3)
    group = create(client, auth_a, members=[{"value": a}, {"value": b}])
    added = patched(
        client, auth_a, group["id"], {"op": "Add", "path": "members", "value": [{"value": c}]}
    )
    assert values(added) == {a, b, c}
    removed = patched(
        client, auth_a, group["id"], {"op": "Remove", "path": f'members[value eq "{a}"]'}
    )
    assert values(removed) == {b, c}
    assert removed["meta"]["version"] == 'W/"3"'


def test_entra_style_remove_with_value_list_removes_only_those(client, world, database, auth_a):
    a, b, c = add_users(database, world.site_a, 3)
    group = create(client, auth_a, members=[{"value": a}, {"value": b}, {"value": c}])
    op = {"op": "Remove", "path": "members", "value": [{"value": a}, {"value": c}]}
    assert values(patched(client, auth_a, group["id"], op)) == {b}


def test_remove_members_without_value_removes_all(client, world, database, auth_a):
    a, b = add_users(database, world.site_a, 2)
    group = create(client, auth_a, members=[{"value": a}, {"value": b}])
    assert "members" not in patched(
        client, auth_a, group["id"], {"op": "remove", "path": "members"}
    )


def test_replace_members_sets_the_whole_set(client, world, database, auth_a):
    a, b, c = add_users(database, world.site_a, 3)
    group = create(client, auth_a, members=[{"value": a}, {"value": b}])
    op = {"op": "replace", "path": "members", "value": [{"value": c}]}
    assert values(patched(client, auth_a, group["id"], op)) == {c}


def test_adding_an_existing_member_keeps_one_row(client, world, database, auth_a):
    [a] = add_users(database, world.site_a, 1)
    group = create(client, auth_a, members=[{"value": a}])
    op = {"op": "add", "path": "members", "value": [{"value": a}]}
    assert patch(client, auth_a, group["id"], op).status_code == 204
    assert member_count(database, group["id"]) == 1


def test_patch_without_path_replaces_attributes(client, world, auth_a):
    group = create(client, auth_a)
    op = {"op": "Replace", "value": {"displayName": "Renamed", "externalId": "e-9"}}
    group = patched(client, auth_a, group["id"], op)
    assert group["displayName"] == "Renamed"
    assert group["externalId"] == "e-9"


def test_patch_without_path_adds_members(client, world, database, auth_a):
    [a] = add_users(database, world.site_a, 1)
    group = create(client, auth_a)
    op = {"op": "add", "value": {"members": [{"value": a}]}}
    assert values(patched(client, auth_a, group["id"], op)) == {a}


def test_patch_replace_display_name_by_path(client, world, auth_a):
    group = create(client, auth_a)
    op = {"op": "replace", "path": "displayName", "value": "Ops"}
    response = patch(client, auth_a, group["id"], op, query="?attributes=displayName")
    assert response.status_code == 200, response.text
    assert response.json()["displayName"] == "Ops"
    assert "members" not in response.json()
    assert (
        client.get(f"/scim/v2/Groups/{group['id']}", headers=auth_a).json()["displayName"] == "Ops"
    )


def test_patch_removing_display_name_is_refused(client, world, auth_a):
    group = create(client, auth_a)
    response = patch(client, auth_a, group["id"], {"op": "remove", "path": "displayName"})
    assert response.status_code == 400
    assert response.json()["scimType"] == "mutability"


def test_patch_with_unknown_op_is_refused(client, world, auth_a):
    group = create(client, auth_a)
    op = {"op": "frobnicate", "path": "displayName", "value": "x"}
    response = patch(client, auth_a, group["id"], op)
    assert response.status_code == 400
    assert response.json()["scimType"] == "invalidValue"


def test_patch_on_unknown_path_is_refused(client, world, auth_a):
    group = create(client, auth_a)
    response = patch(client, auth_a, group["id"], {"op": "add", "path": "colour", "value": "red"})
    assert response.status_code == 400
    assert response.json()["scimType"] == "invalidPath"


def test_a_group_cannot_contain_itself(client, world, auth_a):
    group = create(client, auth_a)
    op = {"op": "add", "path": "members", "value": [{"value": group["id"]}]}
    response = patch(client, auth_a, group["id"], op)
    assert response.status_code == 400
    assert response.json()["scimType"] == "invalidValue"


def test_failed_patch_writes_nothing(client, world, database, auth_a):
    [a] = add_users(database, world.site_a, 1)
    group = create(client, auth_a)
    response = patch(
        client,
        auth_a,
        group["id"],
        {"op": "replace", "path": "displayName", "value": "Changed"},
        {"op": "add", "path": "members", "value": [{"value": a}]},
        {"op": "add", "path": "members", "value": [{"value": str(uuid.uuid4())}]},
    )
    assert response.status_code == 400
    after = client.get(f"/scim/v2/Groups/{group['id']}", headers=auth_a).json()
    assert after["displayName"] == "Engineering"
    assert after["meta"]["version"] == 'W/"1"'
    assert member_count(database, group["id"]) == 0


def test_patch_excluding_members_returns_no_members(client, world, database, auth_a):
    [a] = add_users(database, world.site_a, 1)
    group = create(client, auth_a)
    op = {"op": "add", "path": "members", "value": [{"value": a}]}
    response = patch(client, auth_a, group["id"], op, query="?excludedAttributes=members")
    assert response.status_code == 200
    assert "members" not in response.json()
    assert member_count(database, group["id"]) == 1


def test_patch_filter_on_member_type_removes_matching(client, world, database, auth_a):
    [a] = add_users(database, world.site_a, 1)
    inner = create(client, auth_a, "Inner")
    group = create(client, auth_a, members=[{"value": a}, {"value": inner["id"]}])
    op = {"op": "remove", "path": 'members[type eq "Group"]'}
    assert values(patched(client, auth_a, group["id"], op)) == {a}


def test_nested_cycle_is_refused(client, world, auth_a):
    top = create(client, auth_a, "Top")
    middle = create(client, auth_a, "Middle")
    bottom = create(client, auth_a, "Bottom")
    link = {"op": "add", "path": "members"}
    assert patch(client, auth_a, top["id"], {**link, "value": [{"value": middle["id"]}]}).is_success
    assert patch(
        client, auth_a, middle["id"], {**link, "value": [{"value": bottom["id"]}]}
    ).is_success
    response = patch(client, auth_a, bottom["id"], {**link, "value": [{"value": top["id"]}]})
    assert response.status_code == 400
    assert response.json()["scimType"] == "invalidValue"
    assert top["id"] in response.json()["detail"]


def test_patch_with_stale_if_match_is_412_and_changes_nothing(client, world, auth_a):
    group = create(client, auth_a)
    op = {"op": "replace", "path": "displayName", "value": "Late"}
    body = patch_body(op)
    url = f"/scim/v2/Groups/{group['id']}"
    response = client.patch(url, json=body, headers={**auth_a, "If-Match": 'W/"9"'})
    assert response.status_code == 412
    assert client.get(url, headers=auth_a).json()["displayName"] == "Engineering"

"""SCIM /Groups over real HTTP, on SQLite and PostgreSQL: membership as rows."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import event, select

from sitescim.db.models import AuditEvent, User
from tests.factories import patch_body
from tests.integration.scim.rows import add_member_rows, add_users, member_count

GROUP_URN = "urn:ietf:params:scim:schemas:core:2.0:Group"


def create(client, auth_a, display_name: str = "Engineering", **extra: Any):
    body = {"schemas": [GROUP_URN], "displayName": display_name, **extra}
    response = client.post("/scim/v2/Groups", json=body, headers=auth_a)
    assert response.status_code == 201, response.text
    return response.json()


def patch(client, auth_a, group_id: str, *operations: dict[str, Any], query: str = ""):
    body = patch_body(*operations)
    return client.patch(f"/scim/v2/Groups/{group_id}{query}", json=body, headers=auth_a)


def patched(client, auth_a, group_id: str, *operations: dict[str, Any]) -> dict[str, Any]:
    """PATCH as Entra and Okta send it (no selection): 204 with the new ETag; then the group."""
    response = patch(client, auth_a, group_id, *operations)
    assert response.status_code == 204, response.text
    assert response.content == b""
    read = client.get(f"/scim/v2/Groups/{group_id}", headers=auth_a)
    assert read.headers["etag"] == response.headers["etag"]
    return dict(read.json())


def values(group: dict[str, Any]) -> set[str]:
    return {member["value"] for member in group.get("members", [])}


@contextmanager
def recorded_statements(database) -> Iterator[list[str]]:
    statements: list[str] = []

    def record(conn, cursor, statement, parameters, context, executemany):
        statements.append(statement)

    event.listen(database.engine, "before_cursor_execute", record)
    try:
        yield statements
    finally:
        event.remove(database.engine, "before_cursor_execute", record)


# Create and read


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


# Tenant isolation (T10)


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


# PATCH


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


# Performance: one member changed costs the same in any group


def _statements_for_one_add_and_remove(client, database, auth_a, group_id, new_member, old_member):
    query = "?excludedAttributes=members"
    with recorded_statements(database) as statements:
        add = {"op": "add", "path": "members", "value": [{"value": new_member}]}
        assert patch(client, auth_a, group_id, add, query=query).status_code == 200
        remove = {"op": "remove", "path": f'members[value eq "{old_member}"]'}
        assert patch(client, auth_a, group_id, remove, query=query).status_code == 200
    return statements


def test_one_member_change_costs_the_same_in_a_5000_member_group(client, world, database, auth_a):
    users = add_users(database, world.site_a, 5004)
    large = create(client, auth_a, "Large")
    add_member_rows(database, world.site_a, large["id"], users[:5000])
    small = create(client, auth_a, "Small", members=[{"value": uid} for uid in users[:3]])
    assert member_count(database, large["id"]) == 5000
    client.get("/scim/v2/Groups?count=0", headers=auth_a)  # settles the token's last use

    small_statements = _statements_for_one_add_and_remove(
        client, database, auth_a, small["id"], users[5001], users[0]
    )
    large_statements = _statements_for_one_add_and_remove(
        client, database, auth_a, large["id"], users[5002], users[0]
    )

    assert len(large_statements) == len(small_statements)
    assert len(large_statements) <= 20
    membership_reads = [
        s
        for s in large_statements
        if "group_members" in s and s.lstrip().upper().startswith("SELECT")
    ]
    assert membership_reads == []  # no statement reads the group's members
    for statement in large_statements:
        if "group_members" in statement:
            # every write names the member (a user, or a group)
            assert "user_id" in statement or "member_group_id IN" in statement
    assert member_count(database, large["id"]) == 5000
    assert member_count(database, small["id"]) == 3


def test_excluded_members_are_never_read_when_listing(client, world, database, auth_a):
    users = add_users(database, world.site_a, 10)
    create(client, auth_a, members=[{"value": uid} for uid in users])
    with recorded_statements(database) as statements:
        response = client.get("/scim/v2/Groups?excludedAttributes=members", headers=auth_a)
    assert response.status_code == 200
    [resource] = response.json()["Resources"]
    assert "members" not in resource
    assert not [s for s in statements if "group_members" in s]


def test_excluded_members_are_never_read_by_get(client, world, database, auth_a):
    [a] = add_users(database, world.site_a, 1)
    group = create(client, auth_a, members=[{"value": a}])
    url = f"/scim/v2/Groups/{group['id']}?excludedAttributes=members"
    with recorded_statements(database) as statements:
        response = client.get(url, headers=auth_a)
    assert response.status_code == 200
    assert "members" not in response.json()
    assert response.json()["displayName"] == "Engineering"
    assert not [s for s in statements if "group_members" in s]


# PUT, DELETE, list


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


# Audit


def test_changes_are_audited_with_the_token_and_attribute_names_only(
    client, world, database, auth_a
):
    [a] = add_users(database, world.site_a, 1)
    group = create(client, auth_a, "Secret Project", members=[{"value": a}])
    patch(client, auth_a, group["id"], {"op": "replace", "path": "displayName", "value": "Hidden"})
    client.delete(f"/scim/v2/Groups/{group['id']}", headers=auth_a)
    with database.transaction(write=False) as session:
        events = session.scalars(
            select(AuditEvent)
            .where(AuditEvent.action.startswith("scim.group."))
            .order_by(AuditEvent.id)
        ).all()
    assert [e.action for e in events] == [
        "scim.group.create",
        "scim.group.patch",
        "scim.group.delete",
    ]
    assert {e.actor_type for e in events} == {"token"}
    assert {e.actor_label for e in events} == {"Entra ID"}
    assert {e.target_id for e in events} == {group["id"]}
    assert events[1].detail == {"attributes": ["displayName"]}
    dumped = repr([(e.detail, e.message) for e in events])
    for secret in ("Hidden", "Secret Project", a):
        assert secret not in dumped


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


def test_attributes_without_members_does_not_read_members(client, world, database, auth_a):
    [a] = add_users(database, world.site_a, 1)
    group = create(client, auth_a, members=[{"value": a}])
    url = f"/scim/v2/Groups/{group['id']}?attributes=displayName"
    with recorded_statements(database) as statements:
        response = client.get(url, headers=auth_a)
    assert response.json() == {
        "schemas": [GROUP_URN],
        "id": group["id"],
        "displayName": "Engineering",
    }
    assert not [s for s in statements if "group_members" in s]


def test_patch_with_stale_if_match_is_412_and_changes_nothing(client, world, auth_a):
    group = create(client, auth_a)
    op = {"op": "replace", "path": "displayName", "value": "Late"}
    body = patch_body(op)
    url = f"/scim/v2/Groups/{group['id']}"
    response = client.patch(url, json=body, headers={**auth_a, "If-Match": 'W/"9"'})
    assert response.status_code == 412
    assert client.get(url, headers=auth_a).json()["displayName"] == "Engineering"

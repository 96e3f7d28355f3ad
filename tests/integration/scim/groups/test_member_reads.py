"""SCIM /Groups: one member changed costs the same in any group; excluded members are
never read; over real HTTP, on SQLite and PostgreSQL: membership as rows.
"""

from __future__ import annotations

from tests.integration.scim.groups.calls import GROUP_URN, create, patch, recorded_statements
from tests.integration.scim.rows import add_member_rows, add_users, member_count


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

"""Microsoft Entra ID's provisioning traffic, replayed (SQLite and PostgreSQL).

The sequences follow Microsoft's "Develop a SCIM endpoint" guide (user and group
create, query, update, disable, delete) and its page of known SCIM compliance
issues (``Replace``/``Add``/``Remove`` ops, ``"False"`` strings, PATCH without
path whose value holds attribute paths, ``remove`` of members by value).
"""

from __future__ import annotations

from urllib.parse import quote

from tests.factories import patch_body
from tests.integration.scim.idp.conftest import ENTERPRISE_URN, USER_URN, sample


def query(client, auth_a, collection: str, filter_: str, extra: str = ""):
    response = client.get(f"/scim/v2/{collection}?filter={quote(filter_)}{extra}", headers=auth_a)
    assert response.status_code == 200, response.text
    return response.json()


def test_user_lifecycle_create_query_update_disable_delete(client, auth_a, store):
    # Entra looks the user up first; an empty result is a 200 ListResponse.
    user_name = "grace.hopper@contoso.example.com"
    for filter_ in (
        f'userName eq "{user_name}"',
        'externalId eq "a7e2c1d0-5b8f-4c3e-9d21-entra-grace"',
    ):
        empty = query(client, auth_a, "Users", filter_)
        assert empty["totalResults"] == 0
        assert empty["Resources"] == []

    created = client.post(
        "/scim/v2/Users", json=sample("entra-01-user-create.json"), headers=auth_a
    )
    assert created.status_code == 201, created.text
    user_id = created.json()["id"]
    row = store.user(user_id)
    assert row is not None
    assert row.row.user_name == user_name
    assert row.row.external_id == "a7e2c1d0-5b8f-4c3e-9d21-entra-grace"
    assert (row.row.name_given, row.row.name_family) == ("Grace", "Hopper")
    assert (row.row.department, row.row.employee_number) == ("Research", "1906")
    assert row.emails() == [("work", user_name)]

    found = query(client, auth_a, "Users", f'userName eq "{user_name}"')
    assert [resource["id"] for resource in found["Resources"]] == [user_id]
    by_external = query(
        client, auth_a, "Users", 'externalId eq "a7e2c1d0-5b8f-4c3e-9d21-entra-grace"'
    )
    assert by_external["totalResults"] == 1

    updated = client.patch(
        f"/scim/v2/Users/{user_id}",
        json=sample("entra-02-user-update-multivalued.json"),
        headers=auth_a,
    )
    assert updated.status_code == 200, updated.text
    row = store.user(user_id)
    assert row.emails() == [("work", "g.hopper@contoso.example.com")]
    assert row.row.name_family == "Hopper-Murray"
    assert row.row.version == 2

    renamed = client.patch(
        f"/scim/v2/Users/{user_id}",
        json=sample(
            "entra-03-user-update-singlevalued.json", user_name="ghopper@contoso.example.com"
        ),
        headers=auth_a,
    )
    assert renamed.status_code == 200, renamed.text
    assert store.user(user_id).row.user_name == "ghopper@contoso.example.com"

    disabled = client.patch(
        f"/scim/v2/Users/{user_id}", json=sample("entra-06-user-disable.json"), headers=auth_a
    )
    assert disabled.status_code == 200, disabled.text
    assert disabled.json()["active"] is False
    row = store.user(user_id)
    assert row.row.active is False
    assert row.row.user_name == "ghopper@contoso.example.com"  # deactivated, not deleted
    assert query(client, auth_a, "Users", f'id eq "{user_id}"')["totalResults"] == 1

    deleted = client.delete(f"/scim/v2/Users/{user_id}", headers=auth_a)
    assert deleted.status_code == 204
    assert store.user(user_id) is None
    assert client.get(f"/scim/v2/Users/{user_id}", headers=auth_a).status_code == 404


def test_pathless_replace_with_dotted_and_extension_keys_sets_each_attribute(client, auth_a, store):
    user_id = client.post(
        "/scim/v2/Users", json=sample("entra-01-user-create.json"), headers=auth_a
    ).json()["id"]

    response = client.patch(
        f"/scim/v2/Users/{user_id}",
        json=sample("entra-04-user-replace-attributes-pathless.json"),
        headers=auth_a,
    )

    assert response.status_code == 200, response.text
    row = store.user(user_id)
    assert row.row.display_name == "Rear Admiral Hopper"
    assert (row.row.name_given, row.row.name_family) == ("Grace Brewster", "Hopper")
    assert row.row.name_formatted == "Grace Hopper"  # sub-attributes not named are kept
    assert (row.row.employee_number, row.row.department) == ("1906-12", "Computing")
    assert row.emails() == [("work", "grace@navy.example.com")]


def test_manager_sent_as_a_plain_id_is_stored_as_the_manager(client, auth_a, store, world):
    manager_id = client.post(
        "/scim/v2/Users",
        json={"schemas": [USER_URN], "userName": "boss@contoso.example.com", "displayName": "Boss"},
        headers=auth_a,
    ).json()["id"]
    user_id = client.post(
        "/scim/v2/Users", json=sample("entra-01-user-create.json"), headers=auth_a
    ).json()["id"]

    response = client.patch(
        f"/scim/v2/Users/{user_id}",
        json=sample("entra-05-user-set-manager.json", manager=manager_id),
        headers=auth_a,
    )

    assert response.status_code == 200, response.text
    manager = response.json()[ENTERPRISE_URN]["manager"]
    assert manager["value"] == manager_id
    assert manager["$ref"] == f"http://testserver/scim/v2/Users/{manager_id}"
    row = store.user(user_id).row
    assert (row.manager_id, row.manager_display_name) == (manager_id, "Boss")
    # Entra clears the manager with an empty value: that removes it, nothing else.
    cleared = client.patch(
        f"/scim/v2/Users/{user_id}",
        json=patch_body({"op": "Replace", "path": f"{ENTERPRISE_URN}:manager", "value": ""}),
        headers=auth_a,
    )
    assert cleared.status_code == 200, cleared.text
    row = store.user(user_id).row
    assert row.manager_id is None
    assert row.department == "Research"


def test_add_of_a_work_mail_that_does_not_exist_yet_creates_it(client, auth_a, store):
    user_id = client.post(
        "/scim/v2/Users", json=sample("entra-07-user-create-without-mail.json"), headers=auth_a
    ).json()["id"]
    assert store.user(user_id).values == {}

    response = client.patch(
        f"/scim/v2/Users/{user_id}", json=sample("entra-08-user-add-work-mail.json"), headers=auth_a
    )

    assert response.status_code == 200, response.text
    row = store.user(user_id)
    assert row.emails() == [("work", "kjohnson@nasa.example.com")]
    assert [(v.type, v.value) for v in row.values["phoneNumbers"]] == [("mobile", "+1 555 0100")]
    assert row.row.email == "kjohnson@nasa.example.com"  # the account's address follows

    again = client.patch(
        f"/scim/v2/Users/{user_id}",
        json=patch_body(
            {
                "op": "Replace",
                "path": 'emails[type eq "work"].value',
                "value": "kj@nasa.example.com",
            }
        ),
        headers=auth_a,
    )
    assert again.status_code == 200, again.text
    assert store.user(user_id).emails() == [("work", "kj@nasa.example.com")]  # replaced, not added


def test_renaming_user_name_onto_an_existing_one_is_409_uniqueness(client, auth_a, store):
    taken = client.post(
        "/scim/v2/Users", json=sample("entra-07-user-create-without-mail.json"), headers=auth_a
    ).json()
    user_id = client.post(
        "/scim/v2/Users", json=sample("entra-01-user-create.json"), headers=auth_a
    ).json()["id"]

    response = client.patch(
        f"/scim/v2/Users/{user_id}",
        json=sample("entra-03-user-update-singlevalued.json", user_name=taken["userName"].upper()),
        headers=auth_a,
    )

    assert response.status_code == 409
    assert response.json()["scimType"] == "uniqueness"
    row = store.user(user_id).row
    assert (row.user_name, row.version) == ("grace.hopper@contoso.example.com", 1)


def test_group_lifecycle_create_query_rename_members_delete(client, auth_a, store):
    first = client.post(
        "/scim/v2/Users", json=sample("entra-01-user-create.json"), headers=auth_a
    ).json()["id"]
    second = client.post(
        "/scim/v2/Users", json=sample("entra-07-user-create-without-mail.json"), headers=auth_a
    ).json()["id"]

    created = client.post(
        "/scim/v2/Groups", json=sample("entra-09-group-create.json"), headers=auth_a
    )
    assert created.status_code == 201, created.text
    group_id = created.json()["id"]
    group = store.group(group_id)
    assert (group.display_name, group.external_id) == ("Research", "c41d7e2a-entra-group-research")
    assert store.members(group_id) == set()

    listed = query(
        client, auth_a, "Groups", 'displayName eq "Research"', "&excludedAttributes=members"
    )
    assert [resource["id"] for resource in listed["Resources"]] == [group_id]
    assert "members" not in listed["Resources"][0]
    read = client.get(f"/scim/v2/Groups/{group_id}?excludedAttributes=members", headers=auth_a)
    assert read.status_code == 200
    assert "members" not in read.json()

    renamed = client.patch(
        f"/scim/v2/Groups/{group_id}",
        json=sample("entra-10-group-update-name.json"),
        headers=auth_a,
    )
    assert renamed.status_code == 204, renamed.text
    assert store.group(group_id).display_name == "Research and Development"

    added = client.patch(
        f"/scim/v2/Groups/{group_id}",
        json=sample("entra-11-group-add-members.json", first=first, second=second),
        headers=auth_a,
    )
    assert added.status_code == 204, added.text
    assert store.members(group_id) == {first, second}

    removed = client.patch(
        f"/scim/v2/Groups/{group_id}",
        json=sample("entra-12-group-remove-members.json", member=first),
        headers=auth_a,
    )
    assert removed.status_code == 204, removed.text
    assert store.members(group_id) == {second}  # only the member named, never all

    deleted = client.delete(f"/scim/v2/Groups/{group_id}", headers=auth_a)
    assert deleted.status_code == 204
    assert store.group(group_id) is None
    assert store.members(group_id) == set()
    assert store.user(second) is not None  # members outlive the group


def test_remove_of_members_naming_several_in_value_removes_exactly_those(client, auth_a, store):
    ids = [
        client.post(
            "/scim/v2/Users",
            json={"schemas": [USER_URN], "userName": f"member{n}@contoso.example.com"},
            headers=auth_a,
        ).json()["id"]
        for n in range(4)
    ]
    group_id = client.post(
        "/scim/v2/Groups",
        json={
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
            "displayName": "Everyone",
            "members": [{"value": member} for member in ids],
        },
        headers=auth_a,
    ).json()["id"]

    response = client.patch(
        f"/scim/v2/Groups/{group_id}",
        json=patch_body(
            {"op": "Remove", "path": "members", "value": [{"value": ids[0]}, {"value": ids[2]}]}
        ),
        headers=auth_a,
    )

    assert response.status_code == 204, response.text
    assert store.members(group_id) == {ids[1], ids[3]}


def test_remove_of_members_with_an_empty_value_list_removes_nobody(client, auth_a, store):
    member = client.post(
        "/scim/v2/Users", json=sample("entra-07-user-create-without-mail.json"), headers=auth_a
    ).json()["id"]
    group_id = client.post(
        "/scim/v2/Groups",
        json={
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
            "displayName": "Keepers",
            "members": [{"value": member}],
        },
        headers=auth_a,
    ).json()["id"]

    response = client.patch(
        f"/scim/v2/Groups/{group_id}",
        json=patch_body({"op": "Remove", "path": "members", "value": []}),
        headers=auth_a,
    )

    assert response.status_code == 204, response.text
    assert store.members(group_id) == {member}

"""Okta's SCIM 2.0 traffic, replayed (SQLite and PostgreSQL).

Written from Okta's SCIM 2.0 protocol reference and its SCIM test suite: the
connection test (``startIndex=1&count=2``), the ``userName eq`` lookup before a
create, the create (with ``password`` and ``groups: []``), 409 on a duplicate,
PUT to update, PATCH ``active`` to deactivate and reactivate, paging with
``startIndex``/``count``, and group push (create, rename, membership changes,
PUT, delete).
"""

from __future__ import annotations

from urllib.parse import quote

from tests.integration.scim.idp.conftest import USER_URN, sample

OKTA_HEADERS = {
    "Accept": "application/scim+json",
    "Content-Type": "application/scim+json; charset=utf-8",
    "User-Agent": "Okta SCIM Client 1.0.0",
}


def headers(auth_a: dict[str, str]) -> dict[str, str]:
    return {**OKTA_HEADERS, **auth_a}


def test_connection_test_lists_users_as_a_list_response(client, auth_a):
    response = client.get("/scim/v2/Users?count=2&startIndex=1", headers=headers(auth_a))

    assert response.status_code == 200
    body = response.json()
    assert body["schemas"] == ["urn:ietf:params:scim:api:messages:2.0:ListResponse"]
    assert body["totalResults"] == 4  # the world's four users of site A
    assert (body["startIndex"], body["itemsPerPage"]) == (1, 2)
    assert all(isinstance(body[key], int) for key in ("totalResults", "startIndex"))
    assert len(body["Resources"]) == 2


def test_user_lifecycle_lookup_create_update_deactivate_reactivate(client, auth_a, store):
    user_name = "ada.lovelace@okta.example.com"
    wanted = quote(f'userName eq "{user_name}"')
    lookup = f"/scim/v2/Users?filter={wanted}&startIndex=1&count=100"
    missing = client.get(lookup, headers=headers(auth_a))
    assert missing.status_code == 200
    assert (missing.json()["totalResults"], missing.json()["Resources"]) == (0, [])

    created = client.post(
        "/scim/v2/Users", json=sample("okta-01-user-create.json"), headers=headers(auth_a)
    )
    assert created.status_code == 201, created.text
    body = created.json()
    user_id = body["id"]
    assert "password" not in body
    row = store.user(user_id)
    assert (row.row.user_name, row.row.display_name, row.row.locale) == (
        user_name,
        "Ada Lovelace",
        "en-GB",
    )
    assert row.row.external_id == "00u1okta4ada5lovelace"
    assert (row.row.password_hash or "").startswith("$argon2")
    assert row.row.active is True

    duplicate = client.post(
        "/scim/v2/Users", json=sample("okta-01-user-create.json"), headers=headers(auth_a)
    )
    assert duplicate.status_code == 409
    assert duplicate.json()["scimType"] == "uniqueness"
    assert (
        len([uid for uid in store.user_ids("site-a") if store.user(uid).row.user_name == user_name])
        == 1
    )

    found = client.get(lookup, headers=headers(auth_a)).json()
    assert [resource["id"] for resource in found["Resources"]] == [user_id]
    assert client.get(f"/scim/v2/Users/{user_id}", headers=headers(auth_a)).status_code == 200
    unknown = client.get("/scim/v2/Users/010101-not-a-user", headers=headers(auth_a))
    assert unknown.status_code == 404
    assert unknown.json()["schemas"] == ["urn:ietf:params:scim:api:messages:2.0:Error"]

    replaced = client.put(
        f"/scim/v2/Users/{user_id}",
        json=sample("okta-02-user-replace.json", id=user_id),
        headers=headers(auth_a),
    )
    assert replaced.status_code == 200, replaced.text
    row = store.user(user_id)
    assert (row.row.name_given, row.row.name_family) == ("Augusta Ada", "King")
    assert row.row.display_name == "Ada King"
    assert row.emails() == [("work", "ada.king@okta.example.com")]
    assert row.row.external_id is None  # PUT replaces: the attribute was left out
    assert row.row.password_hash is not None  # the password is not an attribute PUT clears
    assert row.row.active is True

    deactivated = client.patch(
        f"/scim/v2/Users/{user_id}",
        json=sample("okta-03-user-deactivate.json"),
        headers=headers(auth_a),
    )
    assert deactivated.status_code == 200, deactivated.text
    assert deactivated.json()["active"] is False
    assert store.user(user_id).row.active is False
    still_listed = client.get(lookup, headers=headers(auth_a)).json()
    assert still_listed["Resources"][0]["active"] is False

    reactivated = client.patch(
        f"/scim/v2/Users/{user_id}",
        json=sample("okta-04-user-reactivate.json"),
        headers=headers(auth_a),
    )
    assert reactivated.status_code == 200, reactivated.text
    row = store.user(user_id).row
    assert row.active is True
    assert row.display_name == "Ada King"  # nothing else moved


def test_paging_with_start_index_and_count_sees_every_user_once(client, auth_a, store):
    for n in range(9):
        response = client.post(
            "/scim/v2/Users",
            json={"schemas": [USER_URN], "userName": f"page{n}@okta.example.com"},
            headers=headers(auth_a),
        )
        assert response.status_code == 201
    expected = store.user_ids("site-a")
    assert len(expected) == 13

    def walk(count: int) -> list[str]:
        seen: list[str] = []
        start = 1
        while True:
            page = client.get(
                f"/scim/v2/Users?startIndex={start}&count={count}", headers=headers(auth_a)
            ).json()
            assert page["totalResults"] == len(expected)
            assert page["startIndex"] == start
            assert page["itemsPerPage"] == len(page["Resources"]) <= count
            seen += [resource["id"] for resource in page["Resources"]]
            start += count
            if start > page["totalResults"]:
                return seen

    by_five = walk(5)
    assert sorted(by_five) == sorted(expected)  # each user exactly once
    assert walk(2) == by_five  # the same order whatever the page size
    past_the_end = client.get("/scim/v2/Users?startIndex=100&count=5", headers=headers(auth_a))
    assert past_the_end.json()["Resources"] == []


def test_group_push_create_rename_members_replace_delete(client, auth_a, store):
    users = [
        client.post(
            "/scim/v2/Users",
            json={"schemas": [USER_URN], "userName": f"analyst{n}@okta.example.com"},
            headers=headers(auth_a),
        ).json()["id"]
        for n in range(3)
    ]

    created = client.post(
        "/scim/v2/Groups", json=sample("okta-05-group-create.json"), headers=headers(auth_a)
    )
    assert created.status_code == 201, created.text
    group_id = created.json()["id"]
    assert store.group(group_id).display_name == "Analysts"
    assert store.members(group_id) == set()

    renamed = client.patch(
        f"/scim/v2/Groups/{group_id}",
        json=sample("okta-06-group-rename.json", id=group_id),
        headers=headers(auth_a),
    )
    assert renamed.status_code == 204, renamed.text
    assert store.group(group_id).display_name == "Analysts (EMEA)"

    client.patch(
        f"/scim/v2/Groups/{group_id}",
        json={
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
            "Operations": [{"op": "add", "path": "members", "value": [{"value": users[0]}]}],
        },
        headers=headers(auth_a),
    )
    assert store.members(group_id) == {users[0]}
    swapped = client.patch(
        f"/scim/v2/Groups/{group_id}",
        json=sample(
            "okta-07-group-members.json",
            leaving=users[0],
            joining=users[1],
            joining_name="analyst1@okta.example.com",
        ),
        headers=headers(auth_a),
    )
    assert swapped.status_code == 204, swapped.text
    assert store.members(group_id) == {users[1]}

    pushed = client.patch(
        f"/scim/v2/Groups/{group_id}",
        json=sample("okta-08-group-members-replace.json", first=users[0], second=users[2]),
        headers=headers(auth_a),
    )
    assert pushed.status_code == 204, pushed.text
    assert store.members(group_id) == {users[0], users[2]}

    put = client.put(
        f"/scim/v2/Groups/{group_id}",
        json=sample("okta-09-group-replace.json", id=group_id, member=users[1]),
        headers=headers(auth_a),
    )
    assert put.status_code == 200, put.text
    group = store.group(group_id)
    assert group.display_name == "Analysts (Global)"
    assert store.members(group_id) == {users[1]}

    deleted = client.delete(f"/scim/v2/Groups/{group_id}", headers=headers(auth_a))
    assert deleted.status_code == 204
    assert store.group(group_id) is None
    assert all(store.user(user) is not None for user in users)

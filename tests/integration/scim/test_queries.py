"""Queries over HTTP: filters, sorting, paging and .search reach the database compiler."""

from __future__ import annotations

USER = "urn:ietf:params:scim:schemas:core:2.0:User"
GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group"
SEARCH = "urn:ietf:params:scim:api:messages:2.0:SearchRequest"


def add_user(client, auth_a, user_name, *, email=None, given="Ann", active=True):
    body = {"schemas": [USER], "userName": user_name, "name": {"givenName": given}}
    body["active"] = active
    if email:
        body["emails"] = [{"value": email, "type": "work", "primary": True}]
    response = client.post("/scim/v2/Users", json=body, headers=auth_a)
    assert response.status_code == 201, response.text
    return response.json()["id"]


def user_names(response):
    assert response.status_code == 200, response.text
    return sorted(resource["userName"] for resource in response.json()["Resources"])


def test_filter_user_name_eq_is_case_insensitive(client, auth_a):
    add_user(client, auth_a, "Alice@Example.com")
    add_user(client, auth_a, "bob@example.com")
    response = client.get(
        "/scim/v2/Users", params={"filter": 'userName eq "alice@example.COM"'}, headers=auth_a
    )
    assert user_names(response) == ["Alice@Example.com"]
    assert response.json()["totalResults"] == 1


def test_filter_with_no_match_is_an_empty_list_not_an_error(client, auth_a):
    add_user(client, auth_a, "alice@example.com")
    response = client.get(
        "/scim/v2/Users", params={"filter": 'externalId eq "nobody"'}, headers=auth_a
    )
    assert response.status_code == 200
    assert response.json()["totalResults"] == 0
    assert response.json()["Resources"] == [] or "Resources" not in response.json()


def test_filter_on_email_value_path_and_boolean(client, auth_a):
    add_user(client, auth_a, "a1", email="ann@corp.example")
    add_user(client, auth_a, "a2", email="ann@other.example", active=False)
    add_user(client, auth_a, "a3", email="bo@corp.example", active=False)
    response = client.get(
        "/scim/v2/Users",
        params={"filter": 'emails[type eq "work" and value co "@corp."] and active eq false'},
        headers=auth_a,
    )
    assert user_names(response) == ["a3"]


def test_filter_never_reaches_another_site(client, auth_a, auth_b):
    add_user(client, auth_b, "secret@b.example")
    response = client.get(
        "/scim/v2/Users", params={"filter": 'userName eq "secret@b.example"'}, headers=auth_a
    )
    assert response.json()["totalResults"] == 0
    everyone = client.get("/scim/v2/Users", params={"filter": "userName pr"}, headers=auth_a)
    assert "secret@b.example" not in user_names(everyone)


def test_bad_filter_is_a_scim_400_invalid_filter(client, auth_a):
    for bad in ("userName eq", 'nosuch eq "x"', "active gt true", "(" * 500 + 'a eq "b"'):
        response = client.get("/scim/v2/Users", params={"filter": bad}, headers=auth_a)
        assert response.status_code == 400, bad
        assert response.json()["scimType"] == "invalidFilter", bad


def test_sort_by_and_order(client, auth_a):
    for name, given in (("sort-1", "Carol"), ("sort-2", "alice"), ("sort-3", "Bob")):
        add_user(client, auth_a, name, given=given)
    ascending = client.get(
        "/scim/v2/Users",
        params={"sortBy": "name.givenName", "filter": 'userName sw "sort-"'},
        headers=auth_a,
    ).json()
    assert [r["name"]["givenName"] for r in ascending["Resources"]] == ["alice", "Bob", "Carol"]
    descending = client.get(
        "/scim/v2/Users",
        params={
            "sortBy": "name.givenName",
            "sortOrder": "descending",
            "filter": 'userName sw "sort-"',
        },
        headers=auth_a,
    ).json()
    assert [r["name"]["givenName"] for r in descending["Resources"]] == ["Carol", "Bob", "alice"]


def test_post_search_takes_the_query_in_the_body(client, auth_a):
    add_user(client, auth_a, "find-me")
    add_user(client, auth_a, "not-me")
    body = {
        "schemas": [SEARCH],
        "filter": 'userName sw "find"',
        "attributes": ["userName"],
        "count": 10,
    }
    response = client.post("/scim/v2/Users/.search", json=body, headers=auth_a)
    assert response.status_code == 200, response.text
    [resource] = response.json()["Resources"]
    assert resource["userName"] == "find-me"
    assert "name" not in resource


def test_groups_filter_on_display_name_and_member(client, auth_a):
    alice = add_user(client, auth_a, "alice")
    for name, members in (("Sales", [{"value": alice}]), ("Ops", [])):
        response = client.post(
            "/scim/v2/Groups",
            json={"schemas": [GROUP], "displayName": name, "members": members},
            headers=auth_a,
        )
        assert response.status_code == 201, response.text
    by_name = client.get(
        "/scim/v2/Groups", params={"filter": 'displayName eq "sales"'}, headers=auth_a
    ).json()
    assert [g["displayName"] for g in by_name["Resources"]] == ["Sales"]
    by_member = client.get(
        "/scim/v2/Groups",
        params={"filter": f'members.value eq "{alice}"', "excludedAttributes": "members"},
        headers=auth_a,
    ).json()
    assert [g["displayName"] for g in by_member["Resources"]] == ["Sales"]
    assert "members" not in by_member["Resources"][0]


def test_primary_is_returned_as_sent_true_false_or_absent(client, auth_a):
    body = {
        "schemas": [USER],
        "userName": "prim",
        "emails": [
            {"value": "a@x.example", "type": "work", "primary": True},
            {"value": "b@x.example", "type": "home", "primary": False},
            {"value": "c@x.example", "type": "other"},
        ],
    }
    created = client.post("/scim/v2/Users", json=body, headers=auth_a)
    assert created.status_code == 201, created.text
    fetched = client.get(f"/scim/v2/Users/{created.json()['id']}", headers=auth_a).json()
    primaries = {email["value"]: email.get("primary", "absent") for email in fetched["emails"]}
    assert primaries == {"a@x.example": True, "b@x.example": False, "c@x.example": "absent"}
    only_false = client.get(
        "/scim/v2/Users", params={"filter": "emails[primary eq false]"}, headers=auth_a
    ).json()
    assert [r["userName"] for r in only_false["Resources"]] == ["prim"]

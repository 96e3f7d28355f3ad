"""OneLogin and generic clients, replayed (SQLite and PostgreSQL).

What such clients do differently: ``application/json`` instead of
``application/scim+json``, trailing slashes on resource URLs, and attribute
names and schema URNs in whatever case their templates were written in.
"""

from __future__ import annotations

import json
from urllib.parse import quote

import pytest

from tests.factories import patch_body
from tests.integration.scim.idp.conftest import GROUP_URN, USER_URN, sample


def json_headers(auth_a: dict[str, str]) -> dict[str, str]:
    return {**auth_a, "Content-Type": "application/json", "Accept": "application/json"}


def send(client, method: str, url: str, auth_a, body=None):
    content = None if body is None else json.dumps(body)
    return client.request(method, url, content=content, headers=json_headers(auth_a))


def test_user_lifecycle_over_application_json_and_trailing_slashes(client, auth_a, store):
    created = send(
        client, "POST", "/scim/v2/Users/", auth_a, sample("onelogin-01-user-create.json")
    )
    assert created.status_code == 201, created.text
    assert created.headers["content-type"].startswith("application/scim+json")
    user_id = created.json()["id"]
    assert created.headers["Location"] == f"http://testserver/scim/v2/Users/{user_id}"
    row = store.user(user_id)
    assert row.row.user_name == "mary.somerville@onelogin.example.com"
    assert (row.row.name_given, row.row.name_family) == ("Mary", "Somerville")
    assert row.row.external_id == "onelogin-88412"
    assert row.row.department == "Astronomy"
    assert row.row.active is True
    assert [(v.value, v.type, v.primary) for v in row.values["emails"]] == [
        ("mary.somerville@onelogin.example.com", "work", True)
    ]

    read = send(client, "GET", f"/scim/v2/Users/{user_id}/", auth_a)
    assert read.status_code == 200
    assert read.json()["id"] == user_id
    wanted = quote('USERNAME eq "MARY.SOMERVILLE@onelogin.example.com"')
    listed = send(client, "GET", f"/scim/v2/Users/?filter={wanted}", auth_a)
    assert listed.status_code == 200
    assert [resource["id"] for resource in listed.json()["Resources"]] == [user_id]

    patched = send(
        client,
        "PATCH",
        f"/scim/v2/Users/{user_id}/",
        auth_a,
        sample("onelogin-02-user-update.json"),
    )
    assert patched.status_code == 200, patched.text
    row = store.user(user_id).row
    assert row.display_name == "Mary Fairfax Somerville"
    assert row.name_given == "Mary Fairfax"
    assert row.department == "Mathematics"

    replaced = send(
        client,
        "PUT",
        f"/scim/v2/Users/{user_id}/",
        auth_a,
        {
            "schemas": [USER_URN.upper()],
            "UserName": "mary.somerville@onelogin.example.com",
            "DISPLAYNAME": "M. Somerville",
            "active": "False",
        },
    )
    assert replaced.status_code == 200, replaced.text
    row = store.user(user_id).row
    assert (row.display_name, row.active, row.department) == ("M. Somerville", False, None)

    deleted = send(client, "DELETE", f"/scim/v2/Users/{user_id}/", auth_a)
    assert deleted.status_code == 204
    assert store.user(user_id) is None


def test_group_with_mixed_case_names_and_trailing_slashes(client, auth_a, store, world):
    member = send(
        client,
        "POST",
        "/scim/v2/Users/",
        auth_a,
        {"schemas": [USER_URN], "userName": "ob@onelogin.example.com"},
    ).json()["id"]

    created = send(
        client,
        "POST",
        "/scim/v2/Groups/",
        auth_a,
        sample("onelogin-03-group-create.json", member=member),
    )
    assert created.status_code == 201, created.text
    group_id = created.json()["id"]
    assert store.group(group_id).display_name == "Observatory"
    assert store.members(group_id) == {member}

    renamed = send(
        client,
        "PATCH",
        f"/scim/v2/Groups/{group_id}/",
        auth_a,
        patch_body({"op": "Replace", "path": "DISPLAYNAME", "value": "Royal Observatory"}),
    )
    assert renamed.status_code == 204, renamed.text
    assert store.group(group_id).display_name == "Royal Observatory"

    emptied = send(
        client,
        "PATCH",
        f"/scim/v2/Groups/{group_id}/",
        auth_a,
        patch_body({"op": "remove", "path": f'MEMBERS[VALUE eq "{member}"]'}),
    )
    assert emptied.status_code == 204, emptied.text
    assert store.members(group_id) == set()

    read = send(client, "GET", f"/scim/v2/Groups/{group_id}/", auth_a)
    assert read.status_code == 200
    assert read.json()["displayName"] == "Royal Observatory"
    deleted = send(client, "DELETE", f"/scim/v2/Groups/{group_id}/", auth_a)
    assert deleted.status_code == 204
    assert store.group(group_id) is None


@pytest.mark.parametrize(
    "path",
    [
        "/scim/v2/ServiceProviderConfig/",
        "/scim/v2/Schemas/",
        "/scim/v2/ResourceTypes/",
        "/scim/v2/Users//",
    ],
)
def test_trailing_slashes_reach_the_same_endpoints(client, auth_a, path):
    with_slash = client.get(path, headers=auth_a)
    without = client.get(path.rstrip("/"), headers=auth_a)
    assert with_slash.status_code == without.status_code == 200
    assert with_slash.json() == without.json()


def test_a_slash_outside_scim_is_left_to_the_router(client, auth_a):
    """Only /scim/v2 paths are rewritten; elsewhere Starlette redirects as before."""
    response = client.get("/healthz/", follow_redirects=False)
    assert response.status_code == 307
    assert response.headers["location"].endswith("/healthz")


def test_other_media_types_are_still_refused(client, auth_a):
    response = client.post(
        "/scim/v2/Users",
        content=json.dumps({"schemas": [GROUP_URN], "userName": "x@onelogin.example.com"}),
        headers={**auth_a, "Content-Type": "text/plain"},
    )
    assert response.status_code == 400
    assert response.json()["scimType"] == "invalidSyntax"


def test_patch_remove_of_active_is_refused_and_changes_nothing(client, auth_a, store):
    """RFC 7644 §3.5.2.2 would leave ``active`` unassigned; a user here is active or not."""
    user_id = send(
        client,
        "POST",
        "/scim/v2/Users",
        auth_a,
        {"schemas": [USER_URN], "userName": "on@onelogin.example.com"},
    ).json()["id"]

    response = send(
        client,
        "PATCH",
        f"/scim/v2/Users/{user_id}",
        auth_a,
        patch_body({"op": "remove", "path": "active"}),
    )

    assert response.status_code == 400
    assert response.json()["scimType"] == "mutability"
    row = store.user(user_id).row
    assert (row.active, row.version) == (True, 1)

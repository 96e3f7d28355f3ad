"""SCIM /Users: PATCH over real HTTP and real databases (SQLite and PostgreSQL)."""

from __future__ import annotations

from tests.factories import patch_body
from tests.integration.scim.users.calls import (
    ENTERPRISE,
    SITESCIM,
    allow_scim_promaster,
    create,
    full_user,
    sample,
    stored,
    user_id_of,
)


def test_patch_replaces_a_value_selected_by_a_filter(client, world, auth_a):
    created = create(client, auth_a, full_user())
    response = client.patch(
        f"/scim/v2/Users/{created['id']}",
        json=sample("rfc7644-3.5.2.3-patch-replace-work-email-value.json"),
        headers=auth_a,
    )
    assert response.status_code == 200, response.text
    emails = response.json()["emails"]
    assert emails[0] == {"value": "bjensen@example.org", "type": "work", "primary": True}
    assert emails[1]["value"] == "babs@jensen.org"
    assert response.json()["meta"]["version"] == 'W/"2"' == response.headers["ETag"]
    again = client.get(f"/scim/v2/Users/{created['id']}", headers=auth_a).json()
    assert again["emails"] == emails
    assert stored(world, created["id"]).email == "bjensen@example.org"


def test_patch_add_with_and_without_path(client, world, auth_a):
    created = create(client, auth_a, sample("rfc7644-3.3-user-post.json"))
    url = f"/scim/v2/Users/{created['id']}"
    with_path = client.patch(
        url, json=sample("rfc7644-3.5.2.1-patch-add-email.json"), headers=auth_a
    )
    assert with_path.json()["emails"] == [{"value": "babs@jensen.org", "type": "home"}]
    without_path = client.patch(
        url, json=sample("rfc7644-3.5.2.1-patch-add-without-path.json"), headers=auth_a
    )
    assert without_path.status_code == 200, without_path.text
    assert without_path.json()["nickName"] == "Babs"


def test_patch_removes_values_selected_by_a_filter(client, world, auth_a):
    created = create(client, auth_a, full_user())
    response = client.patch(
        f"/scim/v2/Users/{created['id']}",
        json=sample("rfc7644-3.5.2.2-patch-remove-email-by-filter.json"),
        headers=auth_a,
    )
    assert response.status_code == 200, response.text
    assert [email["type"] for email in response.json()["emails"]] == ["work"]


def test_patch_sets_an_enterprise_attribute_by_urn(client, world, auth_a):
    created = create(client, auth_a, sample("rfc7644-3.3-user-post.json"))
    response = client.patch(
        f"/scim/v2/Users/{created['id']}",
        json=sample("rfc7644-3.5.2.3-patch-replace-enterprise-attribute.json"),
        headers=auth_a,
    )
    assert response.status_code == 200, response.text
    assert response.json()[ENTERPRISE] == {"department": "Night Tours"}
    assert stored(world, created["id"]).department == "Night Tours"


def test_patch_remove_clears_a_simple_attribute(client, world, auth_a):
    created = create(client, auth_a, full_user())
    response = client.patch(
        f"/scim/v2/Users/{created['id']}",
        json=patch_body(
            {"op": "remove", "path": "name.middleName"}, {"op": "remove", "path": "title"}
        ),
        headers=auth_a,
    )
    assert response.status_code == 200, response.text
    assert "middleName" not in response.json()["name"]
    assert "title" not in response.json()


def test_patch_with_a_bad_path_is_400(client, world, auth_a):
    created = create(client, auth_a, sample("rfc7644-3.3-user-post.json"))
    response = client.patch(
        f"/scim/v2/Users/{created['id']}",
        json=patch_body({"op": "replace", "path": "shoeSize", "value": 1}),
        headers=auth_a,
    )
    assert response.status_code == 400
    assert response.json()["scimType"] == "invalidPath"


def test_patch_cannot_change_the_privilege_by_default(client, world, auth_a):
    user_id = user_id_of(world, "site-a", world.user_a)
    for operation in (
        {"op": "replace", "path": f"{SITESCIM}:privilege", "value": "promaster"},
        {"op": "replace", "value": {f"{SITESCIM}:privilege": "promaster"}},
    ):
        response = client.patch(
            f"/scim/v2/Users/{user_id}", json=patch_body(operation), headers=auth_a
        )
        assert response.status_code == 400, response.text
        assert response.json()["scimType"] == "mutability"
    assert stored(world, user_id).privilege == "user"


def test_site_that_allows_it_may_grant_promaster_over_scim(client, world, auth_a):
    allow_scim_promaster(world)
    user_id = user_id_of(world, "site-a", world.user_a)
    operation = {"op": "replace", "path": f"{SITESCIM}:privilege", "value": "promaster"}
    response = client.patch(f"/scim/v2/Users/{user_id}", json=patch_body(operation), headers=auth_a)
    assert response.status_code == 200, response.text
    assert response.json()[SITESCIM] == {"privilege": "promaster"}
    assert stored(world, user_id).privilege == "promaster"
    bad = {"op": "replace", "path": f"{SITESCIM}:privilege", "value": "emperor"}
    response = client.patch(f"/scim/v2/Users/{user_id}", json=patch_body(bad), headers=auth_a)
    assert response.status_code == 400
    assert response.json()["scimType"] == "invalidValue"

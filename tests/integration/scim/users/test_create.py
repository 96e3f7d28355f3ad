"""SCIM /Users: creating a user over real HTTP and real databases (SQLite and PostgreSQL)."""

from __future__ import annotations

from tests.integration.scim.users.calls import (
    ENTERPRISE,
    GOOD_PASSWORD,
    SITESCIM,
    USER_SCHEMA,
    create,
    full_user,
    sample,
    stored,
    user_id_of,
)


def test_create_answers_201_with_location_etag_and_meta(client, world, auth_a):
    response = client.post("/scim/v2/Users", json=full_user(), headers=auth_a)
    assert response.status_code == 201, response.text
    assert response.headers["content-type"].startswith("application/scim+json")
    body = response.json()
    location = f"http://testserver/scim/v2/Users/{body['id']}"
    assert response.headers["Location"] == location
    assert body["meta"] == {
        "resourceType": "User",
        "created": "2026-03-01T12:00:00Z",
        "lastModified": "2026-03-01T12:00:00Z",
        "location": location,
        "version": 'W/"1"',
    }
    assert response.headers["ETag"] == body["meta"]["version"]
    assert body["id"] != "2819c223-7f76-453a-919d-413861904646"  # id is ours, not the client's
    assert body["userName"] == "bjensen@example.com"
    assert body["name"]["honorificSuffix"] == "III"
    assert body["emails"][0] == {"value": "bjensen@example.com", "type": "work", "primary": True}
    assert body["addresses"][0]["postalCode"] == "91608"
    assert body["x509Certificates"][0]["value"].startswith("MIIDQzCC")
    assert "groups" not in body  # read-only: the sample's groups are ignored


def test_created_user_reads_back_the_same(client, world, auth_a):
    created = create(client, auth_a, full_user())
    response = client.get(f"/scim/v2/Users/{created['id']}", headers=auth_a)
    assert response.status_code == 200
    assert response.json() == created
    assert response.headers["ETag"] == 'W/"1"'


def test_scim_created_user_starts_as_user_even_if_it_asks_for_promaster(client, world, auth_a):
    body = sample("rfc7644-3.3-user-post.json")
    body["schemas"].append(SITESCIM)
    body[SITESCIM] = {"privilege": "promaster"}
    created = create(client, auth_a, body)
    assert created[SITESCIM] == {"privilege": "user"}
    assert stored(world, created["id"]).privilege == "user"


def test_password_is_hashed_with_argon2_and_never_returned(client, world, auth_a):
    created = create(client, auth_a, full_user())
    assert "password" not in created
    assert "password" not in client.get(f"/scim/v2/Users/{created['id']}", headers=auth_a).text
    row = stored(world, created["id"])
    assert row.password_hash.startswith("$argon2id$")
    assert world.runtime.passwords.verify(GOOD_PASSWORD, row.password_hash)


def test_password_breaking_the_site_policy_is_refused_with_the_reason(client, world, auth_a):
    body = sample("rfc7643-8.2-user-full.json")
    body["password"] = "t1meMa$"  # 7 characters; the default policy asks for 8 (NIST SP 800-63B)
    response = client.post("/scim/v2/Users", json=body, headers=auth_a)
    assert response.status_code == 400
    error = response.json()
    assert error["scimType"] == "invalidValue"
    assert "at least 8 characters" in error["detail"]
    assert "t1meMa$" not in response.text
    assert user_id_of(world, "site-a", "bjensen@example.com") is None


def test_user_name_is_unique_per_site_ignoring_case(client, world, auth_a, auth_b):
    create(client, auth_a, sample("rfc7644-3.3-user-post.json"))
    clash = sample("rfc7644-3.3-user-post.json")
    clash["userName"] = "BJensen"
    response = client.post("/scim/v2/Users", json=clash, headers=auth_a)
    assert response.status_code == 409
    assert response.json()["scimType"] == "uniqueness"
    # another site may use the name
    assert client.post("/scim/v2/Users", json=clash, headers=auth_b).status_code == 201


def test_missing_user_name_and_unknown_attributes_are_400(client, world, auth_a):
    response = client.post(
        "/scim/v2/Users", json={"schemas": [USER_SCHEMA], "displayName": "x"}, headers=auth_a
    )
    assert response.status_code == 400
    body = sample("rfc7644-3.3-user-post.json") | {"shoeSize": 42}
    response = client.post("/scim/v2/Users", json=body, headers=auth_a)
    assert response.status_code == 400
    assert response.json()["schemas"] == ["urn:ietf:params:scim:api:messages:2.0:Error"]


def test_over_long_attribute_is_400_not_500(client, world, auth_a):
    body = sample("rfc7644-3.3-user-post.json") | {"title": "x" * 300}
    response = client.post("/scim/v2/Users", json=body, headers=auth_a)
    assert response.status_code == 400
    assert response.json()["scimType"] == "invalidValue"


def test_enterprise_extension_round_trips(client, world, auth_a):
    boss = create(client, auth_a, {"schemas": [USER_SCHEMA], "userName": "jsmith"})["id"]
    body = sample("rfc7643-8.3-enterprise-user.json")
    body[ENTERPRISE]["manager"]["value"] = boss  # a manager must be a user of the site
    created = create(client, auth_a, body)
    enterprise = created[ENTERPRISE]
    assert enterprise["department"] == "Tour Operations"
    assert enterprise["employeeNumber"] == "701984"
    assert enterprise["manager"]["value"] == boss
    assert (
        enterprise["manager"]["displayName"] == "jsmith"
    )  # read-only: the manager's, not "John Smith"
    assert ENTERPRISE in created["schemas"]

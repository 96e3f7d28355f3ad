"""SCIM /Users: replacing a user with PUT.

Over real HTTP and real databases (SQLite and PostgreSQL).
"""

from __future__ import annotations

from tests.factories import patch_body
from tests.integration.scim.users.calls import (
    GOOD_PASSWORD,
    USER_SCHEMA,
    create,
    full_user,
    sample,
    stored,
)


def test_put_replaces_clears_absent_attributes_and_bumps_the_version(client, world, auth_a, clock):
    created = create(client, auth_a, full_user())
    clock.advance(minutes=5)
    body = {
        "schemas": [USER_SCHEMA],
        "id": "not-the-id",  # readOnly: ignored
        "userName": "bjensen@example.com",
        "displayName": "Barbara Jensen",
        "emails": [{"value": "barbara@example.com", "type": "work"}],
    }
    response = client.put(f"/scim/v2/Users/{created['id']}", json=body, headers=auth_a)
    assert response.status_code == 200, response.text
    user = response.json()
    assert user["id"] == created["id"]
    assert user["displayName"] == "Barbara Jensen"
    assert user["emails"] == [{"value": "barbara@example.com", "type": "work"}]
    assert "name" not in user
    assert "addresses" not in user
    assert user["active"] is True  # absent active keeps the state
    assert user["meta"]["version"] == 'W/"2"' == response.headers["ETag"]
    assert user["meta"]["lastModified"] == "2026-03-01T12:05:00Z"
    assert user["meta"]["created"] == "2026-03-01T12:00:00Z"
    # the password is write-only: a PUT without it keeps it
    assert world.runtime.passwords.verify(GOOD_PASSWORD, stored(world, created["id"]).password_hash)


def test_put_with_nothing_changed_keeps_the_version(client, world, auth_a):
    created = create(client, auth_a, sample("rfc7644-3.3-user-post.json"))
    url = f"/scim/v2/Users/{created['id']}"
    response = client.put(url, json=sample("rfc7644-3.3-user-post.json"), headers=auth_a)
    assert response.json()["meta"]["version"] == 'W/"1"'


def test_put_renaming_onto_a_taken_user_name_is_409(client, world, auth_a):
    created = create(client, auth_a, sample("rfc7644-3.3-user-post.json"))
    body = {"schemas": [USER_SCHEMA], "userName": world.user_a.upper()}
    response = client.put(f"/scim/v2/Users/{created['id']}", json=body, headers=auth_a)
    assert response.status_code == 409
    assert response.json()["scimType"] == "uniqueness"


def test_stale_if_match_is_412_and_changes_nothing(client, world, auth_a):
    created = create(client, auth_a, sample("rfc7644-3.3-user-post.json"))
    url = f"/scim/v2/Users/{created['id']}"
    operation = {"op": "replace", "path": "displayName", "value": "B"}
    stale = auth_a | {"If-Match": 'W/"7"'}
    assert client.patch(url, json=patch_body(operation), headers=stale).status_code == 412
    assert client.delete(url, headers=stale).status_code == 412
    fresh = auth_a | {"If-Match": 'W/"1"'}
    assert client.patch(url, json=patch_body(operation), headers=fresh).status_code == 200

"""SCIM /Users: another site's users are absent; no token, no answer.

Over real HTTP and real databases (SQLite and PostgreSQL).
"""

from __future__ import annotations

from tests.factories import patch_body
from tests.integration.scim.users.calls import create, full_user, sample


def test_users_of_another_site_are_absent(client, world, auth_a, auth_b):
    theirs = create(client, auth_b, sample("rfc7644-3.3-user-post.json"))
    url = f"/scim/v2/Users/{theirs['id']}"
    operation = {"op": "replace", "path": "displayName", "value": "hijacked"}
    assert client.get(url, headers=auth_a).status_code == 404
    assert (
        client.put(url, json=sample("rfc7644-3.3-user-post.json"), headers=auth_a).status_code
        == 404
    )
    assert client.patch(url, json=patch_body(operation), headers=auth_a).status_code == 404
    assert client.delete(url, headers=auth_a).status_code == 404
    listed = client.get("/scim/v2/Users", headers=auth_a).json()
    assert theirs["id"] not in [user["id"] for user in listed["Resources"]]
    assert client.get(url, headers=auth_b).json()["userName"] == "bjensen"


def test_requests_without_a_token_are_401(client, world):
    assert client.get("/scim/v2/Users").status_code == 401
    assert client.post("/scim/v2/Users", json=full_user()).status_code == 401

"""Fixtures of the bad-input tests: a signed-in Promaster, a SCIM client with a user and group."""

from __future__ import annotations

import pytest

from tests.factories import sign_in
from tests.integration.bad_input.calls import GROUP_URN, USER_URN


@pytest.fixture
def promaster(client, world):
    """The client, signed in as a Promaster of site-a."""
    sign_in(client, "site-a", world.promaster_a, world.password)
    return client


@pytest.fixture
def scim(client, auth_a):
    """The client, with a SCIM token of site-a, and a user and a group to act on."""
    client.headers.update(auth_a)
    user = client.post("/scim/v2/Users", json={"schemas": [USER_URN], "userName": "target"})
    group = client.post("/scim/v2/Groups", json={"schemas": [GROUP_URN], "displayName": "Target"})
    assert user.status_code == group.status_code == 201, (user.text, group.text)
    client.user_id = user.json()["id"]
    client.group_id = group.json()["id"]
    return client

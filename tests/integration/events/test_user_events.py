"""Every change of a user by SCIM records its event, in its transaction, through real HTTP."""

from __future__ import annotations

from typing import Any

import pytest
from starlette.testclient import TestClient

from sitescim.services import user_creation
from sitescim.services.tokens import IssuedToken, authenticate
from tests.factories import bearer, make_token, patch_body
from tests.integration.events.recorded import (
    USER_URN,
    feed_end,
    recorded,
    stored_text,
    token_actor,
    types_after,
)
from tests.world import World

PASSWORD = "a passphrase nobody may read"


@pytest.fixture
def entra(world: World) -> IssuedToken:
    return make_token(world.runtime, "site-a", world.promaster_a, description="Entra ID")


@pytest.fixture
def headers(entra: IssuedToken) -> dict[str, str]:
    return bearer(entra.value)


def _create(client: TestClient, headers: dict[str, str], name: str, **extra: Any) -> Any:
    response = client.post(
        "/scim/v2/Users",
        json={"schemas": [USER_URN], "userName": name, **extra},
        headers=headers,
    )
    assert response.status_code == 201, response.text
    return response.json()


def _patch(client: TestClient, headers: dict[str, str], user_id: str, *ops: Any) -> Any:
    response = client.patch(f"/scim/v2/Users/{user_id}", json=patch_body(*ops), headers=headers)
    assert response.status_code == 200, response.text
    return response.json()


def test_post_records_user_created_with_the_response_document_and_no_secret(
    client: TestClient, world: World, entra: IssuedToken, headers: dict[str, str]
) -> None:
    start = feed_end(world)
    created = _create(
        client,
        headers,
        "jo@a.test",
        password=PASSWORD,
        emails=[{"value": "jo@a.test", "type": "work", "primary": True}],
    )

    [event] = recorded(world.runtime, start)
    assert event["type"] == "user.created"
    assert event["site"] == {"id": world.site_a, "slug": "site-a"}
    assert event["actor"] == token_actor(entra.id, "Entra ID")
    assert event["data"] == created
    assert "changes" not in event
    stored = stored_text(world.runtime)
    assert PASSWORD not in stored
    assert entra.value not in stored


def test_put_records_user_updated_naming_the_changed_attributes(
    client: TestClient, world: World, headers: dict[str, str]
) -> None:
    created = _create(client, headers, "jo@a.test", displayName="Jo")
    start = feed_end(world)
    replaced = client.put(
        f"/scim/v2/Users/{created['id']}",
        json={"schemas": [USER_URN], "userName": "jo@a.test", "displayName": "Jo Bloggs"},
        headers=headers,
    )
    assert replaced.status_code == 200, replaced.text

    [event] = recorded(world.runtime, start)
    assert event["type"] == "user.updated"
    assert event["changes"] == {"attributes": ["displayName"]}
    assert event["data"] == replaced.json()
    assert event["data"]["meta"]["version"] != created["meta"]["version"]


def test_a_patch_that_sets_what_is_there_records_nothing(
    client: TestClient, world: World, headers: dict[str, str]
) -> None:
    created = _create(client, headers, "jo@a.test", displayName="Jo")
    start = feed_end(world)
    _patch(client, headers, created["id"], {"op": "replace", "path": "active", "value": True})
    _patch(client, headers, created["id"], {"op": "replace", "value": {"displayName": "Jo"}})
    assert recorded(world.runtime, start) == []


def test_patch_of_a_password_names_it_and_never_stores_it(
    client: TestClient, world: World, headers: dict[str, str]
) -> None:
    created = _create(client, headers, "jo@a.test")
    start = feed_end(world)
    _patch(client, headers, created["id"], {"op": "replace", "path": "password", "value": PASSWORD})

    [event] = recorded(world.runtime, start)
    assert (event["type"], event["changes"]) == ("user.updated", {"attributes": ["password"]})
    assert PASSWORD not in stored_text(world.runtime)


def test_deactivation_and_reactivation_have_their_own_events(
    client: TestClient, world: World, headers: dict[str, str]
) -> None:
    created = _create(client, headers, "jo@a.test")
    start = feed_end(world)
    off = _patch(
        client, headers, created["id"], {"op": "replace", "path": "active", "value": False}
    )
    on = _patch(client, headers, created["id"], {"op": "replace", "path": "active", "value": True})

    deactivated, reactivated = recorded(world.runtime, start)
    assert deactivated["type"] == "user.deactivated"
    assert deactivated["changes"] == {"attributes": ["active"]}
    assert deactivated["data"] == off
    assert deactivated["data"]["active"] is False
    assert reactivated["type"] == "user.reactivated"
    assert reactivated["data"] == on


def test_one_request_that_deactivates_and_changes_more_records_updated_then_deactivated(
    client: TestClient, world: World, headers: dict[str, str]
) -> None:
    created = _create(client, headers, "jo@a.test", title="Clerk")
    start = feed_end(world)
    patched = _patch(
        client,
        headers,
        created["id"],
        {"op": "replace", "value": {"active": False, "title": "Former clerk"}},
    )

    updated, deactivated = recorded(world.runtime, start)
    assert (updated["type"], updated["changes"]) == ("user.updated", {"attributes": ["title"]})
    assert deactivated["type"] == "user.deactivated"
    assert deactivated["changes"] == {"attributes": ["active"]}
    assert updated["data"] == deactivated["data"] == patched


def test_delete_records_user_deleted_with_the_user_as_it_was(
    client: TestClient, world: World, headers: dict[str, str]
) -> None:
    created = _create(client, headers, "jo@a.test", displayName="Jo")
    group = client.post(
        "/scim/v2/Groups",
        json={"displayName": "Staff", "members": [{"value": created["id"]}]},
        headers=headers,
    )
    assert group.status_code == 201, group.text
    as_read = client.get(f"/scim/v2/Users/{created['id']}", headers=headers).json()
    assert as_read["groups"][0]["value"] == group.json()["id"]
    start = feed_end(world)
    assert client.delete(f"/scim/v2/Users/{created['id']}", headers=headers).status_code == 204

    [event] = recorded(world.runtime, start)
    assert event["type"] == "user.deleted"
    assert event["data"] == as_read
    assert "changes" not in event


@pytest.mark.parametrize(
    ("method", "path", "body", "status"),
    [
        ("POST", "/scim/v2/Users", {"schemas": [USER_URN], "userName": "taken@a.test"}, 409),
        ("POST", "/scim/v2/Users", {"schemas": [USER_URN], "userName": 42}, 400),
        ("PATCH", "{user}", patch_body({"op": "replace", "path": "userName", "value": "x"}), 412),
        ("PUT", "{user}", {"schemas": [USER_URN], "userName": "taken@a.test"}, 412),
        ("DELETE", "{user}", None, 412),
    ],
)
def test_a_refused_change_records_nothing(
    client: TestClient,
    world: World,
    headers: dict[str, str],
    method: str,
    path: str,
    body: Any,
    status: int,
) -> None:
    user = _create(client, headers, "taken@a.test")
    start = feed_end(world)
    stale = {"If-Match": 'W/"stale"'} if path == "{user}" else {}
    response = client.request(
        method,
        path.replace("{user}", f"/scim/v2/Users/{user['id']}"),
        json=body,
        headers={**headers, **stale},
    )
    assert response.status_code == status, response.text
    assert recorded(world.runtime, start) == []


def test_a_deactivation_refused_for_the_last_promaster_records_nothing(
    client: TestClient, world: World, headers: dict[str, str]
) -> None:
    """The rule that a site keeps an active Promaster refuses (409) after reading the user."""
    found = client.get(
        "/scim/v2/Users", params={"filter": 'userName eq "bob@b.test"'}, headers=headers
    )
    assert found.json()["totalResults"] == 0  # another site's user is absent
    promasters = [world.promaster_a, world.promaster_a2]
    ids = []
    for email in promasters:
        listed = client.get(
            "/scim/v2/Users", params={"filter": f'userName eq "{email}"'}, headers=headers
        )
        ids.append(listed.json()["Resources"][0]["id"])
    start = feed_end(world)
    _patch(client, headers, ids[1], {"op": "replace", "path": "active", "value": False})
    refused = client.patch(
        f"/scim/v2/Users/{ids[0]}",
        json=patch_body({"op": "replace", "path": "active", "value": False}),
        headers=headers,
    )
    assert refused.status_code == 409, refused.text
    assert types_after(world.runtime, start) == ["user.deactivated"]


def test_a_rolled_back_transaction_or_savepoint_keeps_no_event_of_a_creation(
    world: World, entra: IssuedToken
) -> None:
    runtime = world.runtime
    token = authenticate(runtime, entra.value)
    start = feed_end(world)

    def create(name: str) -> None:
        with runtime.db.transaction(write=True) as session:
            try:
                with session.begin_nested():
                    body = {"schemas": [USER_URN], "userName": f"{name}-savepoint@a.test"}
                    user_creation.create_user(session, runtime, token, body, base_url="http://x")
                    raise LookupError("the operation failed after its change")
            except LookupError:
                pass
            body = {"schemas": [USER_URN], "userName": f"{name}@a.test"}
            user_creation.create_user(session, runtime, token, body, base_url="http://x")
            if name == "lost":
                raise LookupError("the request failed after its change")

    with pytest.raises(LookupError, match="the request failed"):
        create("lost")
    create("kept")
    names = [event["data"]["userName"] for event in recorded(runtime, start)]
    assert names == ["kept@a.test"]

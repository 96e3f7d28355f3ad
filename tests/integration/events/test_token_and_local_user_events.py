"""Tokens made and revoked through the JSON API and the CLI, and local users made by the CLI,
record their events with the Promaster (or the command line) as actor and no secret."""

from __future__ import annotations

from typing import Any

from starlette.testclient import TestClient

from sitescim.services.sites import actor_by_email
from tests.factories import sign_in
from tests.integration.cli.calls import create_token, ok_json
from tests.integration.events.recorded import feed_end, recorded, stored_text
from tests.world import START, World

PUBLIC_FIELDS = {
    "id",
    "description",
    "scope",
    "created_by",
    "created_by_id",
    "created_at",
    "expires_at",
    "last_used_at",
    "status",
    "revoked_at",
    "revoked_by",
}


def _person(world: World, email: str) -> dict[str, Any]:
    with world.runtime.db.transaction(write=False) as session:
        actor = actor_by_email(session, site_slug="site-a", email=email)
    return {"type": "user", "id": actor.user_id, "label": email}


def test_token_created_and_revoked_through_the_api(client: TestClient, world: World) -> None:
    sign_in(client, "site-a", world.promaster_a, world.password)
    start = feed_end(world)
    created = client.post("/api/v1/tokens", json={"description": "Entra ID", "scope": "scim"})
    assert created.status_code == 201, created.text
    token_id, value = created.json()["id"], created.json()["token"]
    revoked = client.delete(f"/api/v1/tokens/{token_id}")
    assert revoked.status_code == 200, revoked.text

    made, gone = recorded(world.runtime, start)
    ada = _person(world, world.promaster_a)
    assert made["type"] == "token.created"
    assert made["site"] == {"id": world.site_a, "slug": "site-a"}
    assert made["actor"] == gone["actor"] == ada
    assert set(made["data"]) == set(gone["data"]) == PUBLIC_FIELDS
    assert made["data"]["id"] == gone["data"]["id"] == token_id
    assert made["data"]["status"] == "active"
    assert made["data"]["created_by"] == world.promaster_a
    assert made["data"]["created_at"] == START.isoformat().replace("+00:00", "Z")
    assert gone["type"] == "token.revoked"
    assert gone["data"]["status"] == "revoked"
    assert gone["data"]["revoked_by"] == world.promaster_a
    assert value not in stored_text(world.runtime)


def test_revoking_twice_records_one_revocation(client: TestClient, world: World) -> None:
    sign_in(client, "site-a", world.promaster_a, world.password)
    token_id = client.post("/api/v1/tokens", json={"description": "Okta"}).json()["id"]
    start = feed_end(world)
    for _ in range(2):
        assert client.delete(f"/api/v1/tokens/{token_id}").status_code == 200
    assert [event["type"] for event in recorded(world.runtime, start)] == ["token.revoked"]


def test_a_refused_token_creation_records_nothing(client: TestClient, world: World) -> None:
    sign_in(client, "site-a", world.promaster_a, world.password)
    assert client.post("/api/v1/tokens", json={"description": "first"}).status_code == 201
    start = feed_end(world)
    second = client.post("/api/v1/tokens", json={"description": "second"})
    assert second.status_code == 409, second.text
    assert recorded(world.runtime, start) == []


def test_token_created_and_revoked_through_the_cli(cli: Any, world: World) -> None:
    start = feed_end(world)
    token = create_token(cli, description="From the CLI")
    ok_json(
        cli("token", "revoke", token["id"], "--site", "site-a", "--as", world.promaster_a, "--json")
    )

    made, gone = recorded(world.runtime, start)
    assert (made["type"], gone["type"]) == ("token.created", "token.revoked")
    assert made["actor"] == gone["actor"] == _person(world, world.promaster_a)
    assert made["data"]["description"] == "From the CLI"
    assert token["token"] not in stored_text(world.runtime)


def test_a_local_user_made_by_the_cli_records_user_created(cli: Any, world: World) -> None:
    start = feed_end(world)
    password = "a local passphrase"
    made = ok_json(
        cli(
            "user",
            "create",
            "kim@a.test",
            "--site",
            "site-a",
            "--privilege",
            "promaster",
            "--password",
            password,
            "--json",
        )
    )

    [event] = recorded(world.runtime, start)
    assert event["type"] == "user.created"
    assert event["site"] == {"id": world.site_a, "slug": "site-a"}
    assert event["actor"] == {"type": "system", "id": None, "label": "sitescim"}
    assert event["data"]["id"] == made["id"]
    assert event["data"]["userName"] == "kim@a.test"
    assert event["data"]["meta"]["location"] == f"/scim/v2/Users/{made['id']}"
    assert password not in stored_text(world.runtime)

"""Token rules T10-T11: tokens are site-scoped and outlive a change of their creator;
through the management API and SCIM bearer auth, on SQLite and PostgreSQL (the ``db_url`` fixture).
"""

from __future__ import annotations

from sitescim.services import tokens as token_service
from tests.factories import make_token, sign_in
from tests.integration.token_rules.calls import (
    TOKENS,
    audit_events,
    audit_rows,
    change_user,
    create,
    create_ok,
    delete_user,
    listed_by_id,
    scim_status,
    token_rows,
)

# T10: tokens and their management are site-scoped


def test_promaster_of_another_site_cannot_revoke_and_gets_404(client, world, database):
    issued = make_token(world.runtime, "site-a", world.promaster_a)
    sign_in(client, "site-b", world.promaster_b, world.password)

    foreign = client.delete(f"{TOKENS}/{issued.id}")
    absent = client.delete(f"{TOKENS}/00000000-0000-0000-0000-000000000000")

    assert foreign.status_code == 404
    assert foreign.json() == absent.json()
    assert absent.status_code == 404
    assert scim_status(client, issued.value) == 200
    [row] = token_rows(database)
    assert row["revoked_at"] is None
    assert audit_rows(database, "token.revoke") == []


def test_listing_shows_only_own_site_tokens(client, world):
    a_token = make_token(world.runtime, "site-a", world.promaster_a)
    b_token = make_token(world.runtime, "site-b", world.promaster_b)

    sign_in(client, "site-b", world.promaster_b, world.password)
    seen_by_b = set(listed_by_id(client))
    b_audit = audit_events(client)
    sign_in(client, "site-a", world.promaster_a, world.password)
    seen_by_a = set(listed_by_id(client))

    assert seen_by_b == {b_token.id}
    assert seen_by_a == {a_token.id}
    assert a_token.id not in {event["target_id"] for event in b_audit}


# T11: a token outlives a change of its creator


def test_token_keeps_working_when_creator_is_demoted(client, world, database):
    issued = make_token(world.runtime, "site-a", world.promaster_a)

    change_user(database, world.promaster_a, privilege="user")

    assert scim_status(client, issued.value) == 200
    sign_in(client, "site-a", world.promaster_a, world.password)
    assert client.get(TOKENS).status_code == 403
    sign_in(client, "site-a", world.promaster_a2, world.password)
    shown = listed_by_id(client)[issued.id]
    assert shown["creator_is_promaster"] is False
    assert shown["status"] == "active"
    assert shown["created_by"] == world.promaster_a


def test_token_keeps_working_when_creator_is_deactivated(client, world, database):
    issued = make_token(world.runtime, "site-a", world.promaster_a)

    change_user(database, world.promaster_a, active=False)

    assert scim_status(client, issued.value) == 200
    sign_in(client, "site-a", world.promaster_a2, world.password)
    shown = listed_by_id(client)[issued.id]
    assert shown["creator_is_promaster"] is False
    assert shown["status"] == "active"


def test_token_keeps_working_when_creator_is_deleted(client, world, database, runtime):
    issued = make_token(world.runtime, "site-a", world.promaster_a)

    delete_user(database, world.promaster_a)

    assert scim_status(client, issued.value) == 200
    assert token_service.authenticate(runtime, issued.value).site_id == world.site_a
    sign_in(client, "site-a", world.promaster_a2, world.password)
    shown = listed_by_id(client)[issued.id]
    assert shown["creator_is_promaster"] is False
    assert shown["created_by"] == world.promaster_a
    assert shown["created_by_id"] is None
    assert shown["status"] == "active"
    assert client.delete(f"{TOKENS}/{issued.id}").status_code == 200
    assert scim_status(client, issued.value) == 401


def test_repromoted_creator_still_holds_the_first_token(client, world, database):
    first = make_token(world.runtime, "site-a", world.promaster_a)
    change_user(database, world.promaster_a, privilege="user")
    sign_in(client, "site-a", world.promaster_a, world.password)
    assert create(client, "While demoted").status_code == 403
    change_user(database, world.promaster_a, privilege="promaster")

    again = create(client, "Second")

    assert again.status_code == 409
    assert "revoke" in again.json()["detail"].lower()
    assert client.delete(f"{TOKENS}/{first.id}").status_code == 200
    second = create_ok(client, "Second")
    assert scim_status(client, second["token"]) == 200
    assert len(token_rows(database)) == 2

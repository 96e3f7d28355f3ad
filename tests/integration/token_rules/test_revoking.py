"""Token rules T7-T8: every Promaster sees and may revoke the site's tokens, revocation is
immediate and kept as a record; through the management API and SCIM bearer auth, on SQLite and PostgreSQL (the ``db_url`` fixture).
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from starlette.testclient import TestClient

from sitescim.web.app import create_app
from tests.factories import bearer, make_token, sign_in
from tests.integration.token_rules.calls import (
    AUDIT,
    SCP,
    TOKENS,
    audit_rows,
    create_ok,
    instant,
    listed,
    listed_by_id,
    scim_status,
    token_rows,
)
from tests.world import START

# T7: every Promaster sees and may revoke all the site's tokens


def test_every_promaster_sees_all_site_tokens(client, world):
    ada = make_token(world.runtime, "site-a", world.promaster_a, "Ada's Entra ID")
    sign_in(client, "site-a", world.promaster_a2, world.password)
    alan = create_ok(client, "Alan's Okta")

    tokens = listed_by_id(client)

    assert set(tokens) == {ada.id, alan["id"]}
    shown = tokens[ada.id]
    assert shown["description"] == "Ada's Entra ID"
    assert shown["scope"] == "scim"
    assert shown["created_by"] == world.promaster_a
    assert shown["creator_is_promaster"] is True
    assert shown["status"] == "active"
    assert shown["last_used_at"] is None
    assert instant(shown["expires_at"]) == START + timedelta(days=365)


def test_promaster_may_revoke_another_promasters_token(client, world):
    ada = make_token(world.runtime, "site-a", world.promaster_a)
    sign_in(client, "site-a", world.promaster_a2, world.password)

    response = client.delete(f"{TOKENS}/{ada.id}")

    assert response.status_code == 200
    assert response.json()["status"] == "revoked"
    assert response.json()["revoked_by"] == world.promaster_a2
    assert scim_status(client, ada.value) == 401


@pytest.mark.parametrize("who", ["user_a", "analyst_a"])
def test_non_promaster_can_neither_list_nor_revoke(client, world, database, who):
    issued = make_token(world.runtime, "site-a", world.promaster_a)
    sign_in(client, "site-a", getattr(world, who), world.password)

    listing = client.get(TOKENS)
    revoking = client.delete(f"{TOKENS}/{issued.id}")

    assert listing.status_code == 403
    assert "tokens" not in listing.json()
    assert revoking.status_code == 403
    assert scim_status(client, issued.value) == 200
    [row] = token_rows(database)
    assert row["revoked_at"] is None
    assert client.get(AUDIT).status_code == 403


# T8: revocation is immediate and kept as a record


def test_revoked_token_fails_on_the_very_next_call(client, world):
    sign_in(client, "site-a", world.promaster_a, world.password)
    created = create_ok(client)
    assert scim_status(client, created["token"]) == 200

    assert client.delete(f"{TOKENS}/{created['id']}").status_code == 200

    response = client.get(SCP, headers=bearer(created["token"]))
    assert response.status_code == 401
    assert response.json()["status"] == "401"


def test_revocation_takes_effect_on_every_instance(client, world, settings, clock):
    issued = make_token(world.runtime, "site-a", world.promaster_a)
    other_instance = create_app(settings, clock=clock)  # its own engine and pool
    with TestClient(other_instance) as other:
        assert scim_status(other, issued.value) == 200
        sign_in(client, "site-a", world.promaster_a2, world.password)

        assert client.delete(f"{TOKENS}/{issued.id}").status_code == 200

        assert scim_status(other, issued.value) == 401
        assert scim_status(client, issued.value) == 401


def test_revoked_token_is_kept_as_a_record(client, world, clock, database):
    issued = make_token(world.runtime, "site-a", world.promaster_a)
    sign_in(client, "site-a", world.promaster_a2, world.password)
    clock.advance(hours=5)

    client.delete(f"{TOKENS}/{issued.id}")

    [shown] = listed(client)
    assert shown["id"] == issued.id
    assert shown["status"] == "revoked"
    assert shown["revoked_by"] == world.promaster_a2
    assert instant(shown["revoked_at"]) == START + timedelta(hours=5)
    assert shown["created_by"] == world.promaster_a
    [row] = token_rows(database)
    assert row["revoked_at"] is not None
    assert row["revoked_by_label"] == world.promaster_a2
    assert row["active_holder_id"] is None


def test_revoking_twice_is_harmless(client, world, clock, database):
    issued = make_token(world.runtime, "site-a", world.promaster_a)
    sign_in(client, "site-a", world.promaster_a, world.password)
    first = client.delete(f"{TOKENS}/{issued.id}")
    clock.advance(hours=1)
    sign_in(client, "site-a", world.promaster_a2, world.password)

    second = client.delete(f"{TOKENS}/{issued.id}")

    assert first.status_code == second.status_code == 200
    assert second.json()["status"] == "revoked"
    assert second.json()["revoked_at"] == first.json()["revoked_at"]
    assert second.json()["revoked_by"] == world.promaster_a
    assert len(audit_rows(database, "token.revoke")) == 1
    assert scim_status(client, issued.value) == 401

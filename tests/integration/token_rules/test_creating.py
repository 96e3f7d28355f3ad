"""Token rules T1-T4: who may create a token, what it acts for, one active token per
Promaster, description and scope; through the management API and SCIM bearer auth, on SQLite and PostgreSQL (the ``db_url`` fixture).
"""

from __future__ import annotations

import pytest
from sqlalchemy.exc import IntegrityError

from sitescim.db.models import AccessToken
from sitescim.domain.tokens import PREFIX, expiry_for, generate_token, hash_token
from sitescim.services import tokens as token_service
from tests.factories import bearer, make_token, sign_in
from tests.integration.token_rules.calls import (
    AUDIT,
    TOKENS,
    audit_events,
    audit_rows,
    create,
    create_ok,
    listed,
    listed_by_id,
    scim_status,
    token_rows,
)
from tests.world import START

# T1: only a Promaster of the site may create a token


@pytest.mark.parametrize("who", ["user_a", "analyst_a"])
def test_non_promaster_cannot_create_token_and_refusal_is_audited(client, world, database, who):
    email = getattr(world, who)
    sign_in(client, "site-a", email, world.password)

    response = create(client, "Sneaky")

    assert response.status_code == 403
    assert "token" not in response.json()
    assert token_rows(database) == []
    refusals = [
        row
        for row in audit_rows(database, "token.create")
        if row["outcome"] == "refused" and row["actor_label"] == email
    ]
    assert len(refusals) == 1
    assert refusals[0]["site_id"] == world.site_a


def test_promaster_reads_refused_create_in_audit_log(client, world):
    sign_in(client, "site-a", world.user_a, world.password)
    assert create(client, "Sneaky").status_code == 403

    sign_in(client, "site-a", world.promaster_a, world.password)
    events = audit_events(client, "token.create")

    assert [(e["outcome"], e["actor_label"]) for e in events] == [("refused", world.user_a)]


def test_promaster_may_create_token(client, world, database):
    sign_in(client, "site-a", world.promaster_a, world.password)

    created = create_ok(client)

    assert created["token"].startswith(PREFIX)
    [row] = token_rows(database)
    assert row["id"] == created["id"]
    assert row["site_id"] == world.site_a


# T2: the token is the site's, and never signs anyone in to the management API


def test_token_acts_for_its_site_not_for_a_person(client, world, runtime):
    sign_in(client, "site-a", world.promaster_a, world.password)
    value = create_ok(client)["token"]

    found = token_service.authenticate(runtime, value)

    assert scim_status(client, value) == 200
    assert found.site_id == world.site_a
    assert found.site_slug == "site-a"
    assert not hasattr(found, "user_id")


@pytest.mark.parametrize(
    ("method", "path"),
    [("GET", "/api/v1/session"), ("GET", TOKENS), ("GET", AUDIT), ("POST", TOKENS)],
)
def test_bearer_token_does_not_authenticate_management_api(client, world, database, method, path):
    issued = make_token(world.runtime, "site-a", world.promaster_a)

    response = client.request(
        method, path, headers=bearer(issued.value), json={"description": "Via bearer"}
    )

    assert response.status_code == 401
    assert len(token_rows(database)) == 1


# T3: at most one active token per Promaster


def test_second_active_token_is_refused(client, world, database):
    sign_in(client, "site-a", world.promaster_a, world.password)
    first = create_ok(client, "Entra ID")

    response = create(client, "Okta")

    assert response.status_code == 409
    assert "revoke" in response.json()["detail"].lower()
    assert first["token"] not in response.text
    assert [row["id"] for row in token_rows(database)] == [first["id"]]
    refused = [r for r in audit_rows(database, "token.create") if r["outcome"] == "refused"]
    assert len(refused) == 1


def test_create_works_again_after_revoking_the_active_token(client, world):
    sign_in(client, "site-a", world.promaster_a, world.password)
    first = create_ok(client, "Entra ID")
    assert client.delete(f"{TOKENS}/{first['id']}").status_code == 200

    second = create_ok(client, "Okta")

    assert second["id"] != first["id"]
    assert scim_status(client, second["token"]) == 200
    assert scim_status(client, first["token"]) == 401


def test_expired_token_does_not_block_a_new_one(client, world, clock):
    sign_in(client, "site-a", world.promaster_a, world.password)
    first = create_ok(client, "Entra ID")
    clock.advance(days=366)

    second = create_ok(client, "Okta")

    tokens = listed_by_id(client)
    assert tokens[first["id"]]["status"] == "expired"
    assert tokens[second["id"]]["status"] == "active"
    assert create(client, "Third").status_code == 409


def test_each_promaster_of_a_site_holds_their_own_token(client, world):
    sign_in(client, "site-a", world.promaster_a, world.password)
    ada = create_ok(client, "Ada's Entra ID")
    sign_in(client, "site-a", world.promaster_a2, world.password)

    alan = create_ok(client, "Alan's Okta")

    assert scim_status(client, ada["token"]) == 200
    assert scim_status(client, alan["token"]) == 200
    assert create(client, "Alan again").status_code == 409


def test_database_refuses_two_active_tokens_for_one_holder(world, database):
    issued = make_token(world.runtime, "site-a", world.promaster_a)
    [row] = [r for r in token_rows(database) if r["id"] == issued.id]

    with pytest.raises(IntegrityError), database.transaction(write=True) as session:
        session.add(
            AccessToken(
                site_id=world.site_a,
                token_hash=hash_token(generate_token(), world.runtime.pepper),
                description="Raced",
                scope="scim",
                created_by_id=row["created_by_id"],
                created_by_label=row["created_by_label"],
                active_holder_id=row["active_holder_id"],
                created_at=START,
                expires_at=expiry_for(START),
            )
        )
    assert len(token_rows(database)) == 1


# T4: description and scope


def test_description_is_trimmed(client, world):
    sign_in(client, "site-a", world.promaster_a, world.password)

    created = create_ok(client, "   Entra ID production \t ")

    assert created["description"] == "Entra ID production"
    assert [t["description"] for t in listed(client)] == ["Entra ID production"]


@pytest.mark.parametrize("text", ["d" * 100, "é" * 100, "x"], ids=["ascii", "accented", "one"])
def test_description_of_1_to_100_characters_is_accepted(client, world, database, text):
    sign_in(client, "site-a", world.promaster_a, world.password)

    created = create_ok(client, "  " + text + "  ")

    assert created["description"] == text
    [row] = token_rows(database)
    assert row["description"] == text


@pytest.mark.parametrize(
    "description",
    ["d" * 101, "é" * 101, "", "   ", "\t\n ", "Entra\x07ID", None, 42],
    ids=["101-chars", "101-accented", "empty", "spaces", "whitespace", "control", "null", "number"],
)
def test_bad_description_is_refused_with_its_field(client, world, database, description):
    sign_in(client, "site-a", world.promaster_a, world.password)

    response = create(client, description)

    assert response.status_code == 400
    assert response.json()["field"] == "description"
    assert token_rows(database) == []
    assert audit_rows(database, "token.create") == []


def test_missing_description_is_refused_with_its_field(client, world, database):
    sign_in(client, "site-a", world.promaster_a, world.password)

    response = client.post(TOKENS, json={"scope": "scim"})

    assert response.status_code == 400
    assert response.json()["field"] == "description"
    assert token_rows(database) == []


@pytest.mark.parametrize("scope", ["admin", "SCIM", "", "legacy"])
def test_unknown_scope_is_refused_with_its_field(client, world, database, scope):
    sign_in(client, "site-a", world.promaster_a, world.password)

    response = create(client, "Entra ID", scope)

    assert response.status_code == 400
    body = response.json()
    assert body["field"] == "scope"
    assert "scim" in body["detail"]
    assert token_rows(database) == []


def test_scope_defaults_to_scim_and_is_listed(client, world):
    sign_in(client, "site-a", world.promaster_a, world.password)

    created = client.post(TOKENS, json={"description": "Entra ID"})

    assert created.status_code == 201
    assert created.json()["scope"] == "scim"
    assert client.get("/api/v1/token-scopes").json() == [{"name": "scim", "label": "SCIM"}]

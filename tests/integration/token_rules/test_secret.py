"""Token rule T5: the secret is shown once and only a keyed hash is kept; through
the management API and SCIM bearer auth, on SQLite and PostgreSQL (the ``db_url`` fixture).
"""

from __future__ import annotations

import logging

from sitescim.domain.tokens import PREFIX, hash_token, is_well_formed
from tests.factories import bearer, sign_in
from tests.integration.token_rules.calls import (
    AUDIT,
    SCP,
    TOKENS,
    audit_rows,
    create,
    create_ok,
    scim_status,
    token_rows,
)


def test_token_value_appears_only_in_the_create_response(client, world, database, caplog):
    caplog.set_level(logging.DEBUG)
    sign_in(client, "site-a", world.promaster_a, world.password)
    created = client.post(TOKENS, json={"description": "Entra ID"})
    value = created.json()["token"]
    assert is_well_formed(value)
    assert created.headers["cache-control"] == "no-store"

    token_id = created.json()["id"]
    used = client.get(SCP, headers=bearer(value))
    listing = client.get(TOKENS)
    conflict = create(client, "Second")
    revoked = client.delete(f"{TOKENS}/{token_id}")
    refused = client.get(SCP, headers=bearer(value))
    audit = client.get(AUDIT)

    responses = {
        "used": used,
        "listing": listing,
        "conflict": conflict,
        "revoked": revoked,
        "refused": refused,
        "audit": audit,
    }
    assert {name: response.status_code for name, response in responses.items()} == {
        "used": 200,
        "listing": 200,
        "conflict": 409,
        "revoked": 200,
        "refused": 401,
        "audit": 200,
    }
    assert token_id in listing.text
    assert {"token.create", "token.revoke"} <= {event["action"] for event in audit.json()["events"]}
    for name, response in responses.items():
        assert value not in response.text, name
    for record in caplog.records:
        assert value not in record.getMessage()
        assert value not in repr(vars(record))


def test_only_a_keyed_hash_of_the_value_is_stored(client, world, database, runtime):
    sign_in(client, "site-a", world.promaster_a, world.password)
    value = create_ok(client)["token"]
    assert scim_status(client, value) == 200

    [row] = token_rows(database)

    assert row["token_hash"] == hash_token(value, runtime.pepper)
    assert row["token_hash"] != hash_token(value, b"another pepper")
    for column, stored in row.items():
        assert value not in str(stored), column
        assert value[len(PREFIX) :] not in str(stored), column


def test_audit_rows_never_contain_the_value(client, world, database):
    sign_in(client, "site-a", world.promaster_a, world.password)
    created = create_ok(client)
    value = created["token"]
    client.get(SCP, headers=bearer(value))
    client.delete(f"{TOKENS}/{created['id']}")
    client.get(SCP, headers=bearer(value))
    client.get(SCP, headers=bearer(value[:-1]))

    rows = audit_rows(database)

    assert {"token.create", "token.revoke", "auth.failed"} <= {row["action"] for row in rows}
    for row in rows:
        assert value[len(PREFIX) : -1] not in repr(row)


def test_listing_never_contains_the_value(client, world):
    sign_in(client, "site-a", world.promaster_a, world.password)
    value = create_ok(client)["token"]

    response = client.get(TOKENS)

    assert value not in response.text
    [token] = response.json()["tokens"]
    assert "token" not in token
    assert "token_hash" not in token

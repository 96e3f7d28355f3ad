"""SCIM bearer authentication: 401/403 answers, schemes, recorded last use; through
the management API and SCIM bearer auth, on SQLite and PostgreSQL (the ``db_url`` fixture).
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from sitescim.db.models import AccessToken
from sitescim.domain.tokens import expiry_for, generate_token, hash_token
from tests.factories import bearer, make_token, sign_in
from tests.integration.token_rules.calls import (
    ERROR_SCHEMA,
    SCP,
    TOKENS,
    instant,
    listed_by_id,
    scim_status,
)
from tests.world import START


def test_missing_token_gets_scim_401_with_bearer_challenge(client, world):
    response = client.get(SCP)

    assert response.status_code == 401
    assert response.headers["content-type"].startswith("application/scim+json")
    assert response.headers["www-authenticate"].startswith("Bearer")
    body = response.json()
    assert ERROR_SCHEMA in body["schemas"]
    assert body["status"] == "401"


@pytest.mark.parametrize(
    "header",
    ["Basic dXNlcjpwYXNz", "Bearer", "Bearer    ", "Token sscim_abc", "bearer-ish xyz"],
)
def test_other_authorization_schemes_get_401(client, world, header):
    response = client.get(SCP, headers={"Authorization": header})

    assert response.status_code == 401
    assert response.headers["www-authenticate"].startswith("Bearer")
    assert response.json()["status"] == "401"


def test_basic_scheme_carrying_a_valid_token_is_refused(client, world):
    issued = make_token(world.runtime, "site-a", world.promaster_a)

    response = client.get(SCP, headers={"Authorization": f"Basic {issued.value}"})

    assert response.status_code == 401


def test_bearer_scheme_name_is_case_insensitive(client, world):
    issued = make_token(world.runtime, "site-a", world.promaster_a)

    response = client.get(SCP, headers={"Authorization": f"bearer {issued.value}"})

    assert response.status_code == 200


def test_token_with_scope_outside_the_list_gets_403_insufficient_scope(
    client, world, database, runtime
):
    value = generate_token()
    with database.transaction(write=True) as session:
        session.add(
            AccessToken(
                site_id=world.site_a,
                token_hash=hash_token(value, runtime.pepper),
                description="From an older release",
                scope="legacy",
                created_by_label="someone@a.test",
                created_at=START,
                expires_at=expiry_for(START),
            )
        )

    response = client.get(SCP, headers=bearer(value))

    assert response.status_code == 403
    assert "insufficient_scope" in response.headers["www-authenticate"]
    assert response.headers["content-type"].startswith("application/scim+json")
    body = response.json()
    assert ERROR_SCHEMA in body["schemas"]
    assert body["status"] == "403"


def test_unknown_scim_path_needs_a_token_first(client, world):
    issued = make_token(world.runtime, "site-a", world.promaster_a)

    anonymous = client.get("/scim/v2/Nope")
    authenticated = client.get("/scim/v2/Nope", headers=bearer(issued.value))

    assert anonymous.status_code == 401
    assert authenticated.status_code == 404
    assert authenticated.headers["content-type"].startswith("application/scim+json")
    assert ERROR_SCHEMA in authenticated.json()["schemas"]
    assert authenticated.json()["status"] == "404"


def test_last_use_is_recorded_at_most_once_a_minute(client, world, clock):
    issued = make_token(world.runtime, "site-a", world.promaster_a)
    sign_in(client, "site-a", world.promaster_a, world.password)
    assert listed_by_id(client)[issued.id]["last_used_at"] is None

    clock.advance(minutes=10)
    assert scim_status(client, issued.value) == 200
    first = listed_by_id(client)[issued.id]
    clock.advance(seconds=59)
    assert scim_status(client, issued.value) == 200
    unchanged = listed_by_id(client)[issued.id]
    clock.advance(seconds=2)
    assert scim_status(client, issued.value) == 200
    updated = listed_by_id(client)[issued.id]

    used_at = START + timedelta(minutes=10)
    assert instant(first["last_used_at"]) == used_at
    assert first["last_used_from"] == "testclient"
    assert instant(unchanged["last_used_at"]) == used_at
    assert instant(updated["last_used_at"]) == used_at + timedelta(seconds=61)
    assert updated["last_used_from"] == "testclient"


def test_failed_authentication_does_not_record_use(client, world, clock):
    issued = make_token(world.runtime, "site-a", world.promaster_a)
    sign_in(client, "site-a", world.promaster_a, world.password)
    client.delete(f"{TOKENS}/{issued.id}")

    clock.advance(minutes=5)
    assert scim_status(client, issued.value) == 401

    assert listed_by_id(client)[issued.id]["last_used_at"] is None

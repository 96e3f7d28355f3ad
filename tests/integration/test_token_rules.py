"""The token rules T1-T11 of SPEC section 1, through the management API and SCIM bearer auth.

Every test runs on SQLite and on PostgreSQL (the ``db_url`` fixture). The only
fake is the clock; rows are read and, where a rule is about what happens when
someone else changes the data (a demoted creator, a legacy scope), written with
the ``database`` fixture.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import delete, event, func, select, update
from sqlalchemy.exc import IntegrityError
from starlette.testclient import TestClient

from sitescim.db.models import AccessToken, AuditEvent, User
from sitescim.domain.tokens import (
    ALPHABET,
    PREFIX,
    TOKEN_LENGTH,
    expiry_for,
    generate_token,
    hash_token,
    is_well_formed,
)
from sitescim.logs import request_id
from sitescim.services import sites
from sitescim.services import tokens as token_service
from sitescim.web.app import create_app
from tests.factories import bearer, make_token, sign_in
from tests.world import START

SCP = "/scim/v2/ServiceProviderConfig"
TOKENS = "/api/v1/tokens"
AUDIT = "/api/v1/audit"
ERROR_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:Error"


# Helpers


def create(client, description: Any = "Entra ID", scope: Any = "scim"):
    return client.post(TOKENS, json={"description": description, "scope": scope})


def create_ok(client, description: str = "Entra ID") -> dict[str, Any]:
    response = create(client, description)
    assert response.status_code == 201, response.text
    return response.json()


def listed(client) -> list[dict[str, Any]]:
    response = client.get(TOKENS)
    assert response.status_code == 200, response.text
    return response.json()["tokens"]


def listed_by_id(client) -> dict[str, dict[str, Any]]:
    return {token["id"]: token for token in listed(client)}


def scim_status(client, value: str) -> int:
    return client.get(SCP, headers=bearer(value)).status_code


def audit_events(client, action: str | None = None) -> list[dict[str, Any]]:
    params = {"action": action} if action else {}
    response = client.get(AUDIT, params=params)
    assert response.status_code == 200, response.text
    return response.json()["events"]


def token_rows(database) -> list[dict[str, Any]]:
    with database.engine.connect() as connection:
        rows = connection.execute(select(AccessToken.__table__)).mappings().all()
    return [dict(row) for row in rows]


def audit_rows(database, action: str | None = None) -> list[dict[str, Any]]:
    query = select(AuditEvent.__table__).order_by(AuditEvent.id)
    if action is not None:
        query = query.where(AuditEvent.action == action)
    with database.engine.connect() as connection:
        rows = connection.execute(query).mappings().all()
    return [dict(row) for row in rows]


def change_user(database, email: str, **values: Any) -> None:
    with database.transaction(write=True) as session:
        session.execute(update(User).where(User.user_name_key == email.casefold()).values(**values))


def delete_user(database, email: str) -> None:
    with database.transaction(write=True) as session:
        session.execute(delete(User).where(User.user_name_key == email.casefold()))


def instant(text: str) -> datetime:
    return datetime.fromisoformat(text)


@contextmanager
def recorded_statements(database, rid: str | None = None) -> Iterator[list[str]]:
    """SQL run meanwhile; with ``rid``, only on behalf of the request sent with that id.

    The request id is a context variable, so statements the app runs for other
    reasons meanwhile (the expiry warner started with the app) are not counted.
    """
    seen: list[str] = []

    def listener(conn, cursor, statement, parameters, context, executemany) -> None:
        if rid is None or request_id.get() == rid:
            seen.append(statement)

    for engine in database.engines:  # the main pool and the hot-read pool
        event.listen(engine, "before_cursor_execute", listener)
    try:
        yield seen
    finally:
        for engine in database.engines:
            event.remove(engine, "before_cursor_execute", listener)


@contextmanager
def recorded_token_reads(client) -> Iterator[list[str]]:
    """Token lookups of the SCIM hot path, which reads through the driver, not SQLAlchemy."""
    reads = client.app.state.reads
    seen: list[str] = []
    original = reads.token

    async def token(token_hash: str):
        seen.append(token_hash)
        return await original(token_hash)

    reads.token = token
    try:
        yield seen
    finally:
        del reads.token


def touches_tokens(statements: list[str]) -> bool:
    return any("access_tokens" in statement.lower() for statement in statements)


def with_one_char_changed(value: str, index: int) -> str:
    current = value[index]
    replacement = ALPHABET[(ALPHABET.index(current) + 1) % len(ALPHABET)]
    return value[:index] + replacement + value[index + 1 :]


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


# T5: the secret is shown once; only a keyed hash is kept


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


# T6: one year of validity, expiry warnings


def test_token_expires_one_year_after_creation(client, world, database):
    sign_in(client, "site-a", world.promaster_a, world.password)

    created = create_ok(client)

    assert instant(created["created_at"]) == START
    assert instant(created["expires_at"]) == START + timedelta(days=365)
    [row] = token_rows(database)
    assert row["created_at"] == START
    assert row["expires_at"] == START + timedelta(days=365)


def test_expired_token_is_refused_like_a_revoked_one(client, world, clock):
    issued = make_token(world.runtime, "site-a", world.promaster_a)
    clock.advance(days=365, seconds=-1)
    assert scim_status(client, issued.value) == 200

    clock.advance(seconds=1)
    response = client.get(SCP, headers=bearer(issued.value))

    assert response.status_code == 401
    assert response.json()["schemas"] == [ERROR_SCHEMA]
    assert 'error="invalid_token"' in response.headers["www-authenticate"]


def test_list_shows_days_left_and_warns_within_30_days(client, world, clock):
    sign_in(client, "site-a", world.promaster_a, world.password)
    token_id = create_ok(client)["id"]

    fresh = listed_by_id(client)[token_id]
    clock.advance(days=334)
    not_yet = listed_by_id(client)[token_id]
    clock.advance(days=6)
    soon = listed_by_id(client)[token_id]
    clock.advance(days=26)
    expired = listed_by_id(client)[token_id]

    assert (fresh["days_left"], fresh["expires_soon"]) == (365, False)
    assert (not_yet["days_left"], not_yet["expires_soon"]) == (31, False)
    assert (soon["days_left"], soon["expires_soon"], soon["status"]) == (25, True, "active")
    assert (expired["days_left"], expired["expires_soon"], expired["status"]) == (
        0,
        False,
        "expired",
    )


def _expiry_warnings(caplog, token_id: str) -> list[logging.LogRecord]:
    return [
        record
        for record in caplog.records
        if record.levelno == logging.WARNING and getattr(record, "token_id", None) == token_id
    ]


def test_expiry_warning_is_logged_once_a_day_per_token(world, runtime, clock, caplog):
    caplog.set_level(logging.INFO, logger="sitescim")
    issued = make_token(world.runtime, "site-a", world.promaster_a)
    other = make_token(world.runtime, "site-a", world.promaster_a2)
    assert token_service.warn_expiring_tokens(runtime) == 0
    assert _expiry_warnings(caplog, issued.id) == []

    clock.advance(days=340)
    first = token_service.warn_expiring_tokens(runtime)
    second = token_service.warn_expiring_tokens(runtime)

    assert (first, second) == (2, 0)
    [warning] = _expiry_warnings(caplog, issued.id)
    assert warning.days_left == 25
    assert issued.value not in repr(vars(warning))
    assert len(_expiry_warnings(caplog, other.id)) == 1

    clock.advance(days=1)
    assert token_service.warn_expiring_tokens(runtime) == 2
    assert token_service.warn_expiring_tokens(runtime) == 0
    assert len(_expiry_warnings(caplog, issued.id)) == 2


def test_revoked_or_expired_tokens_get_no_expiry_warning(world, runtime, clock, caplog):
    # No app here: its own expiry check, started with it, would race this one.
    caplog.set_level(logging.INFO, logger="sitescim")
    issued = make_token(world.runtime, "site-a", world.promaster_a)
    with runtime.db.transaction(write=True) as session:
        alan = sites.actor_by_email(session, site_slug="site-a", email=world.promaster_a2)
        token_service.revoke_token(session, runtime, alan, issued.id)
    other = make_token(world.runtime, "site-a", world.promaster_a2)

    clock.advance(days=340)
    assert token_service.warn_expiring_tokens(runtime) == 1
    clock.advance(days=30)

    assert token_service.warn_expiring_tokens(runtime) == 0
    assert _expiry_warnings(caplog, issued.id) == []
    assert len(_expiry_warnings(caplog, other.id)) == 1


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


# T9: format, checksum and refusal without a database lookup


def test_token_value_has_prefix_length_and_checksum(client, world):
    sign_in(client, "site-a", world.promaster_a, world.password)

    value = create_ok(client)["token"]

    assert value.startswith("sscim_")
    assert len(value) == TOKEN_LENGTH
    assert set(value[len(PREFIX) :]) <= set(ALPHABET)
    assert is_well_formed(value)
    assert not is_well_formed(with_one_char_changed(value, 10))


def test_well_formed_unknown_token_is_looked_up(client, world, database):
    headers = {**bearer(generate_token()), "X-Request-Id": "t9-control"}

    with recorded_token_reads(client) as lookups:
        response = client.get(SCP, headers=headers)

    assert response.status_code == 401
    assert len(lookups) == 1


@pytest.mark.parametrize(
    "damage",
    ["random-char", "checksum-char", "truncated", "extended", "wrong-prefix", "bad-alphabet"],
)
def test_damaged_token_is_refused_without_database_lookup(client, world, database, damage):
    issued = make_token(world.runtime, "site-a", world.promaster_a)
    value = issued.value
    broken = {
        "random-char": with_one_char_changed(value, len(PREFIX) + 5),
        "checksum-char": with_one_char_changed(value, len(value) - 1),
        "truncated": value[:-1],
        "extended": value + "A",
        "wrong-prefix": "sscin_" + value[len(PREFIX) :],
        "bad-alphabet": value[:20] + "-" + value[21:],
    }[damage]
    assert broken != value

    rid = f"t9-{damage}"

    with (
        recorded_statements(database, rid) as statements,
        recorded_token_reads(client) as lookups,
    ):
        response = client.get(SCP, headers={**bearer(broken), "X-Request-Id": rid})

    assert response.status_code == 401
    assert response.json()["schemas"] == [ERROR_SCHEMA]
    assert statements, "the failed authentication is audited, so some SQL ran"
    assert not touches_tokens(statements), statements
    assert lookups == []
    assert scim_status(client, value) == 200


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


# SCIM authentication responses


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


# Audit log


def test_audit_log_lists_token_create_and_revoke(client, world, clock):
    sign_in(client, "site-a", world.promaster_a, world.password)
    created = create_ok(client, "Entra ID")
    clock.advance(minutes=1)
    sign_in(client, "site-a", world.promaster_a2, world.password)
    assert client.delete(f"{TOKENS}/{created['id']}").status_code == 200

    events = audit_events(client, "token.")

    summary = [
        (e["action"], e["outcome"], e["actor_label"], e["target_type"], e["target_id"])
        for e in events
    ]
    assert summary == [
        ("token.revoke", "success", world.promaster_a2, "token", created["id"]),
        ("token.create", "success", world.promaster_a, "token", created["id"]),
    ]
    assert all(e["actor_type"] == "user" for e in events)
    assert instant(events[1]["occurred_at"]) == START
    assert instant(events[0]["occurred_at"]) == START + timedelta(minutes=1)
    assert events[1]["detail"] == {"description": "Entra ID", "scope": "scim"}


def test_failed_use_of_a_revoked_token_is_audited_for_its_site(client, world):
    issued = make_token(world.runtime, "site-a", world.promaster_a, "Entra ID")
    sign_in(client, "site-a", world.promaster_a, world.password)
    client.delete(f"{TOKENS}/{issued.id}")

    assert scim_status(client, issued.value) == 401

    [failure] = audit_events(client, "auth.failed")
    assert failure["outcome"] == "failure"
    assert failure["actor_type"] == "token"
    assert failure["actor_id"] == issued.id
    assert failure["detail"] == {"reason": "revoked"}
    assert failure["client_address"] == "testclient"
    assert failure["count"] >= 1
    sign_in(client, "site-b", world.promaster_b, world.password)
    assert audit_events(client, "auth.failed") == []


def test_flood_of_bad_tokens_is_throttled_in_the_audit_log(client, world, database):
    bad = generate_token()

    with recorded_statements(database) as statements:
        statuses = {client.get(SCP, headers=bearer(bad)).status_code for _ in range(200)}

    assert statuses == {401}
    audit_writes = [s for s in statements if s.lstrip().upper().startswith("INSERT INTO AUDIT")]
    # The throttle writes at most once a second per key; 200 requests take well under 100 s.
    assert 1 <= len(audit_writes) < 100
    rows = audit_rows(database, "auth.failed")
    assert 1 <= len(rows) <= 2
    assert all(row["repeat_count"] >= 1 for row in rows)
    assert all(row["detail"] == {"reason": "unknown"} for row in rows)
    with database.engine.connect() as connection:
        total = connection.execute(
            select(func.sum(AuditEvent.repeat_count)).where(AuditEvent.action == "auth.failed")
        ).scalar_one()
    assert 1 <= total <= 200

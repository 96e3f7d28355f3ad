"""Token rule T6: one year of validity and expiry warnings; through
the management API and SCIM bearer auth, on SQLite and PostgreSQL (the ``db_url`` fixture).
"""

from __future__ import annotations

import logging
from datetime import timedelta

from sitescim.services import sites
from sitescim.services import tokens as token_service
from tests.factories import bearer, make_token, sign_in
from tests.integration.token_rules.calls import (
    ERROR_SCHEMA,
    SCP,
    create_ok,
    instant,
    listed_by_id,
    scim_status,
    token_rows,
)
from tests.world import START


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
